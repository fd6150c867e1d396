"""`make bench`: gas per operation vs OpenZeppelin baselines, gas constancy, issue throughput.

ape run bench [--batches 10000] [--rows 10000] [--out bench/results.json]
"""

from pathlib import Path

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from ape.logging import logger

from tonne.bench import RESULTS, run_bench


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--batches",
    type=click.IntRange(min=2),
    default=10_000,
    show_default=True,
    help="Batches appended to one project for the constancy check.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="CSV rows for the issue throughput run.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS, show_default=True)
def cli(provider, batches, rows, out):
    """Measure and write bench/results.json (local Anvil)."""
    logger.set_level("WARNING")  # a line per transaction would drown the report
    run_bench(
        project, provider, list(accounts.test_accounts)[:10], batches=batches, rows=rows, out=out, echo=click.echo
    )
