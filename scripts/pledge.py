"""Borrow against credits at the credit facility, and read positions (see docs/pledge.md).

    ape run pledge open --collateral P1/B2:100 --maturity +90d --account borrower --network ...
    ape run pledge add 3 --collateral P1/B3:50           # pledge more to position 3
    ape run pledge borrow 3 1500.25                       # in the loan currency (e.g. tUSD)
    ape run pledge repay 3 500 | all
    ape run pledge withdraw 3 P1/B2 25.5                  # tonnes
    ape run pledge show 3                                 # value, debt, health factor, liquidation prices
    ape run pledge history [3]                            # every position event, and positions rebuilt from them
    ape run pledge faucet 100000                          # test tUSD (local/test chains: TestStablecoin)
    ape run pledge supply 100000                          # the lender (LENDER_ROLE), after the faucet
    ape run pledge set-class P1/B2 --ltv 50 --threshold 70 --max-age 86400    # the facility admin

Every command checks its inputs against the chain first; a rejected input sends nothing.
"""

from functools import partial

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.core.clihelp import FiniteNumber, WholeNumber, connect_deployment, run_action
from tonne.core.csvinput import parse_address
from tonne.core.units import format_tonnes, parse_tonnes_amount
from tonne.pledge.chain import connect_pledge
from tonne.pledge.ids import describe_class, parse_class, parse_token_id
from tonne.pledge.ops import (
    InputError,
    amount_arg,
    check_collateral,
    ensure_allowance,
    ensure_approval,
    is_test_token,
    parse_collateral,
    parse_maturity,
    require_balance,
    require_owner,
    transact,
)
from tonne.pledge.position import format_history, format_report, position_history, position_report


def _deployed(provider):
    return connect_deployment(provider, connect_pledge)


_run = partial(run_action, known=(InputError,))


@click.group()
def cli():
    """Credit facility: open, add, borrow, repay, withdraw, show, history; supply; set-class."""


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--collateral", multiple=True, required=True, help="ID:TONNES (t CO2e), e.g. P1/B2:100 (repeatable).")
@click.option("--maturity", required=True, help="+DAYSd, YYYY-MM-DD or unix seconds.")
def open(provider, account, collateral, maturity):  # noqa: A001 - the command's name
    """Open a position and pledge credits to it."""
    d = _deployed(provider)

    def act():
        items = parse_collateral(collateral)
        due = parse_maturity(maturity, provider.get_block("latest").timestamp)
        check_collateral(d, account.address, items)
        ensure_approval(d, account)
        return transact(
            d.facility.openPosition, due, [i.token_id for i in items], [i.units for i in items], sender=account
        )

    receipt = _run(act)
    click.echo(f"position {receipt.return_value} opened by {account.address} (tx {receipt.txn_hash})")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("position", type=WholeNumber(min=0))
@click.option("--collateral", multiple=True, required=True, help="ID:TONNES (repeatable).")
def add(provider, account, position, collateral):
    """Pledge more credits to a position of yours."""
    d = _deployed(provider)

    def act():
        require_owner(d, position, account)
        items = parse_collateral(collateral)
        check_collateral(d, account.address, items)
        ensure_approval(d, account)
        return transact(
            d.facility.pledge, position, [i.token_id for i in items], [i.units for i in items], sender=account
        )

    _run(act)
    click.echo(f"pledged to position {position}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("position", type=WholeNumber(min=0))
@click.argument("amount")
def borrow(provider, account, position, amount):
    """Borrow AMOUNT of the loan currency (e.g. 1500.25 = 1,500.25 tUSD; a plain decimal, '.' as the point)
    against POSITION, a position of yours."""
    d = _deployed(provider)

    def act():
        require_owner(d, position, account)
        units = amount_arg(d, amount)
        h = d.facility.health(position)
        room = max(h.borrowLimit - h.debt, 0)
        if units > room and not h.stale:
            raise InputError(
                f"AMOUNT {amount}: above the borrow limit: limit {d.money(h.borrowLimit)}, debt {d.money(h.debt)}, "
                f"at most {d.money(room)} more"
            )
        transact(d.facility.borrow, position, units, sender=account)
        return units

    units = _run(act)
    click.echo(f"borrowed {d.money(units)} on position {position}; debt now {d.money(d.facility.debtOf(position))}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("position", type=WholeNumber(min=0))
@click.argument("amount")
def repay(provider, account, position, amount):
    """Repay AMOUNT of the loan currency (e.g. 500 = 500 tUSD; a plain decimal), or `all`, of POSITION's debt,
    from your account."""
    d = _deployed(provider)

    def act():
        owed = d.facility.debtOf(position)
        if owed == 0:
            raise InputError(f"POSITION {position}: no debt to repay")
        units = 2**256 - 1 if amount == "all" else amount_arg(d, amount)
        if units != 2**256 - 1 and units > owed:
            raise InputError(f"AMOUNT {amount}: more than the {d.money(owed)} owed; use `all` to repay exactly")
        require_balance(d, account, owed if units == 2**256 - 1 else units, f"repay {position} {amount}")
        ensure_allowance(d, account, owed + owed // 100 + 1)
        return transact(d.facility.repay, position, units, sender=account)

    receipt = _run(act)
    click.echo(f"repaid {d.money(receipt.return_value)}; debt now {d.money(d.facility.debtOf(position))}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("position", type=WholeNumber(min=0))
@click.argument("credit_id")
@click.argument("tonnes")
def withdraw(provider, account, position, credit_id, tonnes):
    """Withdraw TONNES (t CO2e, at most 3 decimals, e.g. 25.5) of CREDIT_ID from POSITION, a position of yours."""
    d = _deployed(provider)

    def act():
        view = require_owner(d, position, account)
        try:
            token_id, units = parse_token_id(credit_id), parse_tonnes_amount(tonnes, allow_zero=True)
        except ValueError as exc:
            raise InputError(f"CREDIT_ID/TONNES: {exc}") from exc
        held = dict(zip(view.ids, view.amounts, strict=True)).get(token_id, 0)
        if units == 0 or units > held:
            raise InputError(f"TONNES {tonnes}: position {position} holds {format_tonnes(held)} of {credit_id}")
        transact(d.facility.withdraw, position, token_id, units, sender=account)
        return units

    units = _run(act)
    click.echo(f"withdrew {format_tonnes(units)} of {credit_id} from position {position}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("position", type=WholeNumber(min=0))
def show(provider, position):
    """Collateral value, debt, health factor and liquidation prices of a position."""
    d = _deployed(provider)
    try:
        report = position_report(d, position)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_report(d, report))


@cli.command(cls=ConnectedProviderCommand)
@click.argument("position", type=WholeNumber(min=0), required=False)
def history(provider, position):
    """Every position event (of one position), and the positions rebuilt from events alone."""
    d = _deployed(provider)
    h = position_history(d, provider.web3, position)
    click.echo(format_history(d, h))
    for pid, p in sorted(h.positions.items()):
        collateral = ", ".join(f"{format_tonnes(a)} of {describe_class(i)}" for i, a in p.collateral.items()) or "none"
        click.echo(
            f"position {pid}: owner {p.owner}; collateral {collateral}; scaled debt {p.scaled_debt}; "
            f"borrowed {d.money(p.borrowed)}, repaid {d.money(p.repaid)}, bad debt {d.money(p.bad_debt)}"
        )


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("amount")
def supply(provider, account, amount):
    """Supply AMOUNT of the loan currency as liquidity (e.g. 100000 = 100,000 tUSD; a plain decimal); LENDER_ROLE."""
    d = _deployed(provider)

    def act():
        units = amount_arg(d, amount)
        if not d.facility.hasRole(d.facility.LENDER_ROLE(), account.address):
            raise InputError(
                f"--account {account.address} does not hold LENDER_ROLE at the facility; the facility's admin "
                f"grants it with grantRole(LENDER_ROLE, {account.address}) (or deploy with --lender); nothing was sent"
            )
        require_balance(d, account, units, f"supply {amount}")
        ensure_allowance(d, account, units)
        transact(d.facility.supplyLiquidity, units, sender=account)
        return units

    units = _run(act)
    click.echo(f"supplied {d.money(units)}; unborrowed cash {d.money(d.facility.cash())}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("amount")
@click.option("--to", "recipient", default=None, help="Who receives it (0x address); default the --account.")
def faucet(provider, account, amount, recipient):
    """Mint AMOUNT of the test loan currency (e.g. 100000 = 100,000 tUSD; a plain decimal) to --to or --account.
    Only where `ape run deploy --pledge` deployed its own TestStablecoin (local and test chains)."""
    d = _deployed(provider)

    def act():
        if not is_test_token(d):
            raise InputError(
                f"faucet: the loan currency {d.loan_token.address} of chain {provider.chain_id} is not the "
                "deployment's TestStablecoin; get it from its issuer. Nothing was sent"
            )
        units = amount_arg(d, amount)
        try:
            to = parse_address(recipient) if recipient else str(account.address)
        except ValueError as exc:
            raise InputError(f"--to {recipient!r}: {exc}") from exc
        transact(d.loan_token.mint, to, units, sender=account)
        return to, units

    to, units = _run(act)
    click.echo(f"minted {d.money(units)} to {to}; it holds {d.money(d.loan_token.balanceOf(to))}")


@cli.command("set-class", cls=ConnectedProviderCommand)
@account_option()
@click.argument("price_class")
@click.option("--ltv", type=FiniteNumber(0, 100), required=True, help="Loan-to-value, percent.")
@click.option("--threshold", type=FiniteNumber(0, 100), required=True, help="Liquidation threshold, percent.")
@click.option("--max-age", type=WholeNumber(min=1), required=True, help="Seconds a price stays usable.")
def set_class(provider, account, price_class, ltv, threshold, max_age):
    """Set the risk parameters of PRICE_CLASS (a credit id or vintage:<project>:<year>); the facility admin."""
    d = _deployed(provider)

    def act():
        try:
            class_id = parse_class(price_class)
        except ValueError as exc:
            raise InputError(f"PRICE_CLASS: {exc}") from exc
        ltv_bps, threshold_bps = round(ltv * 100), round(threshold * 100)
        if not (0 < ltv_bps < threshold_bps <= 10_000 or ltv_bps == threshold_bps == 0):
            raise InputError(f"--ltv {ltv} / --threshold {threshold}: need 0 < ltv < threshold <= 100 (or both 0)")
        return d.facility.setClassParams(class_id, ltv_bps, threshold_bps, max_age, sender=account)

    _run(act)
    click.echo(f"{price_class}: LTV {ltv}%, liquidation threshold {threshold}%, prices usable {max_age} s")


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "pledge")
