"""Compliance periods: open one, set obligations from CSV, surrender credits, report per entity.

    ape run compliance open-period --name "EU ETS 2025" --jurisdiction DE --period 2025-01-01:2025-12-31 \
        --deadline 2026-09-30 [--vintages 2016:2025] [--standard VCS --standard GS]
    ape run compliance set-obligations --period 1 --csv obligations.csv [--dry-run]
    ape run compliance surrender --period 1 --project VCS:1748 --batch VCU-2021 --amount 120.5 [--entity 0x..] \
        [--reference R]
    ape run compliance surrender --period 1 --id 18446744073709551617 --amount 1 --id ... --amount 2.5
    ape run compliance report --period 1 [--csv report.csv]

open-period and set-obligations need PERIOD_REGULATOR_ROLE; surrender is sent by the entity or by an operator it
approved on the credit token (--entity). Every command checks its input, and against the chain, before sending
anything; see docs/compliance.md.
"""

import sys

import click
from ape.cli import ConnectedProviderCommand, account_option
from ape.exceptions import ContractLogicError

from tonne.chain.errors import ToolError
from tonne.chain.refusal import refused
from tonne.chain.send import ape_abi
from tonne.chain.view import ChainView, error_names
from tonne.compliance import (
    ComplianceRefusal,
    InputError,
    ReportError,
    SendError,
    auto_reference,
    describe_vintages,
    format_report,
    iso,
    period_input,
    plan_surrender,
    read_report,
    resolve_credits,
    send_surrender,
    write_csv,
)
from tonne.compliance import set_obligations as set_obligations_from_csv
from tonne.core.clihelp import (
    WholeNumber,
    connect_deployment,
    csv_option,
    fail_with_report,
    note,
    pending_timeout_option,
)
from tonne.core.units import format_tonnes


def _deployed(provider):
    return connect_deployment(provider)


def _view(provider, deployed) -> ChainView:
    abis = [ape_abi(c) for c in (deployed.compliance, deployed.retirement, deployed.credit, deployed.registry)]
    return ChainView(provider.web3, errors=error_names(*abis))


@click.group()
def cli():
    """Compliance periods, obligations, surrenders and reports."""


@cli.command(name="open-period", cls=ConnectedProviderCommand)
@account_option()
@click.option("--name", required=True, help="e.g. 'EU ETS 2025 surrender'; the reason on every certificate.")
@click.option("--jurisdiction", required=True, help="ISO 3166-1 alpha-2 (DE) or ISO 3166-2 (US-CA).")
@click.option("--period", "emissions", required=True, help="Emissions period START:END, e.g. 2025-01-01:2025-12-31.")
@click.option("--deadline", required=True, help="YYYY-MM-DD (its last second, UTC), ISO date-time, or unix seconds.")
@click.option("--vintages", default=None, help="Eligible vintage years FROM:TO (2016:2025, 2021:, :2025); default any.")
@click.option("--standard", "standards", multiple=True, help="An eligible standard (repeatable); default any.")
def open_period(provider, account, name, jurisdiction, emissions, deadline, vintages, standards):
    """Open a compliance period (needs PERIOD_REGULATOR_ROLE)."""
    d = _deployed(provider)
    now = int(provider.web3.eth.get_block("latest")["timestamp"])
    try:
        terms = period_input(
            name=name,
            jurisdiction=jurisdiction,
            period=emissions,
            deadline=deadline,
            vintages=vintages,
            standards=standards,
            now=now,
        )
        receipt = d.compliance.openPeriod(terms.as_input(), sender=account)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    except ContractLogicError as exc:
        raise click.ClickException(refused(exc)) from exc
    (opened,) = receipt.decode_logs(d.compliance.PeriodOpened)
    click.echo(
        f"opened period {opened.periodId}: {terms.name} ({terms.jurisdiction}), deadline {iso(terms.deadline)}, "
        f"vintages {describe_vintages(terms.vintage_from, terms.vintage_to)}, "
        f"standards {', '.join(terms.standards) or 'any'}"
    )


@cli.command(name="set-obligations", cls=ConnectedProviderCommand)
@account_option()
@click.option("--period", "period_id", required=True, type=WholeNumber(min=1), help="The period's id.")
@csv_option(
    "entity,name,tonnes: the entity's 0x account, its name, its obligation in tonnes CO2e (e.g. 7500.25, at most 3 "
    "decimals; 0 removes it); see docs/compliance.md."
)
@click.option("--dry-run", is_flag=True, help="Check the file against the chain and print the plan; send nothing.")
@pending_timeout_option()
def set_obligations(provider, account, period_id, csv_path, dry_run, pending_timeout):
    """Set obligations from a CSV file (needs PERIOD_REGULATOR_ROLE); safe to run again."""
    d = _deployed(provider)

    def show_plan(plan):
        if dry_run or plan.changes:
            note(plan.describe())

    try:
        summary = set_obligations_from_csv(
            csv_path,
            _view(provider, d),
            d.compliance,
            period_id,
            account,
            dry_run=dry_run,
            pending_timeout=pending_timeout,
            log=note,
            on_plan=show_plan,
        )
    except SendError as exc:  # the contract's refusal of a chunk, decoded: one line, as before
        raise click.ClickException(exc.summary) from exc
    except ToolError as exc:  # FileError, PendingTransactionsError, RpcLost
        fail_with_report(exc)
    click.echo(summary.describe())


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--period", "period_id", required=True, type=WholeNumber(min=1), help="The period's id.")
@click.option(
    "--id", "ids", type=WholeNumber(min=0), multiple=True, help="Credit token id; repeat for several batches."
)
@click.option("--project", help="Project: numeric id or STANDARD:EXTERNAL_ID (with --batch).")
@click.option("--batch", "batches", multiple=True, help="Batch number or issuance reference; repeat for several.")
@click.option("--amount", "amounts", multiple=True, required=True, help="Tonnes (up to 3 decimals), one per batch.")
@click.option("--entity", default=None, help="Surrender for this entity (the sender must be its approved operator).")
@click.option("--reference", default=None, help="Idempotency key, used once ever (default: derived from the command).")
def surrender(provider, account, period_id, ids, project, batches, amounts, entity, reference):
    """Surrender credits against an obligation; every check first, then one transaction."""
    d = _deployed(provider)
    entity = entity or str(account.address)
    try:
        credits = resolve_credits(d.registry, ids=ids, project=project, batches=batches, amounts=amounts)
        if reference is None:
            sender = str(account.address)
            reference = auto_reference(sender=sender, entity=entity, period_id=period_id, credits=credits)
            note(f"reference (derived from the command): {reference}")
        plan = plan_surrender(
            _view(provider, d),
            periods=str(d.compliance.address),
            credit=str(d.credit.address),
            retirement=str(d.retirement.address),
            period_id=period_id,
            entity=entity,
            sender=str(account.address),
            credits=credits,
            reference=reference,
        )
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    except ComplianceRefusal as exc:
        fail_with_report(exc)
    if plan.done_certificate:
        click.echo(f"already done: reference {reference!r} is certificate {plan.done_certificate}; nothing was sent")
        return
    note(plan.describe())
    try:
        receipt, certificate_id = send_surrender(plan, d.compliance, account)
    except ContractLogicError as exc:
        raise click.ClickException(refused(exc)) from exc
    status = d.compliance.status(period_id, entity)
    click.echo(
        f"surrendered {format_tonnes(plan.total)} for {entity} in period {period_id}: certificate {certificate_id}, "
        f"tx {receipt.txn_hash}; now {format_tonnes(status.surrendered)} of {format_tonnes(status.obligation)}"
        + (" (compliant)" if status.compliant else f" ({format_tonnes(status.shortfall)} still owed)")
    )


@cli.command(cls=ConnectedProviderCommand)
@click.option("--period", "period_id", required=True, type=WholeNumber(min=1), help="The period's id.")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="Also write the report here.")
def report(provider, period_id, csv_path):
    """Per entity: obligation, surrendered, status; from chain data alone."""
    d = _deployed(provider)
    try:
        result = read_report(d.compliance, _view(provider, d), period_id, d.start_block)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_report(result))
    if csv_path:
        click.echo(f"written to {write_csv(result, csv_path)}")
    if result.inconsistent:
        sys.exit(2)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "compliance")
