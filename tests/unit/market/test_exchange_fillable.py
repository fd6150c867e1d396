"""fillable: how much of an order can be filled now, and why not more, so a book can drop stale orders."""

from __future__ import annotations

import pytest
from market_support import BUY, HOLDING, PRICE, UNITS

from tonne.market.orders import Limit

pytestmark = pytest.mark.usefixtures("market", "stranger")


def test_fillable__fresh_sell__all_of_it(market):
    assert market.fillable(market.order(amount=5 * UNITS)) == (5 * UNITS, Limit.NONE)


def test_fillable__partly_filled__remaining(market):
    order = market.order(amount=5 * UNITS)
    market.fill(order, UNITS)
    assert market.fillable(order) == (4 * UNITS, Limit.NONE)
    market.fill(order, 4 * UNITS)
    assert market.fillable(order) == (0, Limit.FILLED)


def test_fillable__maker_balance_short__limited_to_balance(market):
    order = market.order(amount=HOLDING + 5)
    assert market.fillable(order) == (HOLDING, Limit.MAKER_BALANCE_SHORT)


def test_fillable__maker_balance_below_min_fill__zero(market):
    order = market.order(amount=HOLDING + 5, min_fill=HOLDING + 1)
    assert market.fillable(order) == (0, Limit.MAKER_BALANCE_SHORT)


def test_fillable__sell_maker_revoked_operator__zero_approval_short(market):
    order = market.order()
    market.credit.setApprovalForAll(market.exchange, False, sender=market.seller)
    assert market.fillable(order) == (0, Limit.MAKER_APPROVAL_SHORT)


def test_fillable__buy_maker_allowance_and_balance__units_it_can_pay(market, stranger, admin):
    order = market.order(maker=stranger, side=BUY, amount=10 * UNITS)
    sig = market.sign(order, signer=stranger)
    market.usd.mint(stranger, 7 * PRICE + 3, sender=admin)
    assert market.fillable(order, signature=sig) == (0, Limit.MAKER_APPROVAL_SHORT)
    market.usd.approve(market.exchange, 5 * PRICE, sender=stranger)
    assert market.fillable(order, signature=sig) == (5, Limit.MAKER_APPROVAL_SHORT)
    market.usd.approve(market.exchange, 2**256 - 1, sender=stranger)
    assert market.fillable(order, signature=sig) == (7, Limit.MAKER_BALANCE_SHORT)


def test_fillable__blocking_reasons(market, chain):
    at = market.now() + 1000
    assert market.fillable(market.order(listed_at=at)) == (0, Limit.NOT_YET_LISTED)
    assert market.fillable(market.order(expiry=market.now() - 1)) == (0, Limit.EXPIRED)
    assert market.fillable(market.order(counter=7)) == (0, Limit.STALE_COUNTER)
    order = market.order()
    assert market.fillable(order, signature=b"\x01" * 65) == (0, Limit.BAD_SIGNATURE)
    assert market.fillable(order, id=market.id_b) == (0, Limit.CRITERIA_NOT_MET)
    market.exchange.cancel(order.as_struct(), sender=market.seller)
    assert market.fillable(order) == (0, Limit.CANCELLED)


def test_fillable__pause_freeze_suspension(market, regulator, registrar):
    order = market.order()
    market.credit.pause(sender=regulator)
    assert market.fillable(order) == (0, Limit.PAUSED)
    market.credit.unpause(sender=regulator)
    market.credit.setFrozen(market.seller, True, "inquiry", sender=regulator)
    assert market.fillable(order) == (0, Limit.MAKER_FROZEN)
    market.credit.setFrozen(market.seller, False, "cleared", sender=regulator)
    market.registry.setProjectStatus(market.id_a >> 64, 3, "investigation", sender=registrar)
    assert market.fillable(order) == (0, Limit.PROJECT_RESTRICTED)
