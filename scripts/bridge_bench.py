"""The bridge's part of `make bench` on its own: gas per path, relay throughput and latency (single and batched
delivery side by side). It prints the figures; `make bench` records them in bench/results.json.

    ape run bridge_bench [--transfers 1000] [--out /tmp/bridge.json]

Starts its own two Anvils (chain ids 7101/7102 for gas, 7301/7302 for each relay run) and stops them.
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from tonne.bridge.bench import run_bridge_bench
from tonne.core.clihelp import WholeNumber
from tonne.core.deployments import git_commit


@click.command()
@click.option("--transfers", type=WholeNumber(min=1), default=1_000, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures to this JSON file (default: print only; `make bench` writes bench/results.json).",
)
def cli(transfers, out):
    """Measure the bridge and write the figures."""
    results = run_bridge_bench(transfers, click.echo)
    if out is None:
        return
    results["meta"] = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "git": git_commit()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    click.echo(f"written to {out}")


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "bridge_bench")
