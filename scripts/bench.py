"""`make bench`: gas per operation vs OpenZeppelin baselines, issue and retire throughput, gas constancy.

    ape run bench [--batches 10000] [--rows 10000] [--scale-rows 10000,100000] [--retire-rows 1000]
                  [--out bench/results.json]

Runs against a plain Anvil that it starts and stops itself (see tonne/core/localchain.py: the node ape-foundry
starts traces every step, which would distort the throughput figure and exhaust memory on large blocks).
"""

from pathlib import Path

import click
from ape import accounts, networks, project
from ape.logging import logger

from tonne.bench.run import RESULTS, run_bench
from tonne.core.clihelp import WholeNumber
from tonne.core.localchain import plain_anvil


@click.command()
@click.option(
    "--batches",
    type=WholeNumber(min=2),
    default=10_000,
    show_default=True,
    help="Batches appended to one project for the constancy check.",
)
@click.option(
    "--rows",
    type=WholeNumber(min=1),
    default=10_000,
    show_default=True,
    help="CSV rows for the issue throughput run.",
)
@click.option(
    "--scale-rows",
    default="10000,100000",
    show_default=True,
    help="CSV row counts of the issue-at-scale runs (comma-separated; peak memory of the last vs the first).",
)
@click.option(
    "--retire-rows",
    type=WholeNumber(min=1),
    default=1_000,
    show_default=True,
    help="CSV rows for the retire throughput runs (one row per transaction, then batched).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS, show_default=True)
def cli(batches, rows, scale_rows, retire_rows, out):
    """Measure and write bench/results.json (on a fresh local Anvil)."""
    logger.set_level("WARNING")  # a line per transaction would drown the report
    with plain_anvil() as (url, _), networks.parse_network_choice(url) as provider:
        run_bench(
            project,
            provider,
            list(accounts.test_accounts)[:10],
            batches=batches,
            rows=rows,
            scale_rows=tuple(int(n) for n in scale_rows.split(",")),
            retire_rows=retire_rows,
            out=out,
            echo=click.echo,
        )


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "bench")
