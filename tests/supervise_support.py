"""The supervision index and reconciliation over ape's test chain, for the stateful machines (issue 15: "rebuilt
state equals on-chain state after the stateful property tests' random runs").

`reconciled(web3, contracts)` indexes every event of ``contracts`` (ape contract instances, or the machines'
FastSender wrappers of them) from the block the first of them was deployed in to the head, into a fresh SQLite
file, rebuilds the ledger from those events alone, and reconciles it with the chain at the index's cursor. The
catalog is built as from a deployment record: each contract's name and ABI from its ape contract type, and its
deployment block. Test modules import it as `from supervise_support import ...`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tonne.supervise.catalog import catalog_of
from tonne.supervise.index import ChainReader, Indexer
from tonne.supervise.reconcile import Reconciliation, reconcile_index
from tonne.supervise.store import IndexStore


def record_of(chain_id: int, contracts: Iterable[Any]) -> dict[str, Any]:
    """A deployment record of ``contracts`` (name, address, ABI and deployment block of each)."""
    entries = {}
    for contract in contracts:
        abi = contract.contract_type.model_dump(mode="json", by_alias=True)["abi"]
        receipt = contract.creation_metadata.receipt if contract.creation_metadata else None
        entries[contract.contract_type.name] = {
            "address": str(contract.address),
            "abi": abi,
            "blockNumber": receipt.block_number if receipt is not None else 0,
        }
    return {"chainId": chain_id, "contracts": entries}


class Reconciler:
    """Reconciles one machine's chain at the end of each run, and keeps the time it took (``seconds``, ``runs``),
    so that the test can say what the check costs."""

    def __init__(self, web3: Any, contracts: Iterable[Any]):
        self.web3 = web3
        self.record = record_of(web3.eth.chain_id, contracts)
        self.seconds = 0.0
        self.indexing = 0.0  # of which indexing
        self.runs = 0
        self.events = 0

    def __call__(self) -> Reconciliation:
        started = time.perf_counter()
        reader = ChainReader(self.web3.provider, "ape's test chain")
        with tempfile.TemporaryDirectory(prefix="tonne-reconcile-") as folder:
            store = IndexStore(f"sqlite:///{Path(folder) / 'index.sqlite'}")
            try:
                indexer = Indexer(store, reader, catalog_of(self.record, "the machine's contracts"), max_range=10_000)
                indexer.bind()
                self.events += indexer.catch_up()
                self.indexing += time.perf_counter() - started
                result = reconcile_index(store, {indexer.chain_id: reader})
            finally:
                store.close()
        self.seconds += time.perf_counter() - started
        self.runs += 1
        return result

    def check(self) -> Reconciliation:
        """Reconcile, and fail on any alert (each as its JSON line)."""
        result = self()
        assert not result.alerts, "the rebuilt state differs from the chain:\n" + "\n".join(
            a.json_line() for a in result.alerts
        )
        assert sum(result.compared.values()) > 0, "the reconciliation compared nothing"
        return result

    def summary(self) -> str:
        per_run = self.seconds / self.runs if self.runs else 0.0
        return (
            f"reconciliation: {self.runs} runs, {self.events} events indexed, {self.seconds:.2f} s "
            f"({per_run * 1000:.0f} ms a run; indexing {self.indexing:.2f} s of it)"
        )
