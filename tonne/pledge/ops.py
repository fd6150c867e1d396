"""Borrower and lender actions for the scripts: inputs parsed and checked against the chain before anything is
sent, so a rejected input changes nothing on-chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tonne.core.units import format_tonnes, parse_tonnes_amount
from tonne.pledge.chain import PledgeDeployed, parse_money
from tonne.pledge.ids import describe_class, parse_token_id


class InputError(ValueError):
    """A command-line input that is wrong, said in terms of the option or argument at fault."""


@dataclass(frozen=True)
class Collateral:
    token_id: int
    units: int


def parse_collateral(specs: tuple[str, ...] | list[str]) -> list[Collateral]:
    """``P1/B2:100.5`` (id, tonnes) items of ``--collateral``."""
    out = []
    for spec in specs:
        token, sep, tonnes = spec.rpartition(":")
        if not sep:
            raise InputError(f"--collateral {spec!r}: expected ID:TONNES, e.g. P1/B2:100.5")
        try:
            out.append(Collateral(parse_token_id(token), parse_tonnes_amount(tonnes)))
        except ValueError as exc:
            raise InputError(f"--collateral {spec!r}: {exc}") from exc
    return out


def parse_maturity(text: str, now: int) -> int:
    """``+90d`` (days from now), a date ``2027-06-30`` (midnight UTC), or unix seconds; must be in the future."""
    text = text.strip()
    try:
        if text.startswith("+") and text.endswith("d"):
            value = now + int(text[1:-1]) * 86_400
        elif text.isdigit():
            value = int(text)
        else:
            value = int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())
    except ValueError as exc:
        raise InputError(f"--maturity {text!r}: expected +DAYSd, YYYY-MM-DD or unix seconds") from exc
    if value <= now:
        raise InputError(f"--maturity {text!r}: {value} is not after the chain's time {now}")
    return value


def check_collateral(d: PledgeDeployed, owner: str, items: list[Collateral]) -> None:
    """Every id listed at the facility and held by ``owner`` in the amount pledged."""
    for item in items:
        class_id = d.oracle.classOf(item.token_id)
        if d.facility.classParams(class_id).liquidationThresholdBps == 0:
            raise InputError(
                f"--collateral {describe_class(item.token_id)}: its price class {describe_class(class_id)} has no "
                "risk parameters at the facility (ape run pledge set-class)"
            )
        held = d.credit.balanceOf(owner, item.token_id)
        if held < item.units:
            raise InputError(
                f"--collateral {describe_class(item.token_id)}: {owner} holds {format_tonnes(held)}, "
                f"not {format_tonnes(item.units)}"
            )


def ensure_approval(d: PledgeDeployed, account: Any) -> Any | None:
    if d.credit.isApprovedForAll(account.address, d.facility.address):
        return None
    return d.credit.setApprovalForAll(d.facility.address, True, sender=account)


def ensure_allowance(d: PledgeDeployed, account: Any, amount: int) -> Any | None:
    if d.loan_token.allowance(account.address, d.facility.address) >= amount:
        return None
    return d.loan_token.approve(d.facility.address, 2**256 - 1, sender=account)


def is_test_token(d: PledgeDeployed) -> bool:
    """The loan currency is the deployment's own TestStablecoin (open mint: local and test chains only)."""
    return bool(d.record.get("config", {}).get("pledge", {}).get("testLoanToken")) and "TestStablecoin" in d.record.get(
        "contracts", {}
    )


def require_balance(d: PledgeDeployed, account: Any, needed: int, what: str) -> None:
    """Refuse before sending when ``account`` holds less than ``needed`` of the loan currency for ``what``."""
    held = int(d.loan_token.balanceOf(account.address))
    if held >= needed:
        return
    how = (
        f"; get test {d.symbol} with `ape run pledge faucet {_plain(needed - held, d.decimals)} --account ...`"
        if is_test_token(d)
        else f"; transfer {d.symbol} to it first"
    )
    raise InputError(
        f"{what}: --account {account.address} holds {d.money(held)}, needs {d.money(needed)} "
        f"({d.money(needed - held)} short){how}; nothing was sent"
    )


def _plain(units: int, decimals: int) -> str:
    whole, frac = divmod(units, 10**decimals)
    return f"{whole}" + (("." + f"{frac:0{decimals}d}".rstrip("0")) if frac else "")


def require_owner(d: PledgeDeployed, position_id: int, account: Any) -> Any:
    view = d.facility.position(position_id)
    if int(str(view.owner), 16) == 0:
        raise InputError(f"POSITION {position_id}: no such position (positions so far: {d.facility.positionCount()})")
    if str(view.owner).lower() != str(account.address).lower():
        raise InputError(f"POSITION {position_id}: owned by {view.owner}, not by --account {account.address}")
    return view


def amount_arg(d: PledgeDeployed, text: str, name: str = "AMOUNT") -> int:
    try:
        units = parse_money(text, d.decimals)
    except ValueError as exc:
        raise InputError(f"{name} {text!r}: {exc}") from exc
    if units == 0:
        raise InputError(f"{name} {text!r}: must be above zero")
    return units


def transact(method: Any, *args: Any, sender: Any) -> Any:
    """Send ``method(*args)`` with headroom over the gas estimate. The estimate runs on the pending block; the
    facility's interest accrual (one slot write, one event) happens only when the mined block's time has moved
    on, so an exact estimate can fall short by a few thousand gas."""
    estimate = method.estimate_gas_cost(*args, sender=sender)
    return method(*args, sender=sender, gas=int(estimate * 1.25) + 30_000)
