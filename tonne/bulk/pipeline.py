"""A bulk run end to end: plan (static checks and chain checks, done rows dropped), then, unless it is a dry run or
nothing is left, send with a progress bar; the summary says what was done and how long it took."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from tonne.bulk.report import network_errors, rpc_lost
from tonne.bulk.send import Progress

P = TypeVar("P")
S = TypeVar("S", bound="Summary")


class Summary(Protocol):
    elapsed: float
    dry_run: bool


def run(
    plan: P,
    send: Callable[[P, Progress], S],
    idle: Callable[[P, bool], S],
    *,
    rows: int,
    done: int,
    pending: int,
    unit: str,
    desc: str,
    dry_run: bool = False,
    progress: bool = False,
    on_plan: Callable[[P], Any] | None = None,
    started: float | None = None,
    rpc: str | None = None,
) -> S:
    """The common tail of every bulk tool once its ``plan`` is made (which raised, nothing sent, on any problem):
    show it (``on_plan``), then either return ``idle(plan, dry_run)`` (a dry run, or ``pending`` is 0: every row is
    done on-chain) or ``send(plan, bar)``, a tqdm bar of ``rows`` ``unit``s starting at the ``done`` ones (shown only
    with ``progress``). ``elapsed`` is measured from ``started`` (default: now).

    The node going away while sending (a connection refused or reset, a time-out) raises ``RpcLost``, one line
    naming ``rpc`` (the node's URL) and saying that a rerun resumes, rather than a traceback."""
    started = time.monotonic() if started is None else started
    if on_plan is not None:
        on_plan(plan)
    if dry_run or not pending:
        summary = idle(plan, dry_run)
        summary.dry_run = dry_run
    else:
        from tqdm import tqdm

        with tqdm(total=rows, initial=done, unit=unit, desc=desc, disable=not progress, dynamic_ncols=True) as bar:
            try:
                summary = send(plan, bar)
            except network_errors() as exc:
                raise rpc_lost(rpc, exc) from exc
    summary.elapsed = time.monotonic() - started
    return summary
