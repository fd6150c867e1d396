"""Post credit prices from a CSV or JSON file (class,price,observed_at; see tonne/pledge/prices.py).

    ape run price_feed --source prices.csv --account feeder --network ...
    ape run price_feed --source prices.json --dry-run

The whole file is checked first, on its own and against the chain; any problem is reported as
file:line: field: message and nothing is sent (exit 1). Rows the oracle already has (same time and price) are
skipped, so a run can be repeated (or scheduled on a growing file) safely; a row at the stored time with another
price is a conflict (nothing is sent, exit 1); a row older than the stored observation is reported as superseded.
"""

import sys
import time

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.chain.errors import ToolError
from tonne.chain.view import ChainView
from tonne.core.clihelp import fail_with_report, note, pending_timeout_option
from tonne.core.deployments import DeploymentError
from tonne.pledge.chain import connect_pledge
from tonne.pledge.ids import describe_class
from tonne.pledge.prices import FeedSendError, PriceFileError, run_feed


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option(
    "--source",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV or JSON file of class,price,observed_at: price per tonne in the loan currency (e.g. 12.50, at most its "
    "decimals); observed_at in unix seconds or ISO 8601 UTC (2026-11-20T10:00:00Z).",
)
@click.option("--dry-run", is_flag=True, help="Check and show what would be posted; send nothing.")
@pending_timeout_option()
def cli(provider, account, source, dry_run, pending_timeout):
    """Post every price of SOURCE the oracle does not have yet."""
    try:
        d = connect_pledge(provider)
    except DeploymentError as exc:
        raise click.ClickException(str(exc)) from exc

    def show_plan(plan):
        for row, stored_at in plan.superseded:
            click.echo(
                f"not posting {describe_class(row.class_id)} {d.money(row.price)} observed {row.observed_at}: "
                f"superseded (older than the on-chain price at {stored_at})"
            )
        for row in plan.to_post:
            click.echo(
                f"{'would post' if dry_run else 'posting'} {describe_class(row.class_id)} {d.money(row.price)} "
                f"observed {row.observed_at}"
            )

    def check_role():
        if not d.oracle.hasRole(d.oracle.PRICE_FEEDER_ROLE(), account.address):
            raise click.ClickException(f"--account {account.address} does not hold PRICE_FEEDER_ROLE at the oracle")

    try:
        # Wall-clock time: an idle chain's latest block lags behind, and the block that will carry the prices is
        # stamped with the time it is mined. A chain that runs ahead of the clock (a test chain) keeps its time.
        now = max(int(time.time()), int(provider.get_block("latest").timestamp))
        summary = run_feed(
            d,
            source,
            now,
            account,
            view=ChainView(provider.web3),
            dry_run=dry_run,
            pending_timeout=pending_timeout,
            log=note,
            on_plan=show_plan,
            before_send=check_role,
        )
    except PriceFileError as exc:
        click.echo(exc.report(), err=True)
        sys.exit(1)
    except FeedSendError as exc:  # the oracle's refusal of a transaction, decoded
        raise click.ClickException(exc.summary) from exc
    except ToolError as exc:  # PendingTransactionsError, RpcLost
        fail_with_report(exc)
    click.echo(summary.describe())


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "price_feed")
