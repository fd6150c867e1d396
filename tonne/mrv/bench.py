"""MRV ingest throughput: readings per second with every signature checked, and peak memory (issue 14's bench).

``ingest_throughput(n)`` simulates ``n`` signed readings once (cached under ``cache``), then ingests them into a
fresh SQLite store in a subprocess, which reports its wall time, its CPU time and its workers', and the peak
resident memory (``ru_maxrss``) of the ingesting process and of its largest worker. The CPU figures give a rate
that does not depend on what else runs on the machine: ``cpu_bound_per_s`` = readings / (CPU seconds / cores).

    python -m tonne.mrv.bench 100000 1000000

``bench_rows`` (the module's rows in `make bench`) adds the contract's gas, measured on the bench chain: a report of
10 readings beside one of 100,000 (the root, not the readings, goes on-chain), and the Nth report beside the first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tonne.mrv.readings import Domain

BENCH_DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
METERS = 100


def readings_file(n: int, cache: Path) -> tuple[Path, Path]:
    from tonne.mrv.simulate import simulate

    cache.mkdir(parents=True, exist_ok=True)
    out, devices = cache / f"readings-{n}.csv", cache / f"readings-{n}.devices.json"
    if not (out.exists() and devices.exists()):
        meters = min(METERS, n)
        steps = -(-n // meters)
        tmp = out.with_suffix(".tmp")
        simulate(tmp, devices, BENCH_DOMAIN, meters=meters, steps=steps)
        if steps * meters != n:  # cut to exactly n readings (header + n lines)
            with tmp.open("rb") as src, out.open("wb") as dst:
                for i, line in enumerate(src):
                    if i > n:
                        break
                    dst.write(line)
            tmp.unlink()
        else:
            tmp.rename(out)
    return out, devices


_CHILD = """
import json, resource, sys, time
from tonne.mrv.ingest import ingest, load_devices
from tonne.mrv.store import ReadingStore
path, devices_path, url, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
devices, domain = load_devices(devices_path)
store = ReadingStore(url)
t = time.perf_counter()
result = ingest([path], store, devices, domain, workers=workers)
seconds = time.perf_counter() - t
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the parent's peak (the bench process's)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"lines": result.lines, "stored": result.stored, "problems": result.problems, "seconds": seconds,
                  "cpu_self": me.ru_utime + me.ru_stime, "cpu_workers": kids.ru_utime + kids.ru_stime,
                  "rss_self_kb": hwm, "rss_worker_kb": kids.ru_maxrss}))
"""


def ingest_throughput(n: int = 100_000, *, workers: int = 2, cache: str | Path | None = None) -> dict:
    """Ingest ``n`` simulated readings into a fresh SQLite store; returns readings/s, peak RSS (MB) and more."""
    cache = Path(cache) if cache else Path(tempfile.gettempdir()) / "tonne-mrv-bench"
    path, devices = readings_file(n, cache)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get(
            "PYTHONPATH", "")])}  # fmt: skip
        done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(devices), url, str(workers)],
                              capture_output=True, text=True, env=env, timeout=3600, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"bench ingest failed: {done.stderr.strip()[-2000:]}")
        data = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = data["cpu_self"] + data["cpu_workers"]
    cores = os.cpu_count() or 1
    return {
        "readings": data["lines"],
        "stored": data["stored"],
        "seconds": round(data["seconds"], 2),
        "readings_per_s": round(data["lines"] / data["seconds"]),
        "peak_rss_mb": round(data["rss_self_kb"] / 1024, 1),
        "worker_peak_rss_mb": round(data["rss_worker_kb"] / 1024, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_bound_per_s": round(data["lines"] / (cpu / min(cores, workers + 1))) if cpu else 0,
        "workers": workers,
        "load_before": os.getloadavg()[0],
    }


HOUR = 3_600
REPORT_WH = 20_000_000  # an hour's total: x 450 g/kWh = 9 t exactly, so every approval makes a batch (carry 0)
G_PER_KWH = 450


def measure_mrv_gas(project: Any, accounts: list[Any], *, constancy_reports: int = 1_000) -> dict[str, int]:
    """Gas of CarbonMRV's operations on a fresh suite of the connected chain, and of the first and the
    ``constancy_reports``-th report of one device (submit and approve, each approval a registry batch after the
    last). The constancy reports go as raw transactions signed by the node (eth_abi calldata; through ape they would
    take minutes)."""
    from ape import chain
    from eth_abi import encode as abi_encode
    from eth_utils import function_signature_to_4byte_selector, keccak

    from tonne.mrv import merkle
    from tonne.mrv.deploy import deploy_mrv
    from tonne.mrv.readings import Reading, address_of, private_key, sign, sign_digest
    from tonne.mrv.readings import device_id as device_id_of
    from tonne.registry.suite import deploy_suite

    admin, registrar, verifier, stranger = accounts[:4]
    owner = verifier  # the project's owner is its verifier too here: the constancy run sends from one account
    suite = deploy_suite(project, admin, roles={"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier]})
    registry = suite.registry
    project_id = registry.registerProject(
        dict(standard="GS", externalId=f"MRV-BENCH-{chain.blocks.height}", name="Bench Wind", methodology="ACM0002",
             projectType="Wind", country=b"CN", region="Inner Mongolia", owner=owner.address,
             metadataURI="ipfs://bench", metadataHash=b"\x11" * 32), sender=registrar).return_value  # fmt: skip
    registry.setProjectStatus(project_id, 2, "validated", sender=registrar)
    mrv = deploy_mrv(project, suite, admin, roles={"VERIFIER_ROLE": [verifier], "METHODOLOGY_ROLE": [admin]}).mrv
    now = int(chain.pending_timestamp)
    t0 = now - (constancy_reports + 10) * HOUR
    gas: dict[str, int] = {}

    def record(name: str, receipt: Any) -> Any:
        gas[name] = int(receipt.gas_used)
        return receipt

    factor = record("publishFactor", mrv.publishFactor(b"GRID-CN".ljust(32, b"\0"), b"CN", t0, now + 86_400,
                                                       G_PER_KWH, sender=admin)).return_value[0]  # fmt: skip
    key = private_key(keccak(text="tonne-mrv-bench-device"))
    device = device_id_of("BENCH-T01")
    binding = sign_digest(_domain(mrv).binding_digest(device, project_id), key)
    record("registerDevice", mrv.registerDevice("BENCH-T01", address_of(key), project_id, 0, 2**40, t0, binding,
                                                sender=owner))  # fmt: skip
    record("approveDevice", mrv.approveDevice(device, sender=verifier))

    def readings(count: int, start: int) -> list[Reading]:
        return [Reading(device, i + 1, start + i, start + i + 1, 1) for i in range(count)]

    roots = {n: merkle.root_of(readings(n, t0)) for n in (10, 100_000)}
    first = record("submitReport, 10 readings' root", mrv.submitReport(device, t0, t0 + HOUR, 1, 10, REPORT_WH,
                                                                       factor, roots[10], sender=owner))  # fmt: skip
    record("approveReport, the project's first batch", mrv.approveReport(first.return_value, 0, sender=verifier))
    second = record("submitReport, 100,000 readings' root", mrv.submitReport(device, t0 + HOUR, t0 + 2 * HOUR, 11,
                    100_010, REPORT_WH, factor, roots[100_000], sender=owner))  # fmt: skip
    record("approveReport, a batch after a batch", mrv.approveReport(second.return_value, 1, sender=verifier))
    small = mrv.submitReport(device, t0 + 2 * HOUR, t0 + 3 * HOUR, 100_011, 100_020, 1_000, factor, b"\x44" * 32,
                             sender=owner)  # fmt: skip
    record("approveReport, under a tonne (no batch, carried)", mrv.approveReport(small.return_value, 2,
                                                                                 sender=verifier))  # fmt: skip
    rejected = mrv.submitReport(device, t0 + 3 * HOUR, t0 + 4 * HOUR, 100_021, 100_030, 1_000, factor, b"\x55" * 32,
                                sender=owner)  # fmt: skip
    record("rejectReport", mrv.rejectReport(rejected.return_value, "total does not match the readings",
                                            sender=verifier))  # fmt: skip

    # The Nth report: raw transactions signed by the node, all from the verifier (it is also the project's owner, so
    # its nonces order every submit before its approval), mined 40 reports to a block with automine off.
    web3 = chain.provider.web3
    rpc = web3.provider.make_request
    submit_sig = "submitReport(bytes32,uint40,uint40,uint64,uint64,uint256,uint64,bytes32)"
    submit_selector = function_signature_to_4byte_selector(submit_sig)
    approve_selector = function_signature_to_4byte_selector("approveReport(uint64,uint64)")
    submit_types = ["bytes32", "uint40", "uint40", "uint64", "uint64", "uint256", "uint64", "bytes32"]
    base, batch = int(mrv.reportCount()), 2  # the project has batches 1 and 2
    start, sequence = t0 + 3 * HOUR, 100_021
    hashes = {}
    nonce = [web3.eth.get_transaction_count(verifier.address)]
    # Full blocks raise the base fee by 1/8 a block (EIP-1559); the next block's is reset to 1 gwei before each batch,
    # so that a long run never prices itself out (gas used does not depend on the price).
    price = hex(3 * 10**9)

    def send(data: bytes, gas_limit: int) -> str:
        """eth_sendTransaction with every field given: one round trip (web3.py's would add fee and nonce lookups)."""
        tx = {"from": verifier.address, "to": mrv.address, "data": "0x" + data.hex(), "gas": hex(gas_limit),
              "gasPrice": price, "nonce": hex(nonce[0])}  # fmt: skip
        nonce[0] += 1
        answer = rpc("eth_sendTransaction", [tx])
        if "error" in answer:
            raise RuntimeError(f"constancy transaction refused by the node: {answer['error']}")
        return answer["result"]

    rpc("evm_setAutomine", [False])
    try:
        for i in range(constancy_reports):
            if i % 40 == 0:
                rpc("anvil_setNextBlockBaseFeePerGas", [hex(10**9)])
            args = (device, start, start + HOUR, sequence, sequence + 9, REPORT_WH, factor, (i + 7).to_bytes(32, "big"))
            submit = send(submit_selector + abi_encode(submit_types, args), 400_000)
            approve = send(approve_selector + abi_encode(["uint64", "uint64"], [base + i + 1, batch + i]), 900_000)
            if i in (0, constancy_reports - 1):
                hashes[i] = (submit, approve)
            start, sequence = start + HOUR, sequence + 10
            if i % 40 == 39 or i == constancy_reports - 1:
                rpc("evm_mine", [])
    finally:
        rpc("evm_setAutomine", [True])
    for i, (submit, approve) in hashes.items():
        receipts = [web3.eth.wait_for_transaction_receipt(h) for h in (submit, approve)]
        assert all(r["status"] == 1 for r in receipts), f"constancy report {i + 1} reverted"
        n = f"{i + 1:,}th" if i else "1st"
        gas[f"constancy: submitReport, {n} of the run"] = int(receipts[0]["gasUsed"])
        gas[f"constancy: approveReport, {n} of the run"] = int(receipts[1]["gasUsed"])
    assert int(mrv.device(device).reportedUntil) == start, "a constancy report did not land"

    a = Reading(device, 1, t0, t0 + 300, 5)
    b = Reading(device, 1, t0, t0 + 300, 6)  # the same sequence, another value: double reporting
    record("challenge (two conflicting signed readings)", mrv.challenge(
        a.as_tuple(), sign(_domain(mrv), a, key), b.as_tuple(), sign(_domain(mrv), b, key),
        sender=stranger))  # fmt: skip
    return gas


def _domain(mrv: Any) -> Domain:
    from ape import chain

    return Domain(int(chain.chain_id), str(mrv.address))


def bench_rows(ctx: Any) -> dict:
    """The MRV module's bench rows (``tonne.modules``): the contract's gas (a 10-reading and a 100,000-reading report;
    the Nth report beside the first) and the ingest's throughput and peak memory."""
    from tonne.core.report import table

    # 10,000 reports by default: 20,000 raw transactions, some 50 s on the bench's plain Anvil (through ape's test
    # node, which traces every step, the same run lost its node after 9 minutes).
    reports = max(2, ctx.batches)
    gas = measure_mrv_gas(ctx.project, ctx.accounts, constancy_reports=reports)
    ctx.echo("")
    ctx.echo(table(["operation", "gas"], [[name, f"{value:,}"] for name, value in gas.items()], title="MRV gas"))
    ingest = {n: ingest_throughput(n) for n in (100_000, 1_000_000)}
    rows = [[f"{n:,}", f"{r['seconds']:.1f}", f"{r['readings_per_s']:,}", f"{r['cpu_bound_per_s']:,}",
             f"{r['peak_rss_mb']:.0f}", f"{r['worker_peak_rss_mb']:.0f}"] for n, r in ingest.items()]  # fmt: skip
    ctx.echo(table(["readings", "s", "readings/s", "per CPU-bound s", "peak MB", "worker MB"], rows,
                   title="mrv ingest (signatures checked, SQLite, 2 workers; targets 20,000/s, < 300 MB)"))  # fmt: skip
    last = f"{reports:,}th"
    same = {
        op: abs(gas[f"constancy: {op}, {last} of the run"] - gas[f"constancy: {op}, 1st of the run"])
        for op in ("submitReport", "approveReport")
    }
    return {
        "mrv": {
            "gas": gas,
            "constancy": {"reports": reports, "difference": same},
            "report_gas_10_vs_100000_readings": [
                gas["submitReport, 10 readings' root"],
                gas["submitReport, 100,000 readings' root"],
            ],  # fmt: skip
            "ingest": {str(n): r for n, r in ingest.items()},
        }
    }


if __name__ == "__main__":  # pragma: no cover
    for arg in sys.argv[1:] or ["100000"]:
        print(json.dumps(ingest_throughput(int(arg))))
