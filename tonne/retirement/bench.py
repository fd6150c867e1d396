"""The retirement bench rows: the retire script's throughput over 1,000 CSV rows, one row per transaction
(``--batch-size 1``, the path before ``retireBatch``) and at the default batch size, each on a fresh suite.

They run before the issue rows: Anvil's cost per block grows with the chain's whole state (measured: 1,000
retirements take ~8 s on a fresh chain, ~42 s after the 10,000-row issuance)."""

from __future__ import annotations

import csv
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from tonne.bench.common import BenchContext, bench_roles, throughput, vintages, yes
from tonne.bench.gas import _register
from tonne.core.ids import encode_id
from tonne.registry.suite import deploy_suite
from tonne.retirement import DEFAULT_BATCH_SIZE, retire_from_csv


def throughput_rows(ctx: BenchContext) -> dict[str, Any]:
    echo, retire_rows = ctx.echo, ctx.retire_rows
    results: dict[str, Any] = {}
    echo("")
    echo(f"Retire script throughput ({retire_rows:,} CSV rows, one certificate each)")
    # Today's path (one retire transaction per row) and retireBatch, each on a fresh suite of the same chain.
    results["retire_throughput_single"] = _retire_throughput(ctx.project, ctx.accounts, retire_rows, batch_size=1)
    results["retire_throughput"] = _retire_throughput(ctx.project, ctx.accounts, retire_rows)
    for label, key in (("one per transaction", "retire_throughput_single"), ("batched", "retire_throughput")):
        t = results[key]
        echo(
            f"{label} (--batch-size {t['batch_size']}): {t['rows']:,} rows in {t['seconds']:.1f} s = "
            f"{t['rows_per_second']:,.0f} rows/s; {t['transactions']} transactions; {t['gas_used']:,} gas "
            f"({t['gas_per_row']:,} per row); plan {t['plan_seconds']:.1f} s, send {t['send_seconds']:.1f} s"
        )
    echo(f"batched at least 500 rows/s: {yes(results['retire_throughput']['rows_per_second'] >= 500)}")
    return results


def _retire_throughput(
    project: Any, accounts: list[Any], rows: int, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, Any]:
    """``retire csv`` over ``rows`` rows of one holder, spread over five batches, one certificate per row, sent
    ``batch_size`` rows per transaction; the seconds until the plan is made (read, check, simulate) and after."""
    admin, registrar, verifier, issuer = accounts[:4]
    holder = accounts[6]
    roles = bench_roles(accounts)
    suite = deploy_suite(project, admin, roles=roles)
    registry, credit = suite.registry, suite.credit
    project_id = _register(None, registry, registrar, issuer, holder, "retire-throughput")
    batch_refs = vintages(registry, registrar, verifier, project_id, "RETIRE-THROUGHPUT")
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
        **throughput(rows, seconds, summary),
        "batch_size": batch_size,
        "plan_seconds": round(plan_seconds, 2),
        "send_seconds": round(seconds - plan_seconds, 2),
    }
