"""`make bench`: gas per operation with OpenZeppelin baselines, the throughput of the issue script over 10,000
CSV rows and of the retire script over 1,000, gas constancy over 10,000 batches and retirements, and the
bridge (gas per path, relay throughput and latency over 1,000 transfers on two Anvils of its own), printed
and written to bench/results.json.

The constancy run goes last: its 40,000 transactions slow the chain down, which would skew the throughput
figures. The retire throughput goes first of the two: Anvil's cost per block grows with the chain's whole state
(measured: 1,000 retirements take ~8 s on a fresh chain, ~42 s after the 10,000-row issuance), and the retire tool
sent one row per transaction where the issue tool sends ~245 (sized from the block). It runs twice, side by side:
one row per transaction (``--batch-size 1``, the path before ``retireBatch``) and the default batch size.

Wall-clock figures are printed and recorded, never asserted: they depend on the machine.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from tonne.bridge.bench import run_bridge_bench
from tonne.constancy import FIRST_DIFFERS, measure_constancy
from tonne.deployments import git_commit
from tonne.gasbench import TARGETS, _register, measure_gas
from tonne.ids import encode_id
from tonne.issuance import DEFAULT_CHUNK_SIZE as FIXED_CHUNK_SIZE
from tonne.issuance import issue_from_csv
from tonne.report import table
from tonne.retirement import DEFAULT_BATCH_SIZE, retire_from_csv
from tonne.suite import deploy_suite

RESULTS = Path("bench/results.json")


def run_bench(
    project: Any,
    provider: Any,
    accounts: list[Any],
    *,
    batches: int = 10_000,
    rows: int = 10_000,
    scale_rows: tuple[int, ...] = (10_000, 100_000),
    retire_rows: int = 1_000,
    bridge_transfers: int = 1_000,
    out: Path = RESULTS,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every measurement and write ``out``; returns what was written."""
    results: dict[str, Any] = {"meta": _meta(provider)}

    echo("Gas per operation (one run, same chain, same conditions for Tonne and OpenZeppelin)")
    report = measure_gas(project, accounts)
    results["gas"] = report.gas
    results["ratios"] = report.ratios()
    echo(table(["operation", "gas"], [[k, f"{v:,}"] for k, v in report.gas.items()]))
    echo("")
    echo(
        table(
            ["comparison", "ratio", "target", "met"],
            [
                [name, f"{r['ratio']:.3f}x", f"<= {r['target']:.2f}x" if r["target"] else "-", _yes(r["met"])]
                for name, r in results["ratios"].items()
            ],
        )
    )

    echo("")
    echo(f"Retire script throughput ({retire_rows:,} CSV rows, one certificate each)")
    # Today's path (one retire transaction per row) and retireBatch, each on a fresh suite of the same chain.
    results["retire_throughput_single"] = _retire_throughput(project, accounts, retire_rows, batch_size=1)
    results["retire_throughput"] = _retire_throughput(project, accounts, retire_rows)
    for label, key in (("one per transaction", "retire_throughput_single"), ("batched", "retire_throughput")):
        t = results[key]
        echo(
            f"{label} (--batch-size {t['batch_size']}): {t['rows']:,} rows in {t['seconds']:.1f} s = "
            f"{t['rows_per_second']:,.0f} rows/s; {t['transactions']} transactions; {t['gas_used']:,} gas "
            f"({t['gas_per_row']:,} per row); plan {t['plan_seconds']:.1f} s, send {t['send_seconds']:.1f} s"
        )
    echo(f"batched at least 500 rows/s: {_yes(results['retire_throughput']['rows_per_second'] >= 500)}")

    echo("")
    echo(f"Issue script throughput ({rows:,} CSV rows)")
    results["issue_throughput"] = _issue_throughput(project, accounts, rows)
    t = results["issue_throughput"]
    echo(
        f"{t['rows']:,} rows in {t['seconds']:.1f} s = {t['rows_per_second']:,.0f} rows/s; {t['transactions']} "
        f"transactions; {t['gas_used']:,} gas ({t['gas_per_row']:,} per row); target < 60 s: {_yes(t['seconds'] < 60)}"
    )
    echo("")
    echo(f"Issue at scale ({', '.join(f'{n:,}' for n in scale_rows)} CSV rows, each run in a process of its own)")
    results["issue_at_scale"] = _issue_at_scale(project, provider, accounts, scale_rows)
    s = results["issue_at_scale"]
    for run in [*s["runs"], s["fixed_chunks"]]:
        echo(
            f"{run['rows']:,} rows in {run['seconds']:.1f} s = {run['rows_per_second']:,.0f} rows/s "
            f"(checks {run['check_seconds']:.1f} s, sending {run['send_seconds']:.1f} s); {run['transactions']} "
            f"transactions in {run['blocks']} blocks of {run['chunk_size']} orders ({run['chunk_sizing']}); peak RSS "
            f"{run['peak_rss_mb']:.1f} MB ({run['baseline_rss_mb']:.1f} MB after imports)"
        )
    big = s["runs"][-1]
    echo(
        f"peak memory {s['rows'][-1]:,} vs {s['rows'][0]:,} rows: {s['peak_ratio']:.2f}x (target <= 3x: "
        f"{_yes(s['peak_ratio'] <= 3)}); {big['rows']:,} rows target <= 60 s: {_yes(big['seconds'] <= 60)}"
    )

    from tonne.pledge.bench import run_pledge_bench  # collateral pledges: gas rows and keeper throughput

    results["pledge"] = run_pledge_bench(project, provider, accounts, echo=echo)

    echo("")
    echo(
        f"Gas of the n-th batch registration, verification, issuance and retirement ({batches:,} batches in one "
        "project, one retirement of each)"
    )
    started = time.perf_counter()
    constancy = _constancy(project, provider, accounts, batches)
    results["constancy"] = {"batches": batches, "seconds": round(time.perf_counter() - started, 1), **constancy}
    rows_out = []
    for op, points in constancy["points"].items():
        for n, p in points.items():
            rows_out.append([op, f"{int(n):,}", f"{p['gas']:,}", f"{p['execution']:,}"])
    echo(table(["operation", "n", "gas used", "execution gas"], rows_out))
    echo(f"execution gas constant from the 2nd to the {batches:,}th: {_yes(constancy['constant'])}")

    echo("")
    echo(f"Bridge: gas of each path on two chains, relay throughput over {bridge_transfers:,} transfers")
    results["bridge"] = run_bridge_bench(bridge_transfers, echo)

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    echo(f"\nwritten to {out}")
    return results


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "NO")


def _meta(provider: Any) -> dict[str, Any]:
    try:
        anvil = subprocess.run(["anvil", "--version"], capture_output=True, text=True, check=True).stdout.split("\n")[0]
    except (OSError, subprocess.CalledProcessError):
        anvil = None
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git_commit(),
        "chain_id": provider.chain_id,
        "anvil": anvil,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "targets": {name: limit for name, (_, _, limit) in TARGETS.items()},
    }


def _constancy(project: Any, provider: Any, accounts: list[Any], count: int) -> dict[str, Any]:
    admin, registrar, verifier, issuer = accounts[:4]
    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    suite = deploy_suite(project, admin, roles=roles)
    project_id = _register(None, suite.registry, registrar, issuer, accounts[6], "constancy")
    points = measure_constancy(
        provider.uri,
        provider.web3,
        suite.registry,
        suite.credit,
        project_id,
        dict(registrar=registrar, verifier=verifier, issuer=issuer),
        accounts[6],
        count=count,
        retirement=suite.retirement,
    )
    constant = all(
        len({p["execution"] for n, p in pts.items() if not (op in FIRST_DIFFERS and n == 1)}) == 1
        for op, pts in points.items()
    )
    return {"points": {op: {str(n): p for n, p in pts.items()} for op, pts in points.items()}, "constant": constant}


def _issue_throughput(project: Any, accounts: list[Any], rows: int) -> dict[str, Any]:
    admin, registrar, verifier, issuer = accounts[:4]
    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    suite = deploy_suite(project, admin, roles=roles)
    registry, credit = suite.registry, suite.credit
    project_id = _register(None, registry, registrar, issuer, accounts[6], "throughput")
    batch_refs = _vintages(registry, registrar, verifier, project_id, "THROUGHPUT")
    with tempfile.TemporaryDirectory() as tmp:
        path = _issue_csv(Path(tmp) / "bench.csv", project_id, batch_refs, rows, "BENCH")
        started = time.perf_counter()
        summary = issue_from_csv(path, credit, registry, issuer)
        seconds = time.perf_counter() - started
    if summary.issued != rows:
        raise RuntimeError(f"the issue run issued {summary.issued} of {rows} rows")
    return _throughput(rows, seconds, summary)


def _issue_csv(path: Path, project_id: int, batch_refs: list[str], rows: int, tag: str) -> Path:
    """``rows`` random rows over five batches and 1,000 recipients (the same generator for every size)."""
    rng = random.Random(20261120)
    recipients = [to_checksum_address(keccak(f"holder-{i}".encode())[:20]) for i in range(1_000)]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["project", "batch", "recipient", "tonnes", "reference"])
        for i in range(rows):
            writer.writerow(
                [
                    project_id,
                    rng.choice(batch_refs),
                    rng.choice(recipients),
                    f"{rng.randint(1, 50_000) / 1000:.3f}",
                    f"{tag}-{i:06d}",
                ]
            )
    return path


def _issue_at_scale(project: Any, provider: Any, accounts: list[Any], sizes: tuple[int, ...]) -> dict[str, Any]:
    """Each size issued by ``python -m tonne.issuance.measure`` (the issue script's ``run_file`` with a plain web3
    sender, no ape in the process) on a fresh deployment; its peak memory is the child's own resident high-water
    mark (``VmHWM``, see ``tonne.issuance.measure``: python, web3 and the run), not this bench's."""
    admin, registrar, verifier, issuer = accounts[:4]
    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    runs = []
    # Each size with the chunks sized from the block gas limit (the default), then the largest size again with the
    # fixed 200-order chunks of before (``--chunk-size 200``), side by side on the same chain.
    plan: list[tuple[int, int | None]] = [(n, None) for n in sizes] + [(sizes[-1], FIXED_CHUNK_SIZE)]
    for n, chunk_size in plan:
        suite = deploy_suite(project, admin, roles=roles)
        project_id = _register(None, suite.registry, registrar, issuer, accounts[6], f"scale-{n}")
        batch_refs = _vintages(suite.registry, registrar, verifier, project_id, f"SCALE-{n}")
        with tempfile.TemporaryDirectory() as tmp:
            path = _issue_csv(Path(tmp) / "scale.csv", project_id, batch_refs, n, f"SCALE-{n}")
            command = [
                sys.executable,
                "-m",
                "tonne.issuance.measure",
                "--rpc",
                provider.uri,
                "--key",
                str(issuer.private_key),
                "--credit",
                str(suite.credit.address),
                "--registry",
                str(suite.registry.address),
                "--csv",
                str(path),
                *(["--chunk-size", str(chunk_size)] if chunk_size else []),
            ]
            child = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = child.stdout.splitlines()
            err = child.stderr
        if child.returncode != 0 or not lines:
            raise RuntimeError(f"the issue run of {n:,} rows failed: {err[-2000:]}")
        report = json.loads(lines[-1])
        if report["issued"] != n:
            raise RuntimeError(f"the issue run issued {report['issued']} of {n} rows")
        runs.append(
            {
                "rows": n,
                "seconds": round(report["seconds"], 2),
                "rows_per_second": round(n / report["seconds"], 1),
                "check_seconds": round(report["check_seconds"], 2),
                "send_seconds": round(report["seconds"] - report["check_seconds"], 2),
                "transactions": report["txs"],
                "blocks": report["blocks"],
                "chunk_size": report["chunk_size"],
                "chunk_sizing": "fixed (--chunk-size)" if chunk_size else "from the block gas limit",
                "gas_per_row": report["gas_used"] // n,
                "peak_rss_mb": round(report["peak_kb"] / 1024, 1),
                "baseline_rss_mb": round(report["baseline_kb"] / 1024, 1),
            }
        )
    default = runs[: len(sizes)]
    return {
        "rows": list(sizes),
        "memory": "peak resident set (VmHWM) of the issuing process: python, web3 and the run",
        "runs": default,
        "fixed_chunks": runs[len(sizes)],
        "peak_ratio": round(default[-1]["peak_rss_mb"] / default[0]["peak_rss_mb"], 2),
    }


def _retire_throughput(
    project: Any, accounts: list[Any], rows: int, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, Any]:
    """``retire csv`` over ``rows`` rows of one holder, spread over five batches, one certificate per row, sent
    ``batch_size`` rows per transaction; the seconds until the plan is made (read, check, simulate) and after."""
    admin, registrar, verifier, issuer = accounts[:4]
    holder = accounts[6]
    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    suite = deploy_suite(project, admin, roles=roles)
    registry, credit = suite.registry, suite.credit
    project_id = _register(None, registry, registrar, issuer, holder, "retire-throughput")
    batch_refs = _vintages(registry, registrar, verifier, project_id, "RETIRE-THROUGHPUT")
    for n in range(1, 6):
        credit.issue(encode_id(project_id, n), holder, 1_000_000_000, b"\x00" * 32, sender=issuer)
    rng = random.Random(20261121)
    planned: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "retire.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["project", "batch", "tonnes", "beneficiary_name", "reason", "jurisdiction", "period", "reference"]
            )
            for i in range(rows):
                writer.writerow(
                    [
                        project_id,
                        rng.choice(batch_refs),
                        f"{rng.randint(1, 50_000) / 1000:.3f}",
                        f"Customer {i:06d} Ltd",
                        "Scope 1 emissions FY2025",
                        rng.choice(["DE", "FR", "US-CA", "GB-ENG"]),
                        "2025",
                        f"RETIRE-BENCH-{i:06d}",
                    ]
                )
        started = time.perf_counter()
        summary = retire_from_csv(
            path, suite, holder, batch_size=batch_size, on_plan=lambda _: planned.append(time.perf_counter())
        )
        seconds = time.perf_counter() - started
    if summary.retired != rows:
        raise RuntimeError(f"the retire run retired {summary.retired} of {rows} rows")
    plan_seconds = planned[0] - started
    return {
        **_throughput(rows, seconds, summary),
        "batch_size": batch_size,
        "plan_seconds": round(plan_seconds, 2),
        "send_seconds": round(seconds - plan_seconds, 2),
    }


def _vintages(registry: Any, registrar: Any, verifier: Any, project_id: int, tag: str) -> list[str]:
    """Five verified vintages of 1,000,000 t each, appended to a fresh project; returns their issuance references."""
    refs = []
    for n in range(1, 6):
        ref = f"{tag}-{n}"
        first = (n - 1) * 1_000_000 + 1
        batch = dict(
            serialFirst=first,
            serialLast=first + 999_999,
            periodStart=1,
            periodEnd=2,
            issuanceReference=ref,
            metadataURI="",
        )
        token_id = registry.addBatch(project_id, batch, n - 1, sender=registrar).return_value
        registry.verifyBatch(token_id, sender=verifier)
        refs.append(ref)
    return refs


def _throughput(rows: int, seconds: float, summary: Any) -> dict[str, Any]:
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds, 1),
        "transactions": summary.txs,
        "gas_used": summary.gas_used,
        "gas_per_row": summary.gas_used // rows,
    }
