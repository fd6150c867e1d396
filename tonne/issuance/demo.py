"""The issuance demo step: credits issued from a CSV file by the resumable issue tool."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

from tonne.core.demo import DemoContext
from tonne.issuance import issue_from_csv
from tonne.registry.demo import BATCHES


def issue_csv(ctx: DemoContext) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "issuance.csv"
        _write_csv(csv_path, _issuance_rows(ctx.actors.buyers))
        summary = issue_from_csv(csv_path, ctx.credit, ctx.registry, ctx.actors.issuer)
    ctx.gas.steps.setdefault("issue (CSV)", []).append(summary.gas_used)
    ctx.echo(f"      {summary.issued} rows issued in {summary.txs} transaction(s), {summary.gas_used:,} gas")


def _issuance_rows(buyers: list[Any]) -> list[dict[str, str]]:
    refs = [b[3] for b in BATCHES]
    plan = [
        ("VCS:VCS-1748", refs[0], buyers[0], "12000"),
        ("VCS:VCS-1748", refs[0], buyers[1], "8000.250"),
        ("VCS:VCS-1748", refs[1], buyers[0], "5000"),
        ("GS:GS-5678", refs[2], buyers[1], "3500"),
        ("GS:GS-5678", refs[2], buyers[2], "1200.5"),
        ("CCER:CCER-0231", refs[3], buyers[2], "20000"),
    ]
    return [
        dict(project=p, batch=b, recipient=str(acct.address), tonnes=t, reference=f"DEMO-ORDER-{i:04d}")
        for i, (p, b, acct, t) in enumerate(plan, start=1)
    ]


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["project", "batch", "recipient", "tonnes", "reference"])
        writer.writeheader()
        writer.writerows(rows)
