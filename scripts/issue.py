"""Issue credits from a CSV file (project,batch,recipient,tonnes,reference); see docs/issuance.md.

ape run issue --csv issuance.csv --account issuer --network ethereum:sepolia:node
ape run issue --csv issuance.csv --dry-run --account TEST::0      # check and show the plan; send nothing

Safe to run again after a crash or on a finished file: rows whose reference is already used on-chain are skipped.
Exit status: 0 done; 1 nothing sent (bad input) or a chunk failed / conflicted (the message says which lines);
3 done, but another run or transaction issued some rows meanwhile (they are listed as done by someone else).
"""

import sys

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.chain.errors import ToolError
from tonne.core.clihelp import WholeNumber, csv_option, fail_with_report, note, pending_timeout_option, quiet_option
from tonne.core.deployments import DeploymentError, connect
from tonne.issuance import format_plan, issue_from_csv
from tonne.issuance.send import RACED_EXIT


@click.command(cls=ConnectedProviderCommand)
@account_option()
@csv_option("The issuance file: project,batch,recipient,tonnes,reference.")
@click.option(
    "--chunk-size",
    type=WholeNumber(min=1),
    default=None,
    help="Orders (CSV rows) per issueMany transaction, e.g. --chunk-size 100. Default: as many as fit, at their "
    "worst-case gas, in half of the chain's block gas limit and under 2^24 gas (245 at a 30M block).",
)
@click.option("--dry-run", is_flag=True, help="Check the file against the chain and print the plan; send nothing.")
@pending_timeout_option()
@quiet_option()
def cli(provider, account, csv_path, chunk_size, dry_run, pending_timeout, quiet):
    """Issue every row of a CSV file not yet issued on-chain, in chunks of issueMany; all checks first.

    Exit status: 0 done; 1 nothing sent (bad input) or a chunk failed or conflicted (the message names the lines);
    3 done, but another run or transaction issued some rows meanwhile (listed as done by someone else)."""
    try:
        deployed = connect(provider)
    except DeploymentError as exc:
        raise click.ClickException(str(exc)) from exc

    def show_plan(plan):
        if dry_run:
            click.echo(format_plan(plan))
        elif plan.chunk_count:
            note(
                f"{plan.path}: {plan.row_count} rows, {plan.done_count} already issued; "
                f"sending {plan.orders} in {plan.chunk_count} transaction(s) from {account.address}"
            )

    try:
        summary = issue_from_csv(
            csv_path,
            deployed.credit,
            deployed.registry,
            account,
            chunk_size=chunk_size,
            dry_run=dry_run,
            progress=not quiet and not dry_run,
            pending_timeout=pending_timeout,
            log=note,
            on_plan=show_plan,
        )
    except ToolError as exc:  # IssuanceError, or PendingTransactionsError
        fail_with_report(exc)
    click.echo(summary.describe())
    if summary.raced:
        sys.exit(RACED_EXIT)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "issue")
