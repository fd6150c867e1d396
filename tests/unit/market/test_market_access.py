"""Access control of the exchange: a stranger is refused by every privileged function, and the table is checked
against the ABI, so that a new state-changing function without a refusal test (or a reason to be open) fails
here. Settlement is open to anyone by design: a caller only ever spends its own credits or cash, or settles
orders their makers signed; those paths have their own stranger tests below."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from eth_utils import keccak
from market_support import BUY, UNITS

from support import reverts

pytestmark = pytest.mark.usefixtures("market", "stranger", "attacker")

UNHELD_ROLE = keccak(text="UNHELD_ROLE")
PUBLIC_BY_DESIGN = {
    "fill": "the caller is the taker: it spends only its own cash (or credits), against an order its maker signed",
    "fillMany": "fill, several times, the caller the taker of each",
    "matchOrders": "settles two orders their makers signed, at their own prices; the caller receives nothing",
    "fillAndRetire": "fill, then the retirement module retires the caller's own credits (its approval checked)",
    "incrementCounter": "raises only the caller's own counter",
}


class Row(NamedTuple):
    function: str
    args: Callable[[Any], list]
    refusal: str | Callable[[Any, Any], tuple[str, dict]]


def _not_maker(c, caller):
    return "ExchangeCallerNotMaker", dict(orderHash=c.market.hash(c.order), caller=caller, maker=c.market.seller)


TABLE = [
    Row("setFee", lambda c: [100, c.stranger], "DEFAULT_ADMIN_ROLE"),
    Row("cancel", lambda c: [c.order.as_struct()], _not_maker),
    Row("grantRole", lambda c: [UNHELD_ROLE, c.stranger], "DEFAULT_ADMIN_ROLE"),
    Row("revokeRole", lambda c: [UNHELD_ROLE, c.market.admin], "DEFAULT_ADMIN_ROLE"),
    Row(
        "renounceRole", lambda c: [UNHELD_ROLE, c.market.admin], lambda c, caller: ("AccessControlBadConfirmation", {})
    ),
    Row("beginDefaultAdminTransfer", lambda c: [c.stranger], "DEFAULT_ADMIN_ROLE"),
    Row("cancelDefaultAdminTransfer", lambda c: [], "DEFAULT_ADMIN_ROLE"),
    Row(
        "acceptDefaultAdminTransfer",
        lambda c: [],
        lambda c, caller: ("AccessControlInvalidDefaultAdmin", dict(defaultAdmin=caller)),
    ),
    Row("changeDefaultAdminDelay", lambda c: [3600], "DEFAULT_ADMIN_ROLE"),
    Row("rollbackDefaultAdminDelay", lambda c: [], "DEFAULT_ADMIN_ROLE"),
]


class Ctx:
    def __init__(self, market, stranger):
        self.market, self.stranger = market, stranger
        self.order = market.order()


def call_refused(row: Row, c: Ctx, caller) -> None:
    exchange = c.market.exchange
    if isinstance(row.refusal, str):
        error, inputs = (
            "AccessControlUnauthorizedAccount",
            dict(account=caller, neededRole=getattr(exchange, row.refusal)()),
        )
    else:
        error, inputs = row.refusal(c, caller)
    with reverts(getattr(exchange, error), **inputs):
        getattr(exchange, row.function)(*row.args(c), sender=caller)


@pytest.mark.parametrize("row", TABLE, ids=[r.function for r in TABLE])
def test_privileged_function__stranger__refused(market, stranger, row):
    call_refused(row, Ctx(market, stranger), stranger)


@pytest.mark.parametrize("row", TABLE, ids=[r.function for r in TABLE])
def test_privileged_function__a_trading_party__refused(market, stranger, row):
    # The buyer trades here every day, and has no power over the exchange's settings or the seller's orders.
    call_refused(row, Ctx(market, stranger), market.buyer)


def test_access_table__covers_every_state_changing_function(market):
    abi = {m.name for m in market.exchange.contract_type.methods if m.stateMutability not in ("view", "pure")}
    tested = {r.function for r in TABLE}
    public = set(PUBLIC_BY_DESIGN)
    assert not tested & public
    assert abi - tested - public == set(), "state-changing functions with no stranger test"
    assert (tested | public) - abi == set(), "stale rows"


def test_fill__stranger_without_cash__pays_nothing_gets_nothing(market, stranger):
    order = market.order()
    with reverts(
        market.usd.ERC20InsufficientAllowance, spender=market.exchange, allowance=0, needed=UNITS * order.price_per_unit
    ):
        market.fill(order, UNITS, sender=stranger)
    assert market.credit.balanceOf(stranger, market.id_a) == 0


def test_fill_buy_order__stranger_delivers_only_its_own_credits(market, stranger):
    # The taker of a buy order is the caller: a stranger cannot deliver the seller's credits in its own name.
    order = market.order(side=BUY)
    with reverts(market.credit.ERC1155MissingApprovalForAll, operator=market.exchange, owner=stranger):
        market.fill(order, UNITS, sender=stranger)


def test_fill__dust_fill_against_min_fill_order__refused(market, stranger, admin):
    # Griefing a large order with dust fills (each a new event, a new partial state for the book): refused while
    # more than minFill remains.
    market.usd.mint(stranger, 10**12, sender=admin)
    market.usd.approve(market.exchange, 2**256 - 1, sender=stranger)
    order = market.order(amount=10 * UNITS, min_fill=UNITS)
    with reverts(market.exchange.ExchangeFillBelowMinimum, orderHash=market.hash(order), units=1, minimum=UNITS):
        market.fill(order, 1, sender=stranger)


def test_admin_transfer__two_steps(market, chain, stranger):
    ex = market.exchange
    ex.beginDefaultAdminTransfer(stranger, sender=market.admin)
    chain.pending_timestamp = ex.pendingDefaultAdmin().schedule + 1
    ex.acceptDefaultAdminTransfer(sender=stranger)
    assert ex.defaultAdmin() == stranger.address
    ex.setFee(10, stranger, sender=stranger)
    with reverts(ex.AccessControlUnauthorizedAccount, account=market.admin, neededRole=ex.DEFAULT_ADMIN_ROLE()):
        ex.setFee(0, stranger, sender=market.admin)
