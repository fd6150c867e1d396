"""`make bench`: every module's bench rows (``tonne.modules``, in the order of their ``at``), printed and written
to bench/results.json: gas per operation with OpenZeppelin baselines (registry), the throughput of the retire
script over 1,000 CSV rows (retirement) and of the issue script over 10,000 (issuance), the pledge gas and keeper
throughput (pledge), gas constancy over 10,000 batches and retirements (registry), and the bridge (gas per path,
relay throughput and latency over 1,000 transfers on two Anvils of its own).

The constancy rows go after the others on the bench's chain: their 40,000 transactions slow the chain down, which
would skew the throughput figures. The retire throughput goes first of the two: Anvil's cost per block grows with
the chain's whole state (measured: 1,000 retirements take ~8 s on a fresh chain, ~42 s after the 10,000-row
issuance), and the retire tool sent one row per transaction where the issue tool sends 200. It runs twice, side by
side: one row per transaction (``--batch-size 1``, the path before ``retireBatch``) and the default batch size.

Wall-clock figures are printed and recorded, never asserted: they depend on the machine.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tonne.bench.common import BenchContext
from tonne.bench.gas import TARGETS
from tonne.core.deployments import git_commit
from tonne.modules import load, steps

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
    """Run every module's bench rows and write ``out``; returns what was written."""
    ctx = BenchContext(project, provider, accounts, echo, batches, rows, scale_rows, retire_rows, bridge_transfers)
    results: dict[str, Any] = {"meta": _meta(provider)}
    for step in steps("bench"):
        results.update(load(step.run)(ctx))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    echo(f"\nwritten to {out}")
    return results


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
