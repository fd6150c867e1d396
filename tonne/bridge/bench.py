"""Bridge figures for `make bench`: gas of every path (tonne.bridge.gas), and relay throughput and end-to-end
latency over 1,000 transfers on two local Anvils, with the real tools running as their own processes (two
`attest` validators of a 2-of-3 set, one `relay`).

Latency of a transfer = from the moment its lock transaction is mined at home to the moment the relayer has
its delivery receipt on the remote chain (both wall-clock on this machine; the relayer records the latter in
the store). Throughput = transfers / (last delivery - first lock).
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

from tonne.bridge.deploy import deploy_bridge_pair, deploy_home_suite, transact, write_record
from tonne.bridge.gas import address_of, issue_batch, measure_bridge_gas, validator_keys
from tonne.bridge.messages import interop_address
from tonne.bridge.store import Store
from tonne.bridge.watch import connect
from tonne.localchain import ANVIL, ROOT, plain_anvil


def _ape(script: str, *args: str, out: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(ROOT / ".venv/bin"), str(ANVIL.parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    with out.open("w") as fh:
        return subprocess.Popen(
            [str(ROOT / ".venv/bin/ape"), "run", script, *args], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_relay(transfers: int = 1_000, echo: Callable[[str], None] = print) -> dict[str, Any]:
    with (
        plain_anvil(chain_id=7_301) as (home_url, _),
        plain_anvil(chain_id=7_302) as (remote_url, _),
        tempfile.TemporaryDirectory() as tmp,
    ):
        home_w3, remote_w3 = connect(home_url), connect(remote_url)
        admin, holder, relayer = home_w3.eth.accounts[:3]
        suite = deploy_home_suite(home_w3, admin)
        keys = validator_keys(3, "bench")
        pair = deploy_bridge_pair(
            home_w3,
            remote_w3,
            suite.credit.address,
            home_admin=admin,
            remote_admin=admin,
            validators=[address_of(k) for k in keys],
            threshold=2,
        )
        token_id = issue_batch(home_w3, suite, admin, holder, 10_000, "BENCH")
        transact(home_w3, suite.credit.functions.setApprovalForAll(pair.home.bridge.address, True), holder)
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
        processes.append(_ape("relay", *chains, "--sender", relayer, "--poll", "0.1", out=directory / "relay.log"))
        try:
            time.sleep(4)  # let the tools start (ape's import time), so latency measures the bridge, not start-up
            to = interop_address(pair.remote.chain_id, holder)
            mined: dict[str, float] = {}
            started = time.time()
            for _ in range(transfers):
                receipt = transact(home_w3, pair.home.bridge.functions.send(token_id, 1, to), holder)
                (log,) = pair.home.bridge.events.CreditsLocked().process_receipt(receipt, errors=DISCARD)
                mined["0x" + bytes(log["args"]["messageId"]).hex()] = time.time()
            sending = time.time() - started
            echo(f"  {transfers:,} locks sent in {sending:.1f} s; waiting for delivery")
            store = Store(db)
            deadline = time.time() + 600
            while True:
                rows = dict(store.db.execute("SELECT message_id, delivered_at FROM deliveries").fetchall())
                if all(m in rows for m in mined) or time.time() > deadline:
                    break
                time.sleep(0.2)
            missing = [m for m in mined if m not in rows]
            if missing:
                raise RuntimeError(f"{len(missing)} of {transfers} transfers were not delivered within 600 s")
        finally:
            for p in processes:
                _stop(p)
        latencies = sorted(rows[m] - t for m, t in mined.items())
        span = max(rows[m] for m in mined) - min(mined.values())
        supply = pair.remote.token.functions.totalSupply(token_id).call()
        if supply != transfers or pair.home.bridge.functions.locked(token_id).call() != transfers:
            raise RuntimeError(f"books off after the run: remote supply {supply}, expected {transfers}")
        return {
            "transfers": transfers,
            "validators": "2 of 3 (2 attest processes)",
            "send_seconds": round(sending, 2),
            "seconds": round(span, 2),
            "messages_per_second": round(transfers / span, 1),
            "latency_median_seconds": round(statistics.median(latencies), 3),
            "latency_p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        }


def run_bridge_bench(transfers: int = 1_000, echo: Callable[[str], None] = print) -> dict[str, Any]:
    with plain_anvil(chain_id=7_101) as (home_url, _), plain_anvil(chain_id=7_102) as (remote_url, _):
        gas = measure_bridge_gas(connect(home_url), connect(remote_url))
    for name, value in gas.items():
        echo(f"  {name}: {value:,} gas")
    relay = measure_relay(transfers, echo)
    echo(
        f"  relay: {relay['transfers']:,} transfers in {relay['seconds']:.1f} s = {relay['messages_per_second']} "
        f"msg/s; latency median {relay['latency_median_seconds']:.2f} s, p95 {relay['latency_p95_seconds']:.2f} s"
    )
    return {"gas": gas, "relay": relay}
