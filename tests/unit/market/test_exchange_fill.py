"""CreditExchange.fill and fillMany: delivery versus payment, exact amounts, fees, partial fills, overfills, the
order's life (listing, expiry, minimum fill, named taker), and the admin's fee."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from market_support import BUY, PRICE, UNITS, USD, fee_of

from support import ZERO_ADDRESS, events, plain, reverts

pytestmark = pytest.mark.usefixtures("market", "stranger", "attacker")


def set_fee(market, bps, recipient=None):
    recipient = market.fee_recipient if recipient is None else recipient
    return market.exchange.setFee(bps, recipient, sender=market.admin)


# ------------------------------------------------------------------ settlement


def test_fill_sell__no_fee__credits_to_taker_exact_cost_to_maker_event_and_filled(market):
    order = market.order(amount=10 * UNITS)
    before = market.balances(market.seller, market.buyer, market.exchange)

    receipt = market.fill(order, 3 * UNITS)

    after = market.balances(market.seller, market.buyer, market.exchange)
    cost = 3 * UNITS * PRICE
    assert after[0] == (before[0][0] - 3 * UNITS, before[0][1] + cost)
    assert after[1] == (before[1][0] + 3 * UNITS, before[1][1] - cost)
    assert after[2] == before[2] == (0, 0)  # the exchange holds nothing
    h = market.hash(order)
    assert tuple(receipt.return_value) == (h, 3 * UNITS)
    assert market.exchange.filledOf(h) == 3 * UNITS
    assert events(receipt, market.exchange, "OrderFilled") == [
        plain(
            orderHash=h,
            maker=market.seller,
            taker=market.buyer,
            side=0,
            id=market.id_a,
            units=3 * UNITS,
            pricePerUnit=PRICE,
            paymentToken=market.usd,
            fee=0,
            filledTotal=3 * UNITS,
        )
    ]


def test_fill_sell__with_fee__fee_cut_from_seller_buyer_pays_exact_cost(market):
    set_fee(market, 250)
    order = market.order()
    before = market.balances(market.seller, market.buyer, market.fee_recipient)

    receipt = market.fill(order, 777)

    cost = 777 * PRICE
    fee = fee_of(cost, 250)
    after = market.balances(market.seller, market.buyer, market.fee_recipient)
    assert after[0][1] - before[0][1] == cost - fee
    assert before[1][1] - after[1][1] == cost
    assert after[2][1] - before[2][1] == fee
    assert events(receipt, market.exchange, "OrderFilled")[0]["fee"] == fee


def test_fill_buy__taker_delivers_credits_maker_pays_fee_from_proceeds(market):
    set_fee(market, 100)
    order = market.order(side=BUY, amount=5 * UNITS)
    before = market.balances(market.seller, market.buyer, market.fee_recipient)

    receipt = market.fill(order, 2 * UNITS, sender=market.seller)

    cost = 2 * UNITS * PRICE
    fee = fee_of(cost, 100)
    after = market.balances(market.seller, market.buyer, market.fee_recipient)
    assert after[0] == (before[0][0] - 2 * UNITS, before[0][1] + cost - fee)
    assert after[1] == (before[1][0] + 2 * UNITS, before[1][1] - cost)
    assert after[2][1] - before[2][1] == fee
    logged = events(receipt, market.exchange, "OrderFilled")[0]
    assert (logged["maker"], logged["taker"], logged["side"]) == (plain(market.buyer), plain(market.seller), 1)


def test_fill__price_zero__credits_move_no_payment(market):
    order = market.order(price_per_unit=0)
    before = market.balances(market.seller, market.buyer)
    market.fill(order, 10)
    after = market.balances(market.seller, market.buyer)
    assert [a[1] for a in after] == [b[1] for b in before]
    assert after[1][0] == before[1][0] + 10


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    units=st.integers(1, 10 * UNITS),
    price=st.integers(1, 10**9),
    fee_bps=st.integers(0, 500),
)
def test_fill__fuzzed_units_price_fee__buyer_pays_units_times_price_seller_cost_minus_fee(
    market, units, price, fee_bps
):
    # No rounding on the trade: the cost of any partial fill is exact; the fee alone is rounded, up (so a split
    # never pays less), and it is paid out of the seller's proceeds: the buyer pays the cost, nothing more.
    set_fee(market, fee_bps)
    order = market.order(price_per_unit=price)
    before = market.balances(market.seller, market.buyer, market.fee_recipient)
    market.fill(order, units)
    after = market.balances(market.seller, market.buyer, market.fee_recipient)
    cost = units * price
    fee = -(-cost * fee_bps // 10_000)
    assert fee == fee_of(cost, fee_bps) and fee_bps * cost <= fee * 10_000 < fee_bps * cost + 10_000
    assert before[1][1] - after[1][1] == cost
    assert after[0][1] - before[0][1] == cost - fee
    assert after[2][1] - before[2][1] == fee
    assert after[1][0] - before[1][0] == before[0][0] - after[0][0] == units


# ------------------------------------------------------------------ amounts


def test_fill__more_than_amount_in_one_fill__capped_at_the_amount(market):
    order = market.order(amount=1000)
    before = market.balances(market.buyer)
    receipt = market.fill(order, 1001)
    assert tuple(receipt.return_value) == (market.hash(order), 1000)
    assert events(receipt, market.exchange, "OrderFilled")[0]["units"] == 1000
    after = market.balances(market.buyer)
    assert (after[0][0] - before[0][0], before[0][1] - after[0][1]) == (1000, 1000 * PRICE)


def test_fill__over_many_fills__capped_then_nothing_left_reverts_and_filled_stays_at_amount(market):
    order = market.order(amount=1000)
    market.fill(order, 600)
    assert tuple(market.fill(order, 2**256 - 1).return_value)[1] == 400  # any ask: what remains
    with reverts(market.exchange.ExchangeOverfill, orderHash=market.hash(order), units=1, remaining=0):
        market.fill(order, 1)
    assert market.exchange.filledOf(market.hash(order)) == 1000


def test_fill__zero_units__reverts(market):
    order = market.order()
    with reverts(market.exchange.ExchangeZeroUnits, orderHash=market.hash(order)):
        market.fill(order, 0)


def test_fill__below_min_fill__reverts_then_last_remainder_below_min_allowed(market):
    order = market.order(amount=1000, min_fill=300)
    h = market.hash(order)
    with reverts(market.exchange.ExchangeFillBelowMinimum, orderHash=h, units=299, minimum=300):
        market.fill(order, 299)
    market.fill(order, 800)
    # 200 remain, below minFill: the minimum is what remains, so nobody is left with unfillable dust.
    with reverts(market.exchange.ExchangeFillBelowMinimum, orderHash=h, units=199, minimum=200):
        market.fill(order, 199)
    market.fill(order, 200)
    assert market.exchange.filledOf(h) == 1000


def test_fill_many__same_order_twice__second_capped_third_skipped_never_overfills(market):
    order = market.order(amount=1000)
    sig = market.sign(order)
    thrice = [(order.as_tuple(), sig, 700, market.id_a), (order.as_tuple(), sig, 400, market.id_a),
              (order.as_tuple(), sig, 5, market.id_a)]  # fmt: skip
    cash = market.usd.balanceOf(market.buyer)
    receipt = market.exchange.fillMany(thrice, sender=market.buyer)
    logged = events(receipt, market.exchange, "OrderFilled")
    assert [(e["units"], e["filledTotal"]) for e in logged] == [(700, 700), (300, 1000)]  # the third: skipped
    assert market.exchange.filledOf(market.hash(order)) == 1000
    assert cash - market.usd.balanceOf(market.buyer) == 1000 * PRICE


def test_fill_many__several_orders_and_ids__each_settled(market):
    orders = [market.order(token_id=market.id_a), market.order(token_id=market.id_b), market.order(side=BUY)]
    fills = [
        (orders[0].as_tuple(), market.sign(orders[0]), 100, market.id_a),
        (orders[1].as_tuple(), market.sign(orders[1]), 200, market.id_b),
    ]
    before_b = market.credit.balanceOf(market.buyer, market.id_b)
    receipt = market.exchange.fillMany(fills, sender=market.buyer)
    assert [e["units"] for e in events(receipt, market.exchange, "OrderFilled")] == [100, 200]
    assert market.credit.balanceOf(market.buyer, market.id_b) == before_b + 200
    assert market.exchange.filledOf(market.hash(orders[1])) == 200


def test_fill_many__empty__reverts(market):
    with reverts(market.exchange.ExchangeNoFills):
        market.exchange.fillMany([], sender=market.buyer)


def test_fill_many__one_bad_fill__reverts_all(market):
    good, bad = market.order(), market.order(amount=10, min_fill=5)
    fills = [(good.as_tuple(), market.sign(good), 5, market.id_a), (bad.as_tuple(), market.sign(bad), 4, market.id_a)]
    with reverts(market.exchange.ExchangeFillBelowMinimum, orderHash=market.hash(bad), units=4, minimum=5):
        market.exchange.fillMany(fills, sender=market.buyer)
    assert market.exchange.filledOf(market.hash(good)) == 0


def test_fill_many__entry_of_a_cancelled_order__reverts_all_not_skipped(market):
    # Only an order with nothing left is skipped; a dead order (cancelled, expired, stale counter) still reverts.
    good, gone = market.order(), market.order()
    market.exchange.cancel(gone.as_struct(), sender=market.seller)
    fills = [(o.as_tuple(), market.sign(o), 5, market.id_a) for o in (good, gone)]
    with reverts(market.exchange.ExchangeOrderCancelled, orderHash=market.hash(gone)):
        market.exchange.fillMany(fills, sender=market.buyer)


# ------------------------------------------------------------------ life of an order


def test_fill__at_expiry_second__fills_one_second_later__reverts(market, chain):
    at = market.now() + 100
    first, second = market.order(expiry=at), market.order(expiry=at)
    chain.pending_timestamp = at
    market.fill(first, 1)  # the expiry's own second still counts
    chain.pending_timestamp = at + 1
    with reverts(market.exchange.ExchangeOrderExpired, orderHash=market.hash(second), expiry=at, now=at + 1):
        market.fill(second, 1)


def test_fill__before_listed_at__reverts_then_fills_from_it(market, chain):
    at = market.now() + 100
    order = market.order(listed_at=at)
    chain.pending_timestamp = at - 1
    with reverts(market.exchange.ExchangeOrderNotYetListed, orderHash=market.hash(order), listedAt=at, now=at - 1):
        market.fill(order, 1)
    chain.pending_timestamp = at
    market.fill(order, 1)


def test_fill__named_taker__only_that_taker(market, stranger):
    order = market.order(taker=market.buyer.address)
    with reverts(
        market.exchange.ExchangeNotNamedTaker, orderHash=market.hash(order), caller=stranger, taker=market.buyer
    ):
        market.fill(order, 1, sender=stranger)
    market.fill(order, 1, sender=market.buyer)


def test_fill__taker_is_maker__self_trade_refused(market):
    order = market.order()
    with reverts(market.exchange.ExchangeSelfTrade, account=market.seller):
        market.fill(order, 1, sender=market.seller)


def test_fill__invalid_side__reverts(market):
    order = market.order()
    struct = dict(order.as_struct(), side=2)
    h = market.exchange.hashOrder(struct)
    with reverts(market.exchange.ExchangeInvalidSide, orderHash=h, side=2):
        market.exchange.fill(struct, b"\x00" * 65, 1, market.id_a, sender=market.buyer)


def test_fill_sell__wrong_id__reverts(market):
    order = market.order()
    with reverts(market.exchange.ExchangeWrongId, orderHash=market.hash(order), id=market.id_b, tokenId=market.id_a):
        market.fill(order, 1, id=market.id_b)


def test_fill__taker_pays_less_than_price__impossible_cost_is_units_times_price(market, stranger, admin):
    # A taker cannot choose the price: it only chooses units; with less cash than the cost the fill reverts whole.
    order = market.order(price_per_unit=PRICE)
    market.usd.mint(stranger, 10 * PRICE - 1, sender=admin)
    market.usd.approve(market.exchange, 2**256 - 1, sender=stranger)
    with reverts(market.usd.ERC20InsufficientBalance, sender=stranger, balance=10 * PRICE - 1, needed=10 * PRICE):
        market.fill(order, 10, sender=stranger)
    assert market.exchange.filledOf(market.hash(order)) == 0
    assert market.credit.balanceOf(stranger, market.id_a) == 0


def test_fill__maker_revoked_operator_approval__token_refuses(market):
    order = market.order()
    market.credit.setApprovalForAll(market.exchange, False, sender=market.seller)
    with reverts(market.credit.ERC1155MissingApprovalForAll, operator=market.exchange, owner=market.seller):
        market.fill(order, 1)


def test_fill__fee_on_transfer_payment_token__refused_naming_expected_and_received(market, project, admin):
    fot = project.FeeOnTransferToken.deploy(sender=admin)
    fot.mint(market.buyer, 10**12, sender=admin)
    fot.approve(market.exchange, 2**256 - 1, sender=market.buyer)
    order = market.order(payment_token=fot.address, price_per_unit=1000)
    cost = 100 * 1000
    with reverts(
        market.exchange.ExchangePaymentShort,
        token=fot,
        seller=market.seller,
        expected=cost,
        received=cost - cost // 100,
    ):
        market.fill(order, 100)
    assert market.exchange.filledOf(market.hash(order)) == 0


def test_fill__payment_token_without_code__refused(market):
    order = market.order(payment_token="0x" + "ab" * 20)
    with reverts(market.exchange.ExchangeInvalidPaymentToken, token="0x" + "ab" * 20):
        market.fill(order, 1)


# ------------------------------------------------------------------ admin's fee


def test_set_fee__admin__applies_and_emits(market):
    receipt = set_fee(market, 500)
    assert market.exchange.fee() == (500, market.fee_recipient.address)
    assert events(receipt, market.exchange, "FeeUpdated") == [
        plain(feeBps=500, recipient=market.fee_recipient, by=market.admin)
    ]


def test_set_fee__above_max__reverts(market):
    with reverts(market.exchange.ExchangeInvalidFee, feeBps=501, maxFeeBps=500, recipient=market.fee_recipient):
        set_fee(market, 501)


def test_set_fee__nonzero_without_recipient__reverts(market):
    with reverts(market.exchange.ExchangeInvalidFee, feeBps=1, maxFeeBps=500, recipient=ZERO_ADDRESS):
        market.exchange.setFee(1, ZERO_ADDRESS, sender=market.admin)
    market.exchange.setFee(0, ZERO_ADDRESS, sender=market.admin)  # no fee needs no recipient
    assert market.exchange.fee() == (0, ZERO_ADDRESS)


def test_set_fee__stranger__refused(market, stranger):
    role = market.exchange.DEFAULT_ADMIN_ROLE()
    with reverts(market.exchange.AccessControlUnauthorizedAccount, account=stranger, neededRole=role):
        market.exchange.setFee(100, stranger, sender=stranger)


def test_views__credit_retirement_domain_and_interface(market):
    assert market.exchange.credit() == market.credit.address
    assert market.exchange.retirement() == market.retirement.address
    assert market.exchange.MAX_FEE_BPS() == 500
    assert bytes(market.exchange.domainSeparator()) == market.domain_separator()
    assert market.exchange.supportsInterface(bytes.fromhex("01ffc9a7"))
    assert USD == 10**6
