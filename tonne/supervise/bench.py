"""The supervision bench (issue 15): indexing speed over at least 100,000 events (target: 5,000 events/s), the
database's size per 100,000 events, and the time to rebuild the ledger, run the rules and write the report over
them (target for the report: under 30 s).

The chain is an Anvil of its own (the bench chain's 40,000 constancy transactions would slow its logs down): the
registry and credit token, one project, five verified batches, and ``events // 2`` issuance orders sent by
``issueMany`` 250 at a time, each order an ``Issued`` and a ``TransferSingle`` event, to 50 holders. The indexer
runs in a process of its own, which reports its wall and CPU time; the database is a fresh SQLite file.

    python -m tonne.supervise.bench 100000
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ORDERS_PER_TX = 250
HOLDERS = 50


def build_chain(w3: Any, admin: str, events: int) -> dict[str, Any]:
    """Deploy and fill the bench chain (see the module docstring); its deployment record."""
    from eth_utils import keccak, to_checksum_address

    from tonne.bridge.deploy import abi_of, deploy_home_suite, transact
    from tonne.core.ids import encode_id

    start = w3.eth.block_number
    suite = deploy_home_suite(w3, admin)
    registry, credit = suite.registry, suite.credit
    project = ("GS", "SUPERVISE-BENCH", "Bench Wind", "ACM0002", "Wind", b"CN", "Inner Mongolia", admin, "ipfs://b",
               b"\x11" * 32)  # fmt: skip
    transact(w3, registry.functions.registerProject(project), admin)
    project_id = registry.functions.projectCount().call()
    transact(w3, registry.functions.setProjectStatus(project_id, 2, "validated"), admin)
    transact(w3, registry.functions.setProjectIssuer(project_id, admin, True), admin)
    ids = []
    for n in range(5):
        first = n * 10**9 + 1
        transact(w3, registry.functions.addBatch(project_id, (first, first + 10**9 - 1, 1, 2, f"B-{n}", ""), n), admin)
        ids.append(encode_id(project_id, n + 1))
        transact(w3, registry.functions.verifyBatch(ids[-1]), admin)
    holders = [to_checksum_address(keccak(text=f"holder-{k}")[-20:]) for k in range(HOLDERS)]
    orders = events // 2
    sent = []
    nonce = w3.eth.get_transaction_count(admin)
    for k in range(0, orders, ORDERS_PER_TX):
        batch = [
            (ids[i % 5], holders[i % HOLDERS], 1_000 + i % 7, (i + 1).to_bytes(32, "big"))
            for i in range(k, min(orders, k + ORDERS_PER_TX))
        ]
        call = credit.functions.issueMany(batch)
        sent.append(w3.eth.send_transaction(call.build_transaction({"from": admin, "nonce": nonce, "gas": 29_000_000})))
        nonce += 1
    for tx in sent:
        assert w3.eth.wait_for_transaction_receipt(tx, timeout=600)["status"] == 1, "a bench issuance reverted"

    def entry(contract: Any, name: str) -> dict[str, Any]:
        return {"address": contract.address, "abi": abi_of(name), "blockNumber": start + 1}

    return {
        "chainId": w3.eth.chain_id,
        "contracts": {
            "CarbonRegistry": entry(registry, "CarbonRegistry"),
            "CarbonCredit": entry(credit, "CarbonCredit"),
        },
    }


_CHILD = """
import json, resource, sys, time
from web3 import Web3
from tonne.supervise.catalog import catalog_of
from tonne.supervise.index import ChainReader, Indexer
from tonne.supervise.store import IndexStore
url, record_path, db = sys.argv[1], sys.argv[2], sys.argv[3]
catalog = catalog_of(json.load(open(record_path)))
store = IndexStore(db)
indexer = Indexer(store, ChainReader(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}), url), catalog)
indexer.bind()
t = time.perf_counter()
stored = indexer.catch_up()
seconds = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"events": stored, "seconds": seconds, "cpu": me.ru_utime + me.ru_stime, "rss_kb": hwm}))
"""


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


def index_speed(rpc_url: str, record: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Index the bench chain into a fresh SQLite file in a child process; its figures and the file's size."""
    record_path, db = folder / "record.json", folder / "index.sqlite"
    record_path.write_text(json.dumps(record))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, rpc_url, str(record_path), f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the indexing run failed: {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    size = db.stat().st_size
    return {
        "events": figures["events"],
        "seconds": round(figures["seconds"], 2),
        "events_per_s": round(figures["events"] / figures["seconds"]),
        "cpu_seconds": round(figures["cpu"], 2),
        "peak_rss_mb": round(figures["rss_kb"] / 1024, 1),
        "db_bytes": size,
        "db_mb_per_100k_events": round(size / 1e6 * 100_000 / max(1, figures["events"]), 1),
        "db": db,
    }


def analysis_times(db: Path, folder: Path) -> dict[str, Any]:
    """What `supervise report` does over the index, timed by part: the ledger rebuilt from the stored events,
    the rules over it, and the HTML written; ``report_seconds`` is the three together (target: under 30 s)."""
    from tonne.supervise.ledger import Ledger
    from tonne.supervise.report import write_report
    from tonne.supervise.rules import evaluate
    from tonne.supervise.store import IndexStore

    store = IndexStore(f"sqlite:///{db}")
    t0 = time.perf_counter()
    ledger = Ledger.build(store.events(), store.sources())
    t1 = time.perf_counter()
    alerts = evaluate(ledger)
    t2 = time.perf_counter()
    out = write_report(ledger, alerts, folder / "report.html", sources=store)
    t3 = time.perf_counter()
    store.close()
    return {
        "ledger_seconds": round(t1 - t0, 2),
        "rules_seconds": round(t2 - t1, 2),
        "html_seconds": round(t3 - t2, 2),
        "report_seconds": round(t3 - t0, 2),
        "report_bytes": out.stat().st_size,
        "alerts": len(alerts),
    }


def supervise_bench(events: int = 100_000) -> dict[str, Any]:
    from web3 import Web3

    from tonne.core.localchain import plain_anvil

    with plain_anvil() as (url, _), tempfile.TemporaryDirectory() as tmp:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 600}))
        admin = w3.eth.accounts[0]
        t = time.perf_counter()
        record = build_chain(w3, admin, events)
        build_seconds = time.perf_counter() - t
        speed = index_speed(url, record, Path(tmp))
        db = speed.pop("db")
        result = {"chain_build_seconds": round(build_seconds, 1), **speed, **analysis_times(db, Path(tmp))}
    return result


def bench_rows(ctx: Any) -> dict:
    """The supervision module's bench rows (``tonne.modules``)."""
    from tonne.core.report import table

    figures = supervise_bench(100_000)
    ctx.echo("")
    rows = [[name, f"{value:,}" if isinstance(value, int) else str(value)] for name, value in figures.items()]
    ctx.echo(table(["supervision, 100,000 events", "value"], rows, title="Supervision index (target: 5,000 events/s)"))
    return {"supervise": figures}


if __name__ == "__main__":
    print(json.dumps(supervise_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
