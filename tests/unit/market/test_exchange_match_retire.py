"""matchOrders (crossing pairs at the resting order's price, the matcher gaining nothing) and fillAndRetire
(buy and retire in one transaction, the certificate to the buyer's beneficiary, the exchange holding nothing)."""

from __future__ import annotations

import pytest
from market_support import BUY, PRICE, UNITS, fee_of

from support import events, plain, retirement_input, reverts

pytestmark = pytest.mark.usefixtures("market", "stranger")


def match(market, sell, buy, units, *, sender, id=None):
    return market.exchange.matchOrders(
        sell.as_struct(),
        market.sign(sell),
        buy.as_struct(),
        market.sign(buy),
        units,
        sell.token_id if id is None else id,
        sender=sender,
    )


@pytest.mark.parametrize(
    ("sell_listed", "buy_listed", "resting"),
    [(1, 2, "sell"), (2, 1, "buy"), (1, 1, "sell")],
    ids=["sell rests", "buy rests", "tie: sell"],
)
def test_match__crossing__at_resting_price_matcher_gains_nothing(market, stranger, sell_listed, buy_listed, resting):
    market.exchange.setFee(100, market.fee_recipient, sender=market.admin)
    sell = market.order(price_per_unit=PRICE, listed_at=sell_listed)
    buy = market.order(side=BUY, price_per_unit=PRICE + 1000, listed_at=buy_listed)
    price = sell.price_per_unit if resting == "sell" else buy.price_per_unit
    parties = (market.seller, market.buyer, market.fee_recipient, stranger, market.exchange)
    before = market.balances(*parties)

    receipt = match(market, sell, buy, 2 * UNITS, sender=stranger)

    after = market.balances(*parties)
    cost = 2 * UNITS * price
    fee = fee_of(cost, 100)
    assert after[0] == (before[0][0] - 2 * UNITS, before[0][1] + cost - fee)
    assert after[1] == (before[1][0] + 2 * UNITS, before[1][1] - cost)
    assert after[2][1] - before[2][1] == fee
    assert after[3] == before[3] and after[4] == before[4] == (0, 0)  # the matcher and the exchange: nothing
    sh, bh = market.hash(sell), market.hash(buy)
    assert receipt.return_value == [sh, bh] or tuple(receipt.return_value) == (sh, bh)
    filled = events(receipt, market.exchange, "OrderFilled")
    assert [(e["orderHash"], e["units"], e["pricePerUnit"], e["fee"]) for e in filled] == [
        (sh, 2 * UNITS, price, fee),
        (bh, 2 * UNITS, price, 0),
    ]
    assert events(receipt, market.exchange, "MatchSettled") == [
        plain(sellHash=sh, buyHash=bh, matcher=stranger, id=market.id_a, units=2 * UNITS, pricePerUnit=price, fee=fee)
    ]
    assert market.exchange.filledOf(sh) == market.exchange.filledOf(bh) == 2 * UNITS


def test_match__not_crossing__refused_naming_both_prices(market, stranger):
    sell = market.order(price_per_unit=PRICE + 1)
    buy = market.order(side=BUY, price_per_unit=PRICE)
    with reverts(market.exchange.ExchangeOrdersDoNotCross, sellPrice=PRICE + 1, buyPrice=PRICE):
        match(market, sell, buy, 1, sender=stranger)


def test_match__different_payment_tokens__refused(market, stranger):
    sell = market.order()
    buy = market.order(side=BUY, payment_token=market.credit.address)
    with reverts(market.exchange.ExchangePaymentTokenMismatch, sellToken=market.usd, buyToken=market.credit):
        match(market, sell, buy, 1, sender=stranger)


def test_match__two_sells__refused(market, stranger):
    sell = market.order()
    with reverts(market.exchange.ExchangeNotASellAndABuy, sellSide=0, buySide=0):
        match(market, sell, market.order(maker=market.buyer), 1, sender=stranger)


def test_match__id_not_meeting_the_buy__refused(market, stranger):
    sell = market.order(token_id=market.id_b)
    buy = market.order(side=BUY, token_id=market.id_a)
    with reverts(market.exchange.ExchangeWrongId, orderHash=market.hash(buy), id=market.id_b, tokenId=market.id_a):
        match(market, sell, buy, 1, sender=stranger)


def test_match__more_than_either_remaining__capped_at_the_smaller(market, stranger):
    sell = market.order(amount=500)
    buy = market.order(side=BUY, amount=300)
    receipt = match(market, sell, buy, 301, sender=stranger)
    assert [e["units"] for e in events(receipt, market.exchange, "OrderFilled")] == [300, 300]
    assert events(receipt, market.exchange, "MatchSettled")[0]["units"] == 300
    assert (market.exchange.filledOf(market.hash(sell)), market.exchange.filledOf(market.hash(buy))) == (300, 300)
    # The buy has nothing left: a further match is refused, naming it.
    with reverts(market.exchange.ExchangeOverfill, orderHash=market.hash(buy), units=200, remaining=0):
        match(market, sell, buy, 200, sender=stranger)


def test_match__capped_below_the_larger_orders_min_fill__refused(market, stranger):
    sell = market.order(amount=500, min_fill=400)
    buy = market.order(side=BUY, amount=300)
    with reverts(market.exchange.ExchangeFillBelowMinimum, orderHash=market.hash(sell), units=300, minimum=400):
        match(market, sell, buy, 500, sender=stranger)


def test_match__named_taker__counterparty_must_be_it(market, stranger):
    sell = market.order(taker=stranger.address)
    buy = market.order(side=BUY)
    with reverts(
        market.exchange.ExchangeNotNamedTaker, orderHash=market.hash(sell), caller=market.buyer, taker=stranger
    ):
        match(market, sell, buy, 1, sender=market.buyer)


def test_match__matcher_cannot_choose_price_by_order_of_arguments(market, stranger):
    # Swapping the arguments is refused; the price follows the orders' listing times, not the caller.
    sell = market.order(listed_at=1)
    buy = market.order(side=BUY, price_per_unit=PRICE * 2, listed_at=2)
    with reverts(market.exchange.ExchangeNotASellAndABuy, sellSide=1, buySide=0):
        market.exchange.matchOrders(
            buy.as_struct(), market.sign(buy), sell.as_struct(), market.sign(sell), 1, market.id_a, sender=stranger
        )
    receipt = match(market, sell, buy, 1, sender=stranger)
    assert events(receipt, market.exchange, "MatchSettled")[0]["pricePerUnit"] == PRICE


# ------------------------------------------------------------------ fillAndRetire


def test_fill_and_retire__certificate_to_beneficiary_credits_retired_exchange_holds_nothing(market, stranger):
    market.exchange.setFee(50, market.fee_recipient, sender=market.admin)
    order = market.order()
    inp = retirement_input(beneficiary=stranger.address, retirementRef=b"\x07" * 32)
    credits_before = market.credit.balanceOf(market.buyer, market.id_a)
    retired_before = market.credit.totalRetired(market.id_a)
    seller_cash = market.usd.balanceOf(market.seller)

    receipt = market.exchange.fillAndRetire(order.as_struct(), market.sign(order), 3 * UNITS, inp, sender=market.buyer)

    h, certificate_id = receipt.return_value
    assert bytes(h) == market.hash(order)
    assert market.retirement.ownerOf(certificate_id) == stranger.address
    view = market.retirement.certificate(certificate_id)
    assert (view.retiringAccount, view.firstId, view.totalAmount) == (market.buyer.address, market.id_a, 3 * UNITS)
    assert market.credit.totalRetired(market.id_a) == retired_before + 3 * UNITS
    assert market.credit.balanceOf(market.buyer, market.id_a) == credits_before
    assert market.credit.balanceOf(market.exchange, market.id_a) == 0
    assert market.usd.balanceOf(market.seller) - seller_cash == 3 * UNITS * PRICE - fee_of(3 * UNITS * PRICE, 50)
    assert events(receipt, market.exchange, "RetiredOnFill") == [
        plain(orderHash=market.hash(order), buyer=market.buyer, certificateId=certificate_id, units=3 * UNITS)
    ]
    assert market.retirement.certificateOfReference(market.buyer, b"\x07" * 32) == certificate_id


def test_fill_and_retire__buy_order__refused(market):
    order = market.order(side=BUY)
    with reverts(market.exchange.ExchangeNotASellOrder, orderHash=market.hash(order)):
        market.exchange.fillAndRetire(
            order.as_struct(), market.sign(order), 1, retirement_input(), sender=market.seller
        )


def test_fill_and_retire__buyer_without_operator_approval__retirement_refuses_all_reverts(market, stranger, admin):
    market.usd.mint(stranger, 10**12, sender=admin)
    market.usd.approve(market.exchange, 2**256 - 1, sender=stranger)
    order = market.order()
    with reverts(market.retirement.RetirementOperatorNotApproved, holder=stranger, operator=market.exchange):
        market.exchange.fillAndRetire(order.as_struct(), market.sign(order), 1, retirement_input(), sender=stranger)
    assert market.exchange.filledOf(market.hash(order)) == 0
    assert market.credit.balanceOf(stranger, market.id_a) == 0


def test_fill_and_retire__invalid_retirement_input__retirement_rules_apply(market):
    order = market.order()
    with reverts(market.retirement.RetirementEmptyField, field="reason"):
        market.exchange.fillAndRetire(
            order.as_struct(), market.sign(order), 1, retirement_input(reason=""), sender=market.buyer
        )
