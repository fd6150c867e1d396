"""Re-entrancy into the exchange: through the ERC-1155 receiver hook of a taker contract during a fill, and
through a payment token with transfer hooks. Every settling entry point is nonReentrant and books the fill before
any external call, so the nested call is refused and the outer fill settles exactly once."""

from __future__ import annotations

import pytest
from market_support import BUY, PRICE, UNITS

from support import decode_error, retirement_input

pytestmark = pytest.mark.usefixtures("market", "stranger")


@pytest.fixture
def taker(project, market, admin):
    """A ReentrantReceiver with cash, approving the exchange for its cash and credits."""
    t = project.ReentrantReceiver.deploy(sender=admin)
    market.usd.mint(t, 10**12, sender=admin)
    t.execute(market.usd, market.usd.approve.encode_input(market.exchange, 2**256 - 1), sender=admin)
    t.execute(market.credit, market.credit.setApprovalForAll.encode_input(market.exchange, True), sender=admin)
    return t


def nested_calls(market, order, sig):
    s = order.as_struct()
    other = market.order()
    return {
        "fill": market.exchange.fill.encode_input(s, sig, UNITS, market.id_a),
        "fillMany": market.exchange.fillMany.encode_input([(order.as_tuple(), sig, UNITS, market.id_a)]),
        "matchOrders": market.exchange.matchOrders.encode_input(
            other.as_struct(), market.sign(other), market.order(side=BUY).as_struct(), b"", 1, market.id_a
        ),
        "fillAndRetire": market.exchange.fillAndRetire.encode_input(s, sig, UNITS, retirement_input()),
        "cancel": market.exchange.cancel.encode_input(s),
        "incrementCounter": market.exchange.incrementCounter.encode_input(),
    }


@pytest.mark.parametrize("inner", ["fill", "fillMany", "matchOrders", "fillAndRetire", "cancel", "incrementCounter"])
def test_receiver_hook__reenters_exchange_during_fill__refused_outer_settles_once(market, taker, admin, inner):
    order = market.order(amount=3 * UNITS)
    sig = market.sign(order)
    taker.arm(market.exchange, nested_calls(market, order, sig)[inner], sender=admin)

    taker.execute(market.exchange, market.exchange.fill.encode_input(order.as_struct(), sig, UNITS, market.id_a),
                  sender=admin)  # fmt: skip

    assert taker.attempts() == 1 and taker.lastSucceeded() is False
    assert decode_error(market.exchange, taker.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert market.exchange.filledOf(market.hash(order)) == UNITS
    assert market.credit.balanceOf(taker, market.id_a) == UNITS
    assert market.credit.balanceOf(market.exchange, market.id_a) == 0


def test_hooked_payment_token__reenters_fill_from_transfer__refused_outer_settles_once(market, project, admin):
    hooked = project.HookedPaymentToken.deploy(sender=admin)
    hooked.mint(market.buyer, 10**12, sender=admin)
    hooked.approve(market.exchange, 2**256 - 1, sender=market.buyer)
    order = market.order(payment_token=hooked.address, amount=3 * UNITS)
    sig = market.sign(order)
    hooked.arm(market.exchange, market.exchange.fill.encode_input(order.as_struct(), sig, UNITS, market.id_a),
               sender=admin)  # fmt: skip

    market.fill(order, UNITS, signature=sig)

    assert hooked.attempts() == 1 and hooked.lastSucceeded() is False
    assert decode_error(market.exchange, hooked.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert market.exchange.filledOf(market.hash(order)) == UNITS
    assert hooked.balanceOf(market.seller) == UNITS * PRICE
    assert hooked.balanceOf(market.exchange) == 0
