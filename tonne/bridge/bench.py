"""Bridge figures for `make bench`: gas of every path (tonne.bridge.gas), and relay throughput and end-to-end
latency on two local Anvils, with the real tools running as their own processes (two `attest` validators of a
2-of-3 set, one `relay`), for today's single-delivery path (`relay --batch 1`) and the batched one
(`relay --batch 50`) in the same run.

Latency of a transfer = from the moment its lock transaction is mined at home to the moment the relayer has
its delivery receipt on the remote chain (both wall-clock on this machine; the relayer records the latter in
the store). Throughput: a burst of 1,000 locks queued and mined at once (blocks full up to the gas limit), then
transfers / (last delivery - first block mined): the lock sender is not the bottleneck. Latency under load: 200
locks sent one every 50 ms (20 messages/s offered).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web3.logs import DISCARD

from tonne.bridge.deploy import deploy_home_suite, write_record
from tonne.bridge.gas import bench_pair, measure_bridge_gas, validator_keys
from tonne.bridge.messages import interop_address
from tonne.bridge.relay import DEFAULT_BATCH
from tonne.bridge.store import Store
from tonne.bridge.watch import connect
from tonne.core.localchain import ANVIL, ROOT, plain_anvil, stop_process


def _ape(script: str, *args: str, out: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(ROOT / ".venv/bin"), str(ANVIL.parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    with out.open("w") as fh:
        return subprocess.Popen(
            [str(ROOT / ".venv/bin/ape"), "run", script, *args], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT
        )


def _delivered(store: Store, ids: list[str], timeout: float) -> dict[str, float]:
    """Wait until every id in ``ids`` is recorded delivered; message id -> delivered_at."""
    deadline = time.time() + timeout
    while True:
        rows = dict(store.db.execute("SELECT message_id, delivered_at FROM deliveries").fetchall())
        if all(m in rows for m in ids):
            return rows
        if time.time() > deadline:
            missing = sum(m not in rows for m in ids)
            raise RuntimeError(f"{missing} of {len(ids)} transfers were not delivered within {timeout:.0f} s")
        time.sleep(0.05)


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[int(q * (len(sorted_values) - 1))]


def _lock_ids(pair: Any, receipt: Any) -> list[str]:
    logs = pair.home.bridge.events.CreditsLocked().process_receipt(receipt, errors=DISCARD)
    return ["0x" + bytes(log["args"]["messageId"]).hex() for log in logs]


def _burst(pair: Any, token_id: int, holder: str, transfers: int, store: Store) -> dict[str, Any]:
    """``transfers`` locks queued with mining off, then mined as fast as the chain takes them (blocks full up to
    the gas limit): the tools face a backlog of that many at once. Throughput = transfers / (last delivery -
    first block of locks mined)."""
    w3 = pair.home.w3
    to = interop_address(pair.remote.chain_id, holder)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        hashes = [
            pair.home.bridge.functions.send(token_id, 1, to).transact({"from": holder, "gas": 300_000})
            for _ in range(transfers)
        ]
        mined: dict[str, float] = {}
        started = time.time()
        while len(mined) < transfers:
            w3.provider.make_request("evm_mine", [])
            now = time.time()
            number = w3.eth.block_number
            logs = pair.home.bridge.events.CreditsLocked.get_logs(from_block=number, to_block=number)
            if not logs:
                raise RuntimeError(f"only {len(mined)} of {len(hashes)} locks mined")
            for log in logs:
                mined["0x" + bytes(log["args"]["messageId"]).hex()] = now
        mining = time.time() - started
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    rows = _delivered(store, list(mined), 600)
    span = max(rows[m] for m in mined) - started
    latencies = sorted(rows[m] - t for m, t in mined.items())
    return {
        "transfers": transfers,
        "mining_seconds": round(mining, 2),  # the home chain mining the 1,000 locks: a floor under "seconds"
        "seconds": round(span, 2),
        "messages_per_second": round(transfers / span, 1),
        "latency_median_seconds": round(statistics.median(latencies), 3),
        "latency_p95_seconds": round(_percentile(latencies, 0.95), 3),
    }


def _paced(pair: Any, token_id: int, holder: str, transfers: int, rate: float, store: Store) -> dict[str, Any]:
    """``transfers`` locks, one every 1/``rate`` s (the offered load), each mined on its own (automine): the
    latency a transfer sees from its lock mined at home to its delivery recorded by the relayer."""
    to = interop_address(pair.remote.chain_id, holder)
    mined: dict[str, float] = {}
    sent_at: dict[Any, float] = {}
    started = time.time()
    for i in range(transfers):
        pause = started + i / rate - time.time()
        if pause > 0:
            time.sleep(pause)
        # Anvil mines each transaction as it arrives: the lock is mined when send returns (no estimate, no
        # receipt wait, so the sender keeps the pace).
        tx = pair.home.bridge.functions.send(token_id, 1, to).transact({"from": holder, "gas": 300_000})
        sent_at[tx] = time.time()
    offered = transfers / (time.time() - started)
    for tx, at in sent_at.items():
        (mid,) = _lock_ids(pair, pair.home.w3.eth.get_transaction_receipt(tx))
        mined[mid] = at
    rows = _delivered(store, list(mined), 600)
    latencies = sorted(rows[m] - t for m, t in mined.items())
    return {
        "transfers": transfers,
        "offered_messages_per_second": round(offered, 1),
        "latency_median_seconds": round(statistics.median(latencies), 3),
        "latency_p95_seconds": round(_percentile(latencies, 0.95), 3),
    }


def measure_relay(
    transfers: int = 1_000,
    batch: int = DEFAULT_BATCH,
    *,
    paced: int = 200,
    rate: float = 20.0,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The real tools (two ``attest``, one ``relay --batch``) on two fresh Anvils: a burst of ``transfers`` locks
    (throughput), then ``paced`` locks at ``rate`` per second (latency at that offered load)."""
    with (
        plain_anvil(chain_id=7_301) as (home_url, _),
        plain_anvil(chain_id=7_302) as (remote_url, _),
        tempfile.TemporaryDirectory() as tmp,
    ):
        home_w3, remote_w3 = connect(home_url), connect(remote_url)
        admin, holder, relayer = home_w3.eth.accounts[:3]
        suite = deploy_home_suite(home_w3, admin)
        keys = validator_keys(3, "bench")
        pair, token_id = bench_pair(home_w3, remote_w3, suite, admin, holder, keys, 2, 10_000, "BENCH")
        directory = Path(tmp)
        record = write_record(pair, directory)
        db = directory / "attestations.sqlite"
        Store(db).close()  # create the schema once, before the processes race to
        chains = ["--home", home_url, "--remote", remote_url, "--record", str(record), "--db", str(db)]
        processes = []
        for i, key in enumerate(keys[:2]):
            (directory / f"v{i}.key").write_text(key.hex())
            processes.append(
                _ape(
                    "attest",
                    *chains,
                    "--key-file",
                    str(directory / f"v{i}.key"),
                    "--poll",
                    "0.1",
                    out=directory / f"a{i}.log",
                )
            )
        processes.append(
            _ape(
                "relay",
                *chains,
                "--sender",
                relayer,
                "--poll",
                "0.1",
                "--batch",
                str(batch),
                out=directory / "relay.log",
            )
        )
        store = Store(db)
        try:
            time.sleep(4)  # let the tools start (ape's import time), so latency measures the bridge, not start-up
            burst = _burst(pair, token_id, holder, transfers, store)
            echo(
                f"  relay --batch {batch}: burst of {transfers:,}: {burst['messages_per_second']} msg/s "
                f"(latency median {burst['latency_median_seconds']:.2f} s, p95 {burst['latency_p95_seconds']:.2f} s)"
            )
            load = _paced(pair, token_id, holder, paced, rate, store)
            echo(
                f"  relay --batch {batch}: {paced} at {load['offered_messages_per_second']} msg/s offered: latency "
                f"median {load['latency_median_seconds']:.2f} s, p95 {load['latency_p95_seconds']:.2f} s"
            )
        finally:
            for p in processes:
                stop_process(p)
            store.close()
        total = transfers + paced
        supply = pair.remote.token.functions.totalSupply(token_id).call()
        if supply != total or pair.home.bridge.functions.locked(token_id).call() != total:
            raise RuntimeError(f"books off after the run: remote supply {supply}, expected {total}")
        return {
            "batch": batch,
            "path": "deliver, one transaction per message" if batch == 1 else f"deliverBatch, up to {batch} per tx",
            "validators": "2 of 3 (2 attest processes)",
            "burst": burst,
            "at_offered_load": load,
        }


def run_bridge_bench(transfers: int = 1_000, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Gas of every path, then the relay measured twice in the same run: today's single-delivery path
    (``--batch 1``) and the batched one (``--batch 50``). Returns {"gas": ..., "relay": {"single": ...,
    "batched": ...}}."""
    with plain_anvil(chain_id=7_101) as (home_url, _), plain_anvil(chain_id=7_102) as (remote_url, _):
        gas = measure_bridge_gas(connect(home_url), connect(remote_url))
    for name, value in gas.items():
        echo(f"  {name}: {value:,} gas")
    relay = {
        "single": measure_relay(transfers, 1, echo=echo),
        "batched": measure_relay(transfers, DEFAULT_BATCH, echo=echo),
    }
    return {"gas": gas, "relay": relay}


def bench_rows(ctx: Any) -> dict[str, Any]:
    """The bridge's bench rows (``tonne.modules``): gas per path on two chains, relay throughput and latency."""
    ctx.echo("")
    ctx.echo(f"Bridge: gas of each path on two chains, relay throughput over {ctx.bridge_transfers:,} transfers")
    return {"bridge": run_bridge_bench(ctx.bridge_transfers, ctx.echo)}
