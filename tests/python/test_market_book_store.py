"""The order book's store, on SQLite and on a real PostgreSQL server (``book_url``): idempotent writes, exact best
price ordering, criteria, keyset pagination, and event application that is idempotent and atomic (an exception
inside the transaction, and a process killed in the middle of one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from sqlalchemy import func, select

from market_book_support import (
    BATCHES,
    CHAIN_ID,
    EXCHANGE,
    ID_A,
    ID_B,
    ID_C,
    MAKERS,
    bid,
    cancelled,
    counter_raised,
    filled,
    hash_of,
    make_order,
)
from tonne.market.book import store as book_store
from tonne.market.book.chain import ChainEvent
from tonne.market.book.store import BookStore, Criteria, StoreMismatch
from tonne.market.orders import BUY, ORDER_TYPE, SELL, Domain, order_hash, recover_signer, sign_order

ROOT = Path(__file__).resolve().parents[2]
NAME = f"{CHAIN_ID}:{EXCHANGE}"


@pytest.fixture
def store(book_url):
    s = BookStore(book_url)
    s.bind_service(CHAIN_ID, EXCHANGE)
    for info in BATCHES.values():
        s.add_id(info)
    yield s
    s.close()


def add(store: BookStore, order, fillable=None) -> str:
    key = hash_of(order)
    store.add_order(order, key, b"\x01" * 65, order.amount if fillable is None else fillable, 0)
    return key


def test_digest__matches_eth_account_typed_data_and_real_signature_recovers():
    order = bid(price_per_unit=2**200 + 7, country=b"BR", standard_hash=keccak(text="VCS"))
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
    signed = Account.sign_message(encode_typed_data(full_message=message), MAKERS[0].key)
    domain = Domain(CHAIN_ID, EXCHANGE)
    assert recover_signer(order_hash(order, domain), signed.signature) == MAKERS[0].address
    assert recover_signer(order_hash(order, domain), sign_order(order, domain, MAKERS[0].key)) == MAKERS[0].address
    # Another chain's or another exchange's digest recovers someone else.
    assert recover_signer(order_hash(order, Domain(CHAIN_ID + 1, EXCHANGE)), signed.signature) != MAKERS[0].address
    assert recover_signer(order_hash(order, Domain(CHAIN_ID, "0x" + "e2" * 20)), signed.signature) != (
        MAKERS[0].address
    )


def test_order_hash__hand_encoded__equals_eth_account_typed_data_hash():
    from tonne.market.orders import typed_data_hash

    domain = Domain(CHAIN_ID, EXCHANGE)
    for order in (
        make_order(),
        bid(country=b"KE", standard_hash=keccak(text="GS"), vintage_from=2019, vintage_to=65535),
        make_order(amount=2**256 - 1, price_per_unit=2**256 - 1, nonce=2**256 - 1, listed_at=2**64 - 1, side=1),
    ):
        assert order_hash(order, domain) == typed_data_hash(order, domain)


def test_add_order__same_order_twice__one_order_one_change(store):
    order = make_order()
    key = hash_of(order)
    row, created = store.add_order(order, key, b"\x01" * 65, order.amount, 0)
    again, created_again = store.add_order(order, key, b"\x02" * 65, order.amount, 0)
    assert (created, created_again) == (True, False)
    assert again["signature"] == "0x" + "01" * 65  # the first copy stays
    assert store.count() == 1 and [c["order_hash"] for c in store.changes_since(0)] == [key]


def test_add_orders__group_with_a_repeat_and_a_known_order__one_row_and_one_change_each(store):
    known, first, second = make_order(nonce=1), make_order(nonce=2, price_per_unit=2**200), make_order(nonce=3)
    add(store, known)
    batch = [(o, hash_of(o), b"\x03" * 65, 5, 0) for o in (first, known, second, first)]
    results = store.add_orders(batch, now=1234.5)
    assert [created for _, created in results] == [True, False, True, False]
    assert results[1][0]["signature"] == "0x" + "01" * 65 and results[3][0]["signature"] == "0x" + "03" * 65
    assert store.count() == 3
    news = store.changes_since(0)
    assert [(c["order_hash"], c["kind"], c["fillable"], c["at"]) for c in news[1:]] == [
        (hash_of(first), "new", 5, 1234.5),
        (hash_of(second), "new", 5, 1234.5),
    ]
    assert [c["seq"] for c in news] == sorted(c["seq"] for c in news)


def test_precheck__one_statement__the_stored_row_the_counter_and_the_known_id(store):
    order = make_order(price_per_unit=2**256 - 1, nonce=2**255)
    key = add(store, order)
    store.apply(NAME, [counter_raised(order.maker, 7)], 5, "0x" + "05" * 32)  # the order: cancelled
    row, counter, known_id = store.precheck(key, order.maker, order.token_id)
    assert row == store.get_order(key) and row["price_per_unit"] == 2**256 - 1 and row["nonce"] == 2**255
    assert (counter, known_id) == (7, True)
    assert store.precheck("0x" + "ab" * 32, MAKERS[1].address, 12345) == (None, 0, False)
    assert store.precheck("0x" + "ab" * 32, MAKERS[1].address, 0) == (None, 0, True)  # a criteria bid: no id


def test_bind_service__database_of_another_exchange__refused(store):
    with pytest.raises(StoreMismatch, match="exchange"):
        store.bind_service(CHAIN_ID, "0x" + "e2" * 20)


def test_book__prices_above_2_64_and_equal_prices__exact_best_first(store):
    prices = [2**64 + 1, 2**64, 2**256 - 1, 2**255, 2**64 + 1, 1, 2**63, 2**64 + 1]
    sells = [make_order(price_per_unit=p, listed_at=1000 + (i % 3)) for i, p in enumerate(prices)]
    buys = [make_order(MAKERS[1], side=BUY, price_per_unit=p, listed_at=1000 + (i % 3)) for i, p in enumerate(prices)]
    for o in sells + buys:
        add(store, o)
    got_sells = store.book(SELL, token_id=ID_A, limit=100)
    got_buys = store.book(BUY, token_id=ID_A, limit=100)
    want_sells = sorted(sells, key=lambda o: (o.price_per_unit, o.listed_at, hash_of(o)))
    want_buys = sorted(buys, key=lambda o: (-o.price_per_unit, o.listed_at, hash_of(o)))
    assert [r["hash"] for r in got_sells] == [hash_of(o) for o in want_sells]
    assert [r["hash"] for r in got_buys] == [hash_of(o) for o in want_buys]
    assert got_sells[-1]["price_per_unit"] == 2**256 - 1 and got_buys[0]["price_per_unit"] == 2**256 - 1
    assert {r["price_per_unit"] for r in got_sells} == set(prices)  # read back exactly


def test_book__criteria__sells_by_their_batch_and_bids_by_their_terms(store):
    a, b, c = (make_order(token_id=i) for i in (ID_A, ID_B, ID_C))
    vcs_2021 = bid(standard_hash=keccak(text="VCS"), vintage_from=2021)
    kenya = bid(country=b"KE")
    any_id = bid()
    of_b = bid(token_id=ID_B)
    for o in (a, b, c, vcs_2021, kenya, any_id, of_b):
        add(store, o)

    def sells(**criteria):
        return {r["hash"] for r in store.book(SELL, criteria=Criteria(**criteria))}

    def buys(**query):
        return {r["hash"] for r in store.book(BUY, **query)}

    assert sells(project_id=3) == {hash_of(a), hash_of(b)}
    assert sells(standard_hash=keccak(text="GS")) == {hash_of(c)}
    assert sells(vintage_from=2022) == {hash_of(b)}
    assert sells(vintage_to=2021) == {hash_of(a), hash_of(c)}
    assert sells(country=b"KE") == {hash_of(c)}
    assert sells(project_id=3, country=b"KE") == set()
    # The buy side of one id: its own bids and the criteria bids its batch meets.
    assert buys(token_id=ID_A) == {hash_of(vcs_2021), hash_of(any_id)}
    assert buys(token_id=ID_B) == {hash_of(vcs_2021), hash_of(any_id), hash_of(of_b)}
    assert buys(token_id=ID_C) == {hash_of(kenya), hash_of(any_id)}
    # Bids for criteria: the specific-id bids whose batch meets them, and the compatible criteria bids.
    # (a VCS bid of any country is compatible with Kenya: Kenyan VCS credits would meet it)
    assert buys(criteria=Criteria(country=b"KE")) == {hash_of(kenya), hash_of(any_id), hash_of(vcs_2021)}
    assert buys(criteria=Criteria(country=b"KE", standard_hash=keccak(text="GS"))) == {hash_of(kenya), hash_of(any_id)}
    assert buys(criteria=Criteria(vintage_to=2020)) == {hash_of(kenya), hash_of(any_id)}
    assert buys(criteria=Criteria(project_id=3)) == {hash_of(vcs_2021), hash_of(kenya), hash_of(any_id), hash_of(of_b)}


def test_book__pages_while_orders_come_and_go__no_order_twice_none_skipped(store):
    originals = [make_order(price_per_unit=1000 + i * 10) for i in range(25)]
    for o in originals:
        add(store, o)
    seen, after = [], None
    inserted = 0
    while True:
        page = store.book(SELL, token_id=ID_A, limit=10, after=after)
        seen += [r["hash"] for r in page]
        if len(page) < 10:
            break
        after = page[-1]["rank"]
        # Between pages: a better order (before the cursor: not on later pages) and a worse one (after it).
        add(store, make_order(price_per_unit=1))
        add(store, make_order(price_per_unit=10**30 + inserted))
        inserted += 1
    assert len(seen) == len(set(seen))
    want = [hash_of(o) for o in originals]
    assert [h for h in seen if h in set(want)] == want
    assert len(seen) == 25 + inserted  # every worse order inserted behind the cursor shows up, once


def fill_events(order, *totals):
    events, last = [], 0
    for i, total in enumerate(totals):
        ev = filled(order, total - last, total)
        events.append(
            ChainEvent(
                **{
                    **ev.__dict__,
                    "block_number": 5,
                    "block_hash": "0x" + "ab" * 32,
                    "log_index": i,
                    "tx_hash": "0x" + f"{i:064x}",
                    "timestamp": 1_800_000_000,
                }
            )
        )
        last = total
    return events


def test_apply__same_range_twice__changes_nothing_more(store):
    order = make_order(amount=1000)
    key = add(store, order)
    events = fill_events(order, 300, 1000)
    assert store.apply(NAME, events, 5, "0x" + "ab" * 32) == 2
    before = store.changes_since(0)
    assert store.apply(NAME, events, 5, "0x" + "ab" * 32) == 0
    assert store.changes_since(0) == before
    row = store.get_order(key)
    assert (row["state"], row["filled"], row["fillable"]) == ("filled", 1000, 0)


def test_apply__exception_inside_the_transaction__nothing_applied_cursor_unchanged(store, monkeypatch):
    order = make_order(amount=1000)
    key = add(store, order)
    store.apply(NAME, [], 4, "0x" + "44" * 32)
    real = BookStore._effect
    calls = []

    def crash_on_second(self, conn, ev, now):
        calls.append(ev)
        if len(calls) == 2:
            raise RuntimeError("crash between two events")
        return real(self, conn, ev, now)

    monkeypatch.setattr(BookStore, "_effect", crash_on_second)
    with pytest.raises(RuntimeError, match="crash between"):
        store.apply(NAME, fill_events(order, 300, 600), 5, "0x" + "ab" * 32)
    monkeypatch.setattr(BookStore, "_effect", real)
    assert store.cursor(NAME).block_number == 4
    assert store.get_order(key)["filled"] == 0 and len(store.changes_since(0)) == 1
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(book_store.events)).scalar() == 0
    # Applied again after the "restart": exactly once.
    assert store.apply(NAME, fill_events(order, 300, 600), 5, "0x" + "ab" * 32) == 2
    assert store.get_order(key)["filled"] == 600


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{root!r}, {tests!r}]
    from market_book_support import make_order, filled
    from tonne.market.book.chain import ChainEvent
    from tonne.market.book.store import BookStore
    store = BookStore({url!r})
    order = make_order(amount=10**6, nonce=424242)
    def events():
        for i in range(100):
            ev = filled(order, 1, i + 1)
            yield ChainEvent(**{{**ev.__dict__, "block_number": 7, "block_hash": "0x" + "cd" * 32,
                               "log_index": i, "tx_hash": "0x" + f"{{i:064x}}"}})
            if i == 50:
                print("halfway", flush=True)
                time.sleep(60)
    store.apply({name!r}, events(), 7, "0x" + "cd" * 32)
    print("committed", flush=True)
    """
)


def test_apply__process_killed_inside_the_transaction__nothing_of_the_range_kept(store, book_url):
    order = make_order(amount=10**6, nonce=424242)
    key = add(store, order)
    script = KILLED_WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"), url=book_url, name=NAME)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "halfway"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert store.cursor(NAME) is None
    assert store.get_order(key)["filled"] == 0
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(book_store.events)).scalar() == 0
    # The store is usable at once (no lock left behind), and the range applies whole.
    events = [
        ChainEvent(
            **{
                **filled(order, 1, i + 1).__dict__,
                "block_number": 7,
                "block_hash": "0x" + "cd" * 32,
                "log_index": i,
                "tx_hash": "0x" + f"{i:064x}",
            }
        )
        for i in range(100)
    ]
    assert store.apply(NAME, events, 7, "0x" + "cd" * 32) == 100
    assert store.get_order(key)["filled"] == 100 and store.cursor(NAME).block_number == 7


def test_apply__cancel_and_counter_raise__orders_cancelled_once(store):
    one, two = make_order(counter=0), make_order(counter=0)
    newer = make_order(counter=5)
    other_maker = make_order(MAKERS[2], counter=0)
    for o in (one, two, newer, other_maker):
        add(store, o)
    evs = [cancelled(one), counter_raised(MAKERS[0].address, 5)]
    evs = [
        ChainEvent(
            **{
                **e.__dict__,
                "block_number": 3,
                "block_hash": "0x" + "33" * 32,
                "log_index": i,
                "tx_hash": "0x" + "99" * 32,
            }
        )
        for i, e in enumerate(evs)
    ]
    assert store.apply(NAME, evs, 3, "0x" + "33" * 32) == 2  # `one` by its cancel, `two` by the counter
    states = {k: store.get_order(hash_of(k))["state"] for k in (one, two, newer, other_maker)}
    assert states == {one: "cancelled", two: "cancelled", newer: "open", other_maker: "open"}
    assert store.get_order(hash_of(two))["reason"] == "counter raised"
    assert store.counter_of(MAKERS[0].address) == 5


def test_expire__by_chain_time__once(store):
    soon, later = make_order(expiry=2_000), make_order(expiry=3_000)
    add(store, soon)
    add(store, later)
    assert store.expire(2_000) == 0  # fillable while block.timestamp <= expiry (the contract's rule)
    assert store.expire(2_001) == 1 and store.expire(2_500) == 0
    assert store.get_order(hash_of(soon))["state"] == "expired"
    assert store.book(SELL, token_id=ID_A) == [store.get_order(hash_of(later))]


def test_export_day__orders_and_trades_as_csv(store):
    order = make_order(amount=1000, price_per_unit=2**70)
    add(store, order)
    store.apply(NAME, fill_events(order, 250), 5, "0x" + "ab" * 32)
    from datetime import datetime, timezone

    day = datetime.now(timezone.utc).date()
    orders_csv, trades_csv = store.export_day(day)
    assert orders_csv.splitlines()[0].startswith("hash,maker,side,token_id")
    assert hash_of(order) in orders_csv and str(2**70) in orders_csv
    trades_day = datetime.fromtimestamp(1_800_000_000, timezone.utc).date()
    _, trades = store.export_day(trades_day)
    lines = trades.splitlines()
    assert len(lines) == 2 and hash_of(order) in lines[1] and ",250," in lines[1]
