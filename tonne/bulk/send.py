"""Sending a bulk plan: up to ``window`` transactions in flight, receipts collected in order, and every failure
handed back to the tool to re-check against the chain before anything more is sent."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from tonne.chain.errors import SendFailed
from tonne.chain.send import Sent

Item = TypeVar("Item")


class Progress(Protocol):
    def update(self, n: int) -> Any: ...


def send_windowed(
    items: Iterable[Item],
    submit: Callable[[Item], Any],
    wait: Callable[[Any], Sent],
    record: Callable[[Item, Sent], None],
    settle: Callable[[list[tuple[Item, SendFailed]]], list[Item]],
    *,
    window: int = 1,
) -> None:
    """Send ``items`` (each one transaction) in order, keeping up to ``window`` in flight.

    ``submit(item)`` sends it and returns a handle (a transaction hash, or the ``Sent`` itself for a sender that
    waits); ``wait(handle)`` returns its ``Sent``; ``record(item, sent)`` counts a mined transaction. A ``SendFailed``
    from either stops submitting; once what is in flight is collected, ``settle(failures)`` (in sending order, which
    is the file's) re-checks the failed items against the chain, read at one pinned block (``tonne.bulk.pinned``),
    and returns those to send again (first), or raises to stop the run. ``items`` is read
    lazily, so a streamed plan stays streamed.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    source = iter(items)
    again: deque[Item] = deque()  # items to send again after a failure, before the rest
    inflight: deque[tuple[int, Item, Any]] = deque()  # (place in the sending order, item, handle)
    failures: list[tuple[int, Item, SendFailed]] = []
    taken = 0
    while True:
        while not failures and len(inflight) < window:
            item = again.popleft() if again else next(source, _END)
            if item is _END:
                break
            taken += 1
            try:
                inflight.append((taken, item, submit(item)))
            except SendFailed as exc:
                failures.append((taken, item, exc))
        if not inflight and not failures:
            return
        if inflight:
            place, item, handle = inflight.popleft()
            try:
                record(item, wait(handle))
            except SendFailed as exc:
                failures.append((place, item, exc))
        if failures and not inflight:
            # A submission refused while earlier transactions were in flight fails before them: hand the failures
            # over in sending (file) order, so what is sent again and what is reported keep that order.
            failures.sort(key=lambda failure: failure[0])
            again.extendleft(reversed(settle([(item, exc) for _, item, exc in failures])))
            failures = []


_END: Any = object()


def waited(sender: Any) -> Callable[[Any], Sent]:
    """The ``wait`` of ``send_windowed`` for ``sender``: a handle that is already a ``Sent`` is returned as it is."""
    return lambda handle: handle if isinstance(handle, Sent) else sender.wait(handle)
