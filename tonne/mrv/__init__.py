"""MRV: signed meter readings turned into verified registry batches by the CarbonMRV contract (docs/mrv.md).

Off-chain core: ``readings`` (EIP-712 digest, signing, recovery, device ids), ``merkle`` (OpenZeppelin
StandardMerkleTree-compatible roots and proofs), ``simulate`` (a wind farm's signed readings, with faults),
``ingest`` (checked, streaming, idempotent ingest into a store), ``store`` (SQLite / PostgreSQL),
``aggregate`` (a device's period: total, gaps, root, proofs; verification), ``bench`` (ingest throughput and gas).
Chain side: ``deploy`` (`ape run deploy --mrv`), ``chain`` (devices, factors, reports, verification and proofs
against CarbonMRV, each step safe to run again), ``demo`` (the demo's MRV step).
"""
