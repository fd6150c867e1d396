"""Retire credits: one retirement from the command line, or every row of a CSV file; see docs/retirement.md.

ape run retire one --project VCS:1748 --batch VCU-2021 --amount 12.5 --name "Acme GmbH" \
    --reason "Scope 1 emissions FY2025" --jurisdiction DE --period 2025 --account holder --network ...
ape run retire one --id 18446744073709551617 --id 18446744073709551618 --amount 1 --amount 2.5 ...
ape run retire one --issue --project VCS:1748 --batch VCU-2021 --amount 3 ... --account issuer   # issue-and-retire
ape run retire csv --csv retirements.csv [--dry-run] --account holder --network ...
ape run retire csv --csv retirements.csv --batch-size 1 ...   # one transaction per row, as before retireBatch

Each retirement is one certificate. Safe to run again after a crash or on a finished file: a retirement whose
reference is already used on-chain is not made again, and its certificate is named.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.chain.errors import ToolError
from tonne.core.clihelp import WholeNumber, csv_option, fail_with_report, note, pending_timeout_option, quiet_option
from tonne.core.deployments import DeploymentError, connect
from tonne.retirement import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_WINDOW,
    command_request,
    format_plan,
    retire_from_csv,
    retire_request,
)


def _deployed(provider):
    try:
        return connect(provider)
    except DeploymentError as exc:
        raise click.ClickException(str(exc)) from exc


def _common(function):
    dry_run_help = "Check against the chain and print the plan; send nothing."
    function = click.option("--dry-run", is_flag=True, help=dry_run_help)(function)
    function = pending_timeout_option()(function)
    return quiet_option()(function)


def _show_plan(dry_run: bool, account):
    def show(plan):
        if dry_run:
            click.echo(format_plan(plan))
        elif plan.todo:
            note(
                f"{plan.path}: {len(plan.requests)} retirement(s), {len(plan.done)} already done; "
                f"sending {len(plan.batches)} transaction(s) from {account.address}"
            )

    return show


def _sending(dry_run: bool, pending_timeout, account) -> dict:
    """The options both commands pass on: dry run, pending wait, progress notes and the plan shown."""
    return dict(dry_run=dry_run, pending_timeout=pending_timeout, log=note, on_plan=_show_plan(dry_run, account))


def _retire(make_summary) -> None:
    """Run ``make_summary`` (check, plan, send) and print what it made; a tool error is its report, exit 1."""
    try:
        summary = make_summary()
    except ToolError as exc:
        fail_with_report(exc)
    _finish(summary)


def _finish(summary) -> None:
    """Name each certificate (up to 20 of each kind: larger runs give the totals only), then the summary."""
    for request, certificate_id in summary.done[:20]:
        where = f"line {request.line}" if request.line is not None else "this retirement"
        click.echo(f"already done: {where} ({request.reference}) is certificate #{certificate_id}")
    for made in summary.certified[:20]:
        request = made.retirement.request
        where = f"line {request.line}: " if request.line is not None else ""
        click.echo(f"{where}certificate #{made.certificate_id} ({request.reference}), transaction {made.tx_hash}")
    click.echo(summary.describe())
    ids = [m.certificate_id for m in summary.certified] or [c for _, c in summary.done]
    if ids and not summary.dry_run:
        click.echo(f"render a certificate: ape run certificate --id {ids[0]}")


@click.group()
def cli():
    """Retire credits for good, each retirement with its locked certificate."""


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.option(
    "--id", "ids", type=WholeNumber(min=0), multiple=True, help="Credit token id; repeat for several batches."
)
@click.option("--project", help="Project: numeric id or STANDARD:EXTERNAL_ID (with --batch).")
@click.option("--batch", "batches", multiple=True, help="Batch number or issuance reference; repeat for several.")
@click.option("--amount", "amounts", multiple=True, required=True, help="Tonnes (up to 3 decimals), one per batch.")
@click.option("--beneficiary", help="Account the certificate goes to (default: the retiring account).")
@click.option("--name", required=True, help="The beneficiary's name, as the certificate shows it.")
@click.option("--reason", required=True, help='Why, e.g. "Scope 1 emissions FY2025".')
@click.option("--jurisdiction", required=True, help="ISO 3166-1 alpha-2 or ISO 3166-2 code, e.g. DE or US-CA.")
@click.option("--period", required=True, help="Consumption period: YYYY, or YYYY-MM-DD:YYYY-MM-DD.")
@click.option("--reference", help="Idempotency key, used once ever (default: derived from all of the above).")
@click.option("--holder", help="Retire this holder's credits (it must have approved --account on the token).")
@click.option("--issue", is_flag=True, help="Issue the credits and retire them at once (--account is an issuer).")
@_common
def one(
    provider,
    account,
    ids,
    project,
    batches,
    amounts,
    beneficiary,
    name,
    reason,
    jurisdiction,
    period,
    reference,
    holder,
    issue,
    dry_run,
    pending_timeout,
    quiet,
):
    """Make one retirement (one certificate), of one batch or several; every check first."""
    deployed = _deployed(provider)

    def act():
        request = command_request(
            project=project,
            batches=batches,
            ids=ids,
            amounts=amounts,
            beneficiary=beneficiary,
            name=name,
            reason=reason,
            jurisdiction=jurisdiction,
            period=period,
            reference=reference,
            holder=holder,
            issue=issue,
            sender=str(account.address),
        )
        if reference is None:
            note(f"reference (derived from the request): {request.reference}")
        return retire_request(request, deployed, account, **_sending(dry_run, pending_timeout, account))

    _retire(act)


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@csv_option(
    "The retirement file: project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference "
    "[,beneficiary,holder]."
)
@click.option(
    "--window",
    type=WholeNumber(min=1, max=256),
    default=DEFAULT_WINDOW,
    show_default=True,
    help="Transactions in flight at once.",
)
@click.option(
    "--batch-size",
    type=WholeNumber(min=1, max=200),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Retirements (rows) per transaction, each still its own certificate; a transaction of several is atomic "
    "(one refused row reverts it all). 50 rows take some 4.8M gas; 1 sends one retire transaction per row. "
    "Example: --batch-size 20.",
)
@_common
def csv(provider, account, csv_path, window, batch_size, dry_run, pending_timeout, quiet):
    """Retire every row of a CSV file not yet retired on-chain, one certificate per row; all checks first."""
    deployed = _deployed(provider)
    _retire(
        lambda: retire_from_csv(
            csv_path,
            deployed,
            account,
            window=window,
            batch_size=batch_size,
            progress=not quiet and not dry_run,
            **_sending(dry_run, pending_timeout, account),
        )
    )


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "retire")
