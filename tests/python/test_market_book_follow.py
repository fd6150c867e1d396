"""The follower against ``ReplayExchange`` (an in-process stand-in for the chain ONLY until the CreditExchange
contract lands): confirmations, fills, cancels, counter raises, expiry by chain time, re-checks on the credit
token's transfers, a reorg at the cursor rewound, and a follower restarted mid-stream, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from market_book_support import (
    CHAIN_ID,
    EXCHANGE,
    ID_A,
    MAKERS,
    NOW,
    ReplayExchange,
    cancelled,
    counter_raised,
    filled,
    hash_of,
    make_order,
    touched,
)
from tonne.market.book import store as book_store
from tonne.market.book.follow import Follower
from tonne.market.book.store import BookStore
from tonne.market.orders import Limit


@pytest.fixture
def chain():
    return ReplayExchange()


@pytest.fixture
def store(book_url):
    s = BookStore(book_url)
    s.bind_service(CHAIN_ID, EXCHANGE)
    yield s
    s.close()


def follower(store, chain, **kwargs):
    kwargs.setdefault("confirmations", 2)
    kwargs.setdefault("start_block", 1)
    return Follower(store, chain, **kwargs)


def add(store, order, fillable=None):
    store.add_order(order, hash_of(order), b"\x01" * 65, order.amount if fillable is None else fillable, 0)
    return hash_of(order)


def state(store, order):
    row = store.get_order(hash_of(order))
    return row["state"], row["filled"], row["fillable"]


def event_rows(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(book_store.events)).scalar()


def test_poll__waits_for_confirmations__then_applies_fills(store, chain):
    order = make_order(amount=1000)
    add(store, order)
    f = follower(store, chain)
    chain.mine(filled(order, 300, 300))  # block 1
    chain.mine()  # block 2
    assert f.poll().applied_to is None  # head 2, confirmed up to 0: nothing yet
    assert state(store, order) == ("open", 0, 1000)
    chain.mine()  # head 3: block 1 has 2 confirmations
    result = f.poll()
    assert (result.applied_to, result.events) == (1, 1)
    assert state(store, order) == ("open", 300, 700)  # re-checked by `fillable` (the double: amount; kept min)
    chain.mine(filled(order, 700, 1000))
    chain.mine_empty(2)
    f.poll()
    assert state(store, order) == ("filled", 1000, 0)
    kinds = [c["kind"] for c in store.changes_since(0)]
    assert kinds.count("filled") == 2


def test_poll__cancel_and_counter_raise(store, chain):
    one, two, newer = make_order(), make_order(), make_order(counter=3)
    for o in (one, two, newer):
        add(store, o)
    chain.mine(cancelled(one))
    chain.mine(counter_raised(MAKERS[0].address, 3))
    chain.mine_empty(2)
    follower(store, chain).poll()
    assert [state(store, o)[0] for o in (one, two, newer)] == ["cancelled", "cancelled", "open"]


def test_poll__expiry_by_the_head_blocks_time(store, chain):
    soon = make_order(expiry=NOW)
    later = make_order(expiry=NOW + 10_000)
    add(store, soon)
    add(store, later)
    f = follower(store, chain)
    chain.mine(timestamp=NOW - 1)
    assert f.poll().expired == 0
    chain.mine(timestamp=NOW)  # the exchange still fills at block.timestamp == expiry: kept
    assert f.poll().expired == 0 and state(store, soon)[0] == "open"
    chain.mine(timestamp=NOW + 1)
    assert f.poll().expired == 1
    assert state(store, soon)[0] == "expired" and state(store, later)[0] == "open"


def test_poll__maker_credits_moved__its_orders_rechecked_bounded_per_poll(store, chain):
    orders = [make_order(MAKERS[3]) for _ in range(5)]
    bystander = make_order(MAKERS[4])
    for o in orders + [bystander]:
        add(store, o)
    for o in orders:
        chain.fillable_of[hash_of(o)] = (0, int(Limit.MAKER_BALANCE_SHORT))  # the maker sold its credits elsewhere
    chain.mine(touched("0x" + "00" * 20, MAKERS[3].address))
    chain.mine_empty(2)
    f = follower(store, chain, max_rechecks=2)
    checks = []
    for _ in range(3):
        checks.append(f.poll().rechecked)
    assert checks == [2, 2, 1]  # bounded work per poll; the queue (in the store) finishes the rest
    assert {state(store, o) for o in orders} == {("unfillable", 0, 0)}
    assert store.get_order(hash_of(orders[0]))["reason"] == "maker balance short"
    assert state(store, bystander)[0] == "open"
    for o in orders:  # the credits come back: the orders are live again
        del chain.fillable_of[hash_of(o)]
    chain.mine(touched(MAKERS[6].address, MAKERS[3].address))
    chain.mine_empty(2)
    for _ in range(3):
        f.poll()
    assert {state(store, o) for o in orders} == {("open", 0, o.amount) for o in orders}
    assert chain.calls["fillable"] == 10  # exactly the maker's orders, twice; the bystander never


def test_poll__reorg_at_the_cursor__rewound_and_the_new_branch_applied(store, chain):
    a, b = make_order(amount=1000), make_order(amount=1000)
    add(store, a)
    add(store, b)
    f = follower(store, chain, confirmations=0)
    chain.mine(filled(a, 100, 100))  # 1
    f.poll()
    chain.mine(filled(a, 900, 1000), cancelled(b))  # 2
    f.poll()
    assert state(store, a)[0] == "filled" and state(store, b)[0] == "cancelled"
    chain.reorg(1)  # block 2 is gone; its fill and cancel never happened
    chain.mine(filled(a, 200, 300))  # the new block 2
    chain.mine()  # 3
    result = f.poll()
    assert (result.reorg_from, result.reorg_to) == (2, 1)
    assert state(store, a) == ("open", 300, 700)
    assert state(store, b) == ("open", 0, 1000)
    assert store.cursor(f.name).block_number == 3 and store.cursor(f.name).block_hash == chain.block_hash(3)
    assert event_rows(store) == 2  # the first fill and the new branch's
    kinds = [c["kind"] for c in store.changes_since(0) if c["order_hash"] == hash_of(b)]
    assert kinds == ["new", "cancelled", "reorg"]


def test_poll__reorg_deeper_than_every_checkpoint__starts_again_from_the_start_block(store, chain):
    order = make_order(amount=1000)
    add(store, order)
    f = follower(store, chain, confirmations=0)
    chain.mine(filled(order, 100, 100))
    f.poll()
    chain.reorg(1)
    chain.mine()
    result = f.poll()
    assert result.reorg_to == 0 and state(store, order) == ("open", 0, 1000)
    assert event_rows(store) == 0


def test_follower_restarted_mid_stream__no_event_lost_or_applied_twice(book_url, chain):
    order = make_order(amount=10**6)
    first = BookStore(book_url)
    first.bind_service(CHAIN_ID, EXCHANGE)
    add(first, order)
    total = 0
    for i in range(30):
        total += i + 1
        chain.mine(filled(order, i + 1, total))
    chain.mine_empty(2)
    f = follower(first, chain, max_range=7)
    f.poll()
    f.poll()  # 14 blocks applied, then the process "dies"
    first.close()
    second = BookStore(book_url)
    g = follower(second, chain, max_range=7)
    assert second.cursor(g.name).block_number == 14
    while g.poll().applied_to is not None:
        pass
    assert event_rows(second) == 30
    assert state(second, order)[1] == total
    fills = [c for c in second.changes_since(0) if c["kind"] == "filled"]
    assert len(fills) == 30 and [c["filled"] for c in fills] == sorted(c["filled"] for c in fills)
    second.close()


def test_poll__chain_moved_while_reading_logs__range_left_for_the_next_poll(store, chain, monkeypatch):
    order = make_order(amount=1000)
    add(store, order)
    chain.mine(filled(order, 100, 100))
    f = follower(store, chain, confirmations=0)
    real = chain.events

    def events_then_reorg(a, b):
        found = list(real(a, b))
        chain.reorg(1)
        chain.mine()
        return found

    monkeypatch.setattr(chain, "events", events_then_reorg)
    result = f.poll()
    assert result.applied_to is None and "changed" in result.skipped
    assert state(store, order) == ("open", 0, 1000)
    monkeypatch.setattr(chain, "events", real)
    f.poll()
    assert state(store, order) == ("open", 0, 1000) and store.cursor(f.name).block_number == 1
    assert ID_A  # the book's id of these orders
