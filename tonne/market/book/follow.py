"""The follower: keeps the book current with the chain.

Each poll:
1. reorg check: the block hash at the cursor must still be the chain's; if not, walk back the checkpoints (the hash
   of the end of each range applied) to the newest one the chain still has and rewind the store to it (events after
   it dropped, the orders they touched recomputed from the events that remain and queued for a re-check);
2. the logs of blocks cursor+1 .. head - confirmations (at most ``max_range`` blocks), applied and the cursor moved
   in one store transaction; the range's end hash is read before and after the logs, and a range whose end changed
   meanwhile is left for the next poll;
3. orders whose expiry has passed (by the head block's timestamp, as the contract sees time) expire;
4. at most ``max_rechecks`` orders re-read through ``fillable``: the orders partly filled, and the live orders of
   makers whose credits moved or whose approvals changed (the credit token's TransferSingle / TransferBatch /
   ApprovalForAll: not exchange events, but they change what a maker can deliver). The queue is in the store,
   written with the events, so a crash loses no re-check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tonne.market.book.chain import ExchangeView
from tonne.market.book.store import BookStore, Cursor, order_of
from tonne.market.orders import BUY, Limit, Order


def fillable_now(view: ExchangeView, store: BookStore, order: Order, signature: bytes, filled: int = 0):
    """(units, reason) as the exchange's ``fillable`` says now. An order of one id is asked about that id. A
    criteria bid (tokenId 0) is asked about the lowest id the book knows that meets its criteria; when the book
    knows none, the exchange can only say its criteria are not met by id 0 (``CriteriaNotMet``, after every check
    of the order itself: listing, expiry, cancel, counter, fill, signature), so the bid is taken as fillable up to
    what remains, and is checked again, payment side included, once an id is known (the follower's re-checks)."""
    token_id = order.token_id
    if order.side == BUY and token_id == 0:
        token_id = store.id_for_bid(order) or 0
    units, reason = view.fillable(order, signature, token_id)
    if token_id == 0 and reason == Limit.CRITERIA_NOT_MET:
        return order.amount - filled, int(Limit.NONE)
    return units, reason


@dataclass
class PollResult:
    head: int = 0
    cursor: int | None = None
    applied_to: int | None = None
    events: int = 0
    changes: int = 0
    reorg_from: int | None = None
    reorg_to: int | None = None
    expired: int = 0
    rechecked: int = 0
    skipped: str = ""


class Follower:
    def __init__(
        self,
        store: BookStore,
        view: ExchangeView,
        *,
        start_block: int = 0,
        confirmations: int = 2,
        max_range: int = 2000,
        max_rechecks: int = 200,
        on_change: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self.view = view
        self.name = f"{view.chain_id}:{view.exchange_address.lower()}"
        self.start_block = start_block
        self.confirmations = confirmations
        self.max_range = max_range
        self.max_rechecks = max_rechecks
        self.on_change = on_change

    def poll(self) -> PollResult:
        result = PollResult()
        head = self.view.head()
        result.head = head.number
        cursor = self.store.cursor(self.name)
        if cursor is not None and self.view.block_hash(cursor.block_number) != cursor.block_hash:
            fork = self.fork_point()
            result.reorg_from = cursor.block_number
            result.reorg_to = fork.block_number if fork else self.start_block - 1
            result.changes += self.store.rewind(self.name, fork, self.start_block)
            cursor = fork
        first = cursor.block_number + 1 if cursor else self.start_block
        last = min(head.number - self.confirmations, first + self.max_range - 1)
        if last >= first:
            end_hash = self.view.block_hash(last)
            found = list(self.view.events(first, last))
            if end_hash is None or self.view.block_hash(last) != end_hash:
                result.skipped = f"block {last} changed while its logs were read"
            else:
                result.changes += self.store.apply(self.name, found, last, end_hash)
                result.events = len(found)
                result.applied_to = last
        result.cursor = (self.store.cursor(self.name) or Cursor(self.start_block - 1, "")).block_number
        result.expired = self.store.expire(head.timestamp)
        result.rechecked = self.recheck()
        if result.changes or result.expired or result.rechecked:
            self.on_change()
        return result

    def fork_point(self) -> Cursor | None:
        """The newest checkpoint whose hash the chain still has (None: none does; start again)."""
        for point in self.store.checkpoints(self.name):
            if self.view.block_hash(point.block_number) == point.block_hash:
                return point
        return None

    def recheck(self) -> int:
        keys, rows = self.store.take_rechecks(self.max_rechecks)
        changed = 0
        for row in rows:
            signature = bytes.fromhex(row["signature"][2:])
            units, reason = fillable_now(self.view, self.store, order_of(row), signature, row["filled"])
            changed += self.store.set_fillable(row["hash"], units, reason)
        self.store.done_rechecks(keys)
        return len(rows)

    def run(self, stop: threading.Event, interval: float = 2.0, log: Callable[[str], None] = print) -> None:
        """Poll until ``stop`` is set; a failed poll (node down) is reported and retried after ``interval``."""
        while not stop.is_set():
            try:
                result = self.poll()
                if result.reorg_from is not None:
                    log(f"reorg: rewound from block {result.reorg_from} to {result.reorg_to}")
            except Exception as error:  # the node or the database is away: say so, keep going
                log(f"follower: {type(error).__name__}: {error}")
            stop.wait(interval)


def now() -> float:
    return time.time()
