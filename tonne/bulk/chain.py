"""Reading the chain for a bulk run: wait for the sender's pending transactions, then read at one pinned block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tonne.chain.view import ChainView


def settle_and_pin(view: ChainView, sender: str | None, pending_timeout: float, log: Callable[[str], None]) -> int:
    """Wait until ``sender`` has no pending transaction (``PendingTransactionsError`` after ``pending_timeout``
    seconds), so nothing it sent earlier can still land, then pin the latest block; returns it. The caller unpins.
    Without a ``sender`` (a read-only plan: a dry run with no account) the latest block is pinned at once."""
    if sender is not None:
        view.wait_settled(sender, pending_timeout, log)
    return view.pin()


@contextmanager
def pinned(
    view: ChainView, sender: str | None, pending_timeout: float, log: Callable[[str], None] = lambda _: None
) -> Iterator[int]:
    """``settle_and_pin`` for the reads inside the ``with`` block, unpinned after it. Yields the block number.

    The plan's reads and every re-check after a failed transaction use it: one block, not ``latest`` call by call
    (a block mined between two calls would mix two states)."""
    block = settle_and_pin(view, sender, pending_timeout, log)
    try:
        yield block
    finally:
        view.unpin()
