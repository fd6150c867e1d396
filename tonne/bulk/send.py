"""Sending a bulk plan: up to ``window`` transactions in flight, receipts collected in order, and every failure
handed back to the tool to re-check against the chain before anything more is sent."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from tonne.chain.errors import SendFailed
from tonne.chain.send import Sent

Item = TypeVar("Item")

NONCE_RETRIES = 5  # a transaction refused for its nonce is re-checked and sent again this many times at most

_NONCE_CLASHES = (
    "nonce too low",
    "already known",
    "replacement transaction underpriced",
    "nonce too high",
    "invalid nonce",  # ape's own refusal before publishing ("Invalid nonce, will not publish")
)
# Anvil's own wording when another sender took the nonce between ape's read and its send:
# "VirtualMachineError: (-32003) Nonce '742' is too low".
_NONCE_TOO = re.compile(r"nonce '?\d*'? is too (low|high)")


def nonce_clash(exc: BaseException) -> bool:
    """The transaction was refused for its nonce: another sender of the same account (another run of the same
    command, say) used it first. Nothing of it was done; what it would have done may have been done meanwhile."""
    text = str(exc).lower()
    return any(clash in text for clash in _NONCE_CLASHES) or _NONCE_TOO.search(text) is not None


def ape_send(method: Callable[..., Any], *args: Any, sender: Any) -> Sent:
    """``method(*args, sender=sender)`` (an ape contract transaction) as a ``Sent``, for a tool's ``submit``: a
    contract refusal raises ``SendFailed`` with the refusal decoded (``tonne.chain.refusal.refused``), a nonce clash
    ``SendFailed`` naming it (``send_windowed`` has it re-checked and sent again); any other error is raised as it
    is."""
    from ape.exceptions import ContractLogicError

    from tonne.chain.refusal import refused

    try:
        receipt = method(*args, sender=sender)
    except ContractLogicError as exc:
        raise SendFailed(refused(exc)) from exc
    except Exception as exc:
        if nonce_clash(exc):
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        raise
    return Sent(str(receipt.txn_hash), int(receipt.gas_used), int(receipt.block_number or 0), ())


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
    nonce_retries: int = NONCE_RETRIES,
) -> None:
    """Send ``items`` (each one transaction) in order, keeping up to ``window`` in flight.

    ``submit(item)`` sends it and returns a handle (a transaction hash, or the ``Sent`` itself for a sender that
    waits); ``wait(handle)`` returns its ``Sent``; ``record(item, sent)`` counts a mined transaction. A ``SendFailed``
    from either stops submitting; once what is in flight is collected, ``settle(failures)`` (in sending order, which
    is the file's) re-checks the failed items against the chain, read at one pinned block (``tonne.bulk.pinned``),
    and returns those to send again (first), or raises to stop the run. ``items`` is read
    lazily, so a streamed plan stays streamed.

    A failure refused for its nonce (``nonce_clash``: another run of the same account took it) is handed over with
    ``exc.retry`` set, up to ``nonce_retries`` times for what one item became: the tool sends its items again even
    when the re-check finds none of them done meanwhile (any other failure with nothing done meanwhile stops).
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    source = iter(items)
    again: deque[tuple[Item, int]] = deque()  # (item, times sent before) to send again after a failure, first
    inflight: deque[tuple[int, Item, int, Any]] = deque()  # (place in the sending order, item, times sent, handle)
    failures: list[tuple[int, Item, int, SendFailed]] = []
    taken = 0
    while True:
        while not failures and len(inflight) < window:
            item, tries = again.popleft() if again else (next(source, _END), 0)
            if item is _END:
                break
            taken += 1
            try:
                inflight.append((taken, item, tries, submit(item)))
            except SendFailed as exc:
                failures.append((taken, item, tries, exc))
        if not inflight and not failures:
            return
        if inflight:
            place, item, tries, handle = inflight.popleft()
            try:
                record(item, wait(handle))
            except SendFailed as exc:
                failures.append((place, item, tries, exc))
        if failures and not inflight:
            # A submission refused while earlier transactions were in flight fails before them: hand the failures
            # over in sending (file) order, so what is sent again and what is reported keep that order.
            failures.sort(key=lambda failure: failure[0])
            for _, _, tries, exc in failures:
                exc.retry = nonce_clash(exc) and tries < nonce_retries
            tries = 1 + max(tries for _, _, tries, _ in failures)
            resend = settle([(item, exc) for _, item, _, exc in failures])
            again.extendleft((item, tries) for item in reversed(resend))
            failures = []


_END: Any = object()


def waited(sender: Any) -> Callable[[Any], Sent]:
    """The ``wait`` of ``send_windowed`` for ``sender``: a handle that is already a ``Sent`` is returned as it is."""
    return lambda handle: handle if isinstance(handle, Sent) else sender.wait(handle)
