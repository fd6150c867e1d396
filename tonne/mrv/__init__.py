"""MRV (issue 14): signed meter readings, their Merkle roots, and the off-chain tools that turn them into reports.

Off-chain core: ``readings`` (EIP-712 digest, signing, recovery, device ids), ``merkle`` (OpenZeppelin
StandardMerkleTree-compatible roots and proofs), ``simulate`` (a wind farm's signed readings, with faults),
``ingest`` (checked, streaming, idempotent ingest into a store), ``store`` (SQLite / PostgreSQL),
``aggregate`` (a device's period: total, gaps, root, proofs; verification), ``bench`` (ingest throughput).
See MRV-SPEC (docs/mrv.md) for the binding units and encodings.
"""
