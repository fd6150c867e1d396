"""tonne.market.orders without a chain: validation, the type string, the domain separator and signatures that
recover to the maker. The hash against the contract's `hashOrder` is checked on a real chain in
tests/unit/market/test_exchange_orders.py::test_hash_order__python_equals_contract."""

from __future__ import annotations

import pytest
from eth_account import Account

from tonne.market.orders import (
    BUY,
    ORDER_TYPE_STRING,
    SELL,
    Domain,
    Order,
    domain_separator,
    order_for_counter,
    order_hash,
    sign_order,
    standard_hash,
)

KEY = "0x" + "01" * 32
MAKER = Account.from_key(KEY).address
DOMAIN = Domain(31337, "0x" + "33" * 20)


def sell(**fields) -> Order:
    base = dict(maker=MAKER, side=SELL, token_id=5, amount=1000, price_per_unit=3, payment_token="0x" + "22" * 20,
                expiry=10)  # fmt: skip
    return Order(**{**base, **fields})


def test_type_string__matches_the_contract_field_order():
    assert ORDER_TYPE_STRING == (
        "Order(address maker,uint8 side,uint256 tokenId,uint64 projectId,bytes32 standardHash,uint16 vintageFrom,"
        "uint16 vintageTo,bytes2 country,uint256 amount,uint256 pricePerUnit,address paymentToken,uint256 minFill,"
        "uint64 listedAt,uint64 expiry,address taker,uint256 nonce,uint256 counter)"
    )


def test_sign_order__recovers_to_maker_low_s():
    order = sell()
    sig = sign_order(order, DOMAIN, KEY)
    assert len(sig) == 65
    assert Account._recover_hash(order_hash(order, DOMAIN), signature=sig) == MAKER
    assert int.from_bytes(sig[32:64], "big") <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def test_order_hash__changes_with_chain_contract_and_every_field():
    order = sell()
    h = order_hash(order, DOMAIN)
    assert h != order_hash(order, Domain(1, DOMAIN.verifying_contract))
    assert h != order_hash(order, Domain(31337, "0x" + "44" * 20))
    assert h != order_hash(order.replace(nonce=1), DOMAIN)
    assert h != order_hash(order.replace(counter=1), DOMAIN)
    assert len(domain_separator(DOMAIN)) == 32


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(side=2), "side"),
        (dict(amount=-1), "amount"),
        (dict(vintage_from=70_000), "vintage_from"),
        (dict(country=b"DEU"), "country"),
        (dict(vintage_from=2021), "sell order"),
        (dict(side=BUY, token_id=5, country=b"BR"), "token_id: 5; a buy order for one id sets no criterion"),
        (dict(side=BUY, token_id=5, project_id=1), "token_id: 5; a buy order for one id sets no criterion"),
    ],
)
def test_order__invalid_fields__refused_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        sell(**fields)


def test_buy_with_criteria__round_trips_through_the_struct():
    order = sell(side=BUY, token_id=0, standard_hash=standard_hash("VCS"), vintage_from=2021, country=b"ID")
    assert Order.from_struct(order.as_struct()) == order
    assert order.cost(7) == 21


def test_sign_order__counter_other_than_the_current__refused():
    # The exchange raises a counter by a quasi-random step: an order for another counter is void (or, signed
    # ahead, a dormant order a phisher could keep); a client passing the chain's counter cannot sign one.
    current = 5 << 128 | 7
    with pytest.raises(ValueError, match=f"counter: {current + 1}; the maker's counter on the exchange is {current}"):
        sign_order(sell(counter=current + 1), DOMAIN, KEY, current_counter=current)
    assert sign_order(sell(counter=current), DOMAIN, KEY, current_counter=current) == sign_order(
        sell(counter=current), DOMAIN, KEY
    )


def test_order_for_counter__reads_the_makers_counter():
    class Exchange:
        def counterOf(self, maker):  # noqa: N802 (the contract's name)
            assert maker == MAKER
            return 9 << 128

    assert order_for_counter(sell(counter=1), Exchange()).counter == 9 << 128
    with pytest.raises(TypeError, match="counterOf"):
        order_for_counter(sell(), object())
