"""The order book's HTTP API over real HTTP, on SQLite and on a real PostgreSQL server: submission (idempotent,
real ECDSA signatures; EIP-1271 and fillability from ``ReplayExchange``, the chain's stand-in until the exchange
contract lands), bad requests answered with a clear 4xx JSON error, the book, the change feed across a restart of
the service, the long poll and the event stream, the export and the health page."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest
import requests

from market_book_support import (
    CHAIN_ID,
    EXCHANGE,
    ID_A,
    MAKERS,
    ReplayExchange,
    bid,
    hash_of,
    make_order,
    signed_body,
)
from tonne.market.book.api import MAX_BODY, BookService, start
from tonne.market.book.store import BookStore
from tonne.market.orders import SECP256K1_HALF_N, Domain, Limit, sign_order


class Book:
    """A running service on ``url`` with its double chain; ``restart()`` stops it and serves the same database
    again from a new store and a new service (a restarted process)."""

    def __init__(self, url: str, chain: ReplayExchange):
        self.db_url = url
        self.chain = chain
        self._start()

    def _start(self):
        self.store = BookStore(self.db_url)
        self.service = BookService(self.store, self.chain, clock=lambda: 1_800_000_000)
        self.running = start(self.service)
        self.url = self.running.url

    def stop(self):
        self.running.stop()
        self.store.close()

    def restart(self):
        self.stop()
        self._start()

    def post(self, body, **kwargs):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return requests.post(f"{self.url}/orders", data=data, timeout=30, **kwargs)

    def get(self, path, **params):
        return requests.get(f"{self.url}{path}", params=params, timeout=30)


@pytest.fixture
def book(book_url):
    b = Book(book_url, ReplayExchange())
    yield b
    b.stop()


def assert_error(response, status, field, *words):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["field"] == field, error
    for word in words:
        assert word in error["message"], error
    assert "Traceback" not in response.text
    return error


def test_post__new_then_same_order_again__201_then_200_one_order(book):
    order = make_order()
    first = book.post(signed_body(order))
    again = book.post(signed_body(order))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["hash"] == again.json()["hash"] == hash_of(order)
    assert first.json()["state"] == "open" and first.json()["fillable"] == str(order.amount)
    assert [c["hash"] for c in book.get("/changes", since="0").json()["changes"]] == [hash_of(order)]
    assert book.get(f"/orders/{hash_of(order)}").json()["order"]["pricePerUnit"] == str(order.price_per_unit)


def test_post__signed_with_eth_account_typed_data__accepted(book):
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from tonne.market.orders import ORDER_TYPE

    order = make_order(price_per_unit=2**100)
    body = signed_body(order)
    message = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": ORDER_TYPE,
        },
        "primaryType": "Order",
        "domain": {"name": "Tonne CreditExchange", "version": "1", "chainId": CHAIN_ID, "verifyingContract": EXCHANGE},
        "message": order.as_struct(),
    }
    body["signature"] = Account.sign_message(encode_typed_data(full_message=message), MAKERS[0].key).signature.hex()
    body["signature"] = "0x" + body["signature"].removeprefix("0x")
    assert book.post(body).status_code == 201


def _with(body, **order_fields):
    body = json.loads(json.dumps(body))
    body["order"].update(order_fields)
    return body


@pytest.mark.parametrize(
    "value, words",
    [
        ("1e3", ["'1e3'", "digits 0-9"]),
        ("1,5", ["'1,5'"]),
        ("1_000", ["'1_000'"]),
        ("\u0661\u0660\u0660\u0660", ["digits 0-9"]),  # Arabic-Indic 1000
        ("-1", ["'-1'"]),
        (" 1000", ["' 1000'"]),
        ("", ["''"]),
        (str(2**256), ["above the largest uint256"]),
        (1000, ["JSON number", "decimal string"]),
        (None, ["None"]),
    ],
)
def test_post__amount_not_a_uint256_decimal_string__400_naming_field_and_value(book, value, words):
    body = _with(signed_body(make_order()), amount=value)
    error = assert_error(book.post(body), 400, "order.amount", *words)
    assert error["code"] == "invalid_field"


def test_post__bad_requests__each_a_clear_4xx(book):
    order = make_order()
    good = signed_body(order)
    assert_error(book.post(b"{not json"), 400, "body", "malformed JSON")
    assert_error(book.post(b"\xff\xfe"), 400, "body", "UTF-8")
    assert_error(book.post(b'{"order": NaN}'), 400, "body", "NaN")
    assert_error(book.post(b"[1, 2]"), 400, "body", "JSON object")
    missing = json.loads(json.dumps(good))
    del missing["order"]["pricePerUnit"]
    assert_error(book.post(missing), 400, "order.pricePerUnit", "missing")
    assert_error(book.post({k: v for k, v in good.items() if k != "signature"}), 400, "signature", "missing")
    assert_error(book.post({**good, "extra": 1}), 400, "extra", "unknown field")
    assert_error(book.post(_with(good, vintageFrom=str(2**16))), 400, "order.vintageFrom", "uint16")
    assert_error(book.post(_with(good, maker="0x123")), 400, "order.maker", "not an address")
    bad_sum = good["order"]["maker"][:2] + good["order"]["maker"][2:].swapcase()
    if bad_sum[2:] not in (bad_sum[2:].lower(), bad_sum[2:].upper()):
        assert_error(book.post(_with(good, maker=bad_sum)), 400, "order.maker", "checksum")
    assert_error(book.post(_with(good, country="0x4b")), 400, "order.country", "1 bytes, expected 2")
    assert_error(book.post(_with(good, country="0x6b65")), 400, "order.country", "ISO 3166-1")
    assert_error(book.post(_with(good, side="2")), 400, "order.side", "0 (sell) or 1 (buy)")
    assert_error(book.post(_with(good, tokenId="0")), 400, "order.tokenId", "one id")
    assert_error(book.post(_with(good, minFill=str(order.amount + 1))), 400, "order.minFill", "above the amount")
    wrong_chain = signed_body(order, chain_id=CHAIN_ID + 1)
    assert_error(book.post(wrong_chain), 422, "chainId", str(CHAIN_ID + 1), f"serves chain {CHAIN_ID}")
    wrong_exchange = signed_body(order, exchange="0x" + "e2" * 20)
    assert_error(book.post(wrong_exchange), 422, "exchange", "serves exchange")
    # The right domain, signed for another: the signature does not recover to the maker.
    other_domain = {**good, "signature": "0x" + sign_order(order, Domain(CHAIN_ID + 1, EXCHANGE), MAKERS[0].key).hex()}
    assert_error(book.post(other_domain), 422, "signature", "does not recover to " + order.maker)
    by_stranger = signed_body(order, MAKERS[5].key)
    assert_error(book.post(by_stranger), 422, "signature", "does not recover")
    short = {**good, "signature": good["signature"][:-2]}
    assert_error(book.post(short), 422, "signature", "64 bytes; an EOA signs 65")
    assert_error(book.post({**good, "signature": "0x123"}), 400, "signature", "hex bytes")
    # The malleable twin (s -> n - s, v flipped) of a valid signature: refused, as OpenZeppelin's ECDSA does.
    raw = bytes.fromhex(good["signature"][2:])
    s = int.from_bytes(raw[32:64], "big")
    twin = raw[:32] + (2 * SECP256K1_HALF_N + 1 - s).to_bytes(32, "big") + bytes([55 - raw[64]])
    assert_error(book.post({**good, "signature": "0x" + twin.hex()}), 422, "signature", "does not recover")
    too_big = json.dumps({**good, "pad": "x" * MAX_BODY}).encode()
    assert_error(book.post(too_big), 413, "body", f"at most {MAX_BODY} bytes")
    expired = make_order(listed_at=1, expiry=1_700_000_000)
    assert_error(book.post(signed_body(expired)), 422, "order.expiry", "has passed")
    assert book.get("/changes", since="0").json()["changes"] == []  # none of them was stored
    assert book.post(good).status_code == 201  # and the good one still is


def test_post__not_fillable_or_unknown_id__422_with_the_reason(book):
    order = make_order()
    book.chain.fillable_of[hash_of(order)] = (0, int(Limit.MAKER_BALANCE_SHORT))
    assert_error(book.post(signed_body(order)), 422, "order", "maker balance short")
    unknown = make_order(token_id=(9 << 64) | 9)
    assert_error(book.post(signed_body(unknown)), 422, "order.tokenId", "no such batch")


def test_post__contract_wallet_maker__accepted_through_eip1271(book):
    wallet = "0x" + "c0" * 20
    from eth_utils import to_checksum_address

    wallet_maker = SimpleNamespace(address=to_checksum_address(wallet))
    order = make_order(wallet_maker)
    signature = b"\x12" * 100  # a wallet's own format, not ECDSA
    book.chain.wallets[order.maker] = {signature}
    body = signed_body(order, MAKERS[0].key)
    body["signature"] = "0x" + signature.hex()
    assert book.post(body).status_code == 201
    body["signature"] = "0x" + (b"\x13" * 100).hex()
    other = make_order(wallet_maker)
    assert_error(book.post({**body, "order": signed_body(other, MAKERS[0].key)["order"]}), 422, "signature")


def test_get_orders__best_first_paged_with_a_cursor__and_bad_parameters(book):
    prices = [2**64 + 5, 2**64 + 5, 7, 2**200, 2**64]
    for p in prices:
        assert book.post(signed_body(make_order(price_per_unit=p))).status_code == 201
    assert book.post(signed_body(bid(token_id=ID_A, price_per_unit=9))).status_code == 201
    got, cursor = [], None
    while True:
        params = {"side": "sell", "token_id": str(ID_A), "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        page = book.get("/orders", **params).json()
        got += [int(o["order"]["pricePerUnit"]) for o in page["orders"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert got == sorted(prices)
    buys = book.get("/orders", side="buy", token_id=str(ID_A)).json()["orders"]
    assert [o["order"]["pricePerUnit"] for o in buys] == ["9"]
    vcs = book.get("/orders", side="sell", standard="VCS", country="BR", vintage_from="2021").json()["orders"]
    assert len(vcs) == len(prices)
    assert book.get("/orders", side="sell", country="KE").json()["orders"] == []
    assert_error(book.get("/orders", token_id=str(ID_A)), 400, "side", "sell or buy")
    assert_error(book.get("/orders", side="sell"), 400, "token_id", "criteria")
    assert_error(book.get("/orders", side="sell", token_id="1e3"), 400, "token_id", "'1e3'")
    assert_error(book.get("/orders", side="sell", token_id="1", limit="501"), 400, "limit", "1 to 500")
    assert_error(book.get("/orders", side="sell", token_id="1", cursor="abc"), 400, "cursor")
    assert_error(book.get("/orders", side="sell", token_id="1", colour="red"), 400, "colour", "unknown parameter")
    assert_error(book.get("/orders/0x1234"), 400, "hash", "not an order hash")
    assert_error(book.get("/orders/0x" + "ab" * 32), 404, "hash", "no such order")
    assert_error(book.get("/nowhere"), 404, None)


def test_changes__service_restarted_mid_stream__none_lost_none_twice(book):
    first = [make_order(price_per_unit=100 + i) for i in range(5)]
    for o in first:
        assert book.post(signed_body(o)).status_code == 201
    page = book.get("/changes", since="0", limit="3").json()
    seen = page["changes"]
    assert len(seen) == 3
    book.restart()  # a new process on the same database
    second = [make_order(price_per_unit=200 + i) for i in range(5)]
    for o in second:
        assert book.post(signed_body(o)).status_code == 201
    assert book.post(signed_body(first[0])).status_code == 200  # known after the restart: still one order
    since = page["next"]
    while True:
        page = book.get("/changes", since=str(since), limit="4").json()
        if not page["changes"]:
            break
        seen += page["changes"]
        since = page["next"]
    assert [c["seq"] for c in seen] == list(range(seen[0]["seq"], seen[0]["seq"] + 10))
    assert [c["hash"] for c in seen] == [hash_of(o) for o in first + second]
    assert_error(book.get("/changes", since="-1"), 400, "since")
    assert_error(book.get("/changes", since="0", wait="99"), 400, "wait", "at most 30")


def test_changes__long_poll__answers_when_an_order_comes(book):
    result = {}

    def poll():
        started = time.monotonic()
        result["page"] = book.get("/changes", since="0", wait="20").json()
        result["took"] = time.monotonic() - started

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    order = make_order()
    assert book.post(signed_body(order)).status_code == 201
    waiter.join(timeout=25)
    assert [c["hash"] for c in result["page"]["changes"]] == [hash_of(order)]
    assert result["took"] < 5


def test_changes_stream__server_sent_events_resume_from_last_event_id(book):
    orders = [make_order(price_per_unit=10 + i) for i in range(3)]
    for o in orders:
        book.post(signed_body(o))
    with requests.get(f"{book.url}/changes/stream", headers={"Last-Event-ID": "1"}, stream=True, timeout=(5, 5)) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        lines = r.iter_lines(decode_unicode=True)
        events = []
        for line in lines:
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            if len(events) == 2:
                break
    assert [e["hash"] for e in events] == [hash_of(o) for o in orders[1:]]


def test_export_and_health(book):
    order = make_order()
    book.post(signed_body(order))
    from datetime import datetime, timezone

    today = datetime.fromtimestamp(1_800_000_000, timezone.utc).date().isoformat()  # the service's clock
    r = book.get("/export", day=today, kind="orders")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert hash_of(order) in r.text
    assert book.get("/export", day=today, kind="trades").text.startswith("block_number,")
    assert_error(book.get("/export", day="2026-13-01"), 400, "day")
    assert_error(book.get("/export", day=today, kind="x"), 400, "kind")
    health = book.get("/health").json()
    assert health["ok"] and health["chainId"] == str(CHAIN_ID) and health["openOrders"] == 1
