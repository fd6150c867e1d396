"""The order book's raw ``fillable`` call (``Web3ExchangeView.fillable``: calldata encoded by hand, one eth_call)
against the real exchange: the same bytes as web3's ABI encoder, the same answer as ape's call."""

from __future__ import annotations

import pytest
from eth_abi import encode

from tonne.market.book.chain import FILLABLE_SELECTOR, Web3ExchangeView, fillable_calldata
from tonne.market.orders import BUY, ORDER_TYPE, Limit


@pytest.fixture(scope="module")
def view(market, chain):
    m = market
    return Web3ExchangeView(
        chain.provider.web3, m.exchange.address, m.registry.address, m.credit.address, chain_id=chain.chain_id
    )


def test_fillable_calldata__sell_and_criteria_buy__equals_the_abi_encoders(market):
    order_type = "(" + ",".join(f["type"] for f in ORDER_TYPE) + ")"
    for order in (
        market.order(),
        market.order(side=BUY, token_id=0, vintage_from=2021, country=b"ID", min_fill=5, taker=market.seller.address),
    ):
        signature = market.sign(order)
        expected = FILLABLE_SELECTOR + encode([order_type, "bytes", "uint256"], [order.as_tuple(), signature, 7])
        assert fillable_calldata(order, signature, 7) == "0x" + expected.hex()


def test_fillable_calldata__signature_of_odd_length__padded_to_a_word(market):
    order = market.order()
    order_type = "(" + ",".join(f["type"] for f in ORDER_TYPE) + ")"
    odd = b"\x01" * 70
    expected = FILLABLE_SELECTOR + encode([order_type, "bytes", "uint256"], [order.as_tuple(), odd, 1])
    assert fillable_calldata(order, odd, 1) == "0x" + expected.hex()


def test_view_fillable__live_filled_part_and_bad_signature__same_as_the_contract(market, view):
    order = market.order(amount=4_000)
    signature = market.sign(order)
    assert view.fillable(order, signature, market.id_a) == market.fillable(order) == (4_000, int(Limit.NONE))
    market.fill(order, 1_500)
    assert view.fillable(order, signature, market.id_a) == market.fillable(order) == (2_500, int(Limit.NONE))
    forged = bytes(64) + b"\x1b"
    assert view.fillable(order, forged, market.id_a) == market.fillable(order, signature=forged)
    assert view.fillable(order, forged, market.id_a)[0] == 0
