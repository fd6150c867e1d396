"""The issuance bench rows: the issue script's throughput over 10,000 CSV rows, and issue at scale (10,000 and
100,000 rows, each in a process of its own, with its peak memory)."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from tonne.bench.common import BenchContext, bench_roles, throughput, vintages, yes
from tonne.bench.gas import _register
from tonne.core.localchain import snapshot
from tonne.issuance import DEFAULT_CHUNK_SIZE as FIXED_CHUNK_SIZE
from tonne.issuance import issue_from_csv
from tonne.registry.suite import deploy_suite


def throughput_rows(ctx: BenchContext) -> dict[str, Any]:
    echo, rows, scale_rows = ctx.echo, ctx.rows, ctx.scale_rows
    results: dict[str, Any] = {}
    echo("")
    echo(f"Issue script throughput ({rows:,} CSV rows)")
    results["issue_throughput"] = _issue_throughput(ctx.project, ctx.accounts, rows)
    t = results["issue_throughput"]
    echo(
        f"{t['rows']:,} rows in {t['seconds']:.1f} s = {t['rows_per_second']:,.0f} rows/s; {t['transactions']} "
        f"transactions; {t['gas_used']:,} gas ({t['gas_per_row']:,} per row); target < 60 s: {yes(t['seconds'] < 60)}"
    )
    echo("")
    echo(
        f"Issue at scale ({', '.join(f'{n:,}' for n in scale_rows)} CSV rows, each run in a process of its own, "
        "from the same chain state)"
    )
    results["issue_at_scale"] = _issue_at_scale(ctx.project, ctx.provider, ctx.accounts, scale_rows)
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
        f"{yes(s['peak_ratio'] <= 3)}); {big['rows']:,} rows target <= 60 s: {yes(big['seconds'] <= 60)}"
    )
    return results


def _issue_throughput(project: Any, accounts: list[Any], rows: int) -> dict[str, Any]:
    admin, registrar, verifier, issuer = accounts[:4]
    roles = bench_roles(accounts)
    suite = deploy_suite(project, admin, roles=roles)
    registry, credit = suite.registry, suite.credit
    project_id = _register(None, registry, registrar, issuer, accounts[6], "throughput")
    batch_refs = vintages(registry, registrar, verifier, project_id, "THROUGHPUT")
    with tempfile.TemporaryDirectory() as tmp:
        path = _issue_csv(Path(tmp) / "bench.csv", project_id, batch_refs, rows, "BENCH")
        started = time.perf_counter()
        summary = issue_from_csv(path, credit, registry, issuer)
        seconds = time.perf_counter() - started
    if summary.issued != rows:
        raise RuntimeError(f"the issue run issued {summary.issued} of {rows} rows")
    return throughput(rows, seconds, summary)


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
    roles = bench_roles(accounts)
    runs = []
    # Each size with the chunks sized from the block gas limit (the default), then the largest size again with the
    # fixed 200-order chunks of before (``--chunk-size 200``). Every run starts from the same chain state (a
    # snapshot, reverted after it): Anvil's cost per block grows with the chain's state, so a run after another
    # would be measured on a heavier chain, and so would the rest of the bench.
    plan: list[tuple[int, int | None]] = [(n, None) for n in sizes] + [(sizes[-1], FIXED_CHUNK_SIZE)]
    for n, chunk_size in plan:
        with snapshot(provider.web3):
            runs.append(
                _scale_run(project, provider, issuer, admin, registrar, verifier, roles, accounts, n, chunk_size)
            )
    default = runs[: len(sizes)]
    return {
        "rows": list(sizes),
        "memory": "peak resident set (VmHWM) of the issuing process: python, web3 and the run",
        "runs": default,
        "fixed_chunks": runs[len(sizes)],
        "peak_ratio": round(default[-1]["peak_rss_mb"] / default[0]["peak_rss_mb"], 2),
    }


def _scale_run(
    project: Any,
    provider: Any,
    issuer: Any,
    admin: Any,
    registrar: Any,
    verifier: Any,
    roles: dict[str, Any],
    accounts: list[Any],
    n: int,
    chunk_size: int | None,
) -> dict[str, Any]:
    suite = deploy_suite(project, admin, roles=roles)
    project_id = _register(None, suite.registry, registrar, issuer, accounts[6], f"scale-{n}")
    batch_refs = vintages(suite.registry, registrar, verifier, project_id, f"SCALE-{n}")
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
    return {
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
