"""Entry points: issue a file end to end, from a ``ChainView`` and a ``Sender`` or from ape objects."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tonne import bulk
from tonne.chain.send import ApeSender, Sender, Web3Sender, ape_abi
from tonne.chain.view import ChainView, error_names
from tonne.issuance.checks import Contracts
from tonne.issuance.plan import Plan
from tonne.issuance.send import DEFAULT_WINDOW, IssueSummary, execute
from tonne.issuance.stream import FilePlan, plan_file, scan


def run_file(
    path: Path | str,
    view: ChainView,
    contracts: Contracts,
    sender: Sender,
    *,
    chunk_size: int | None = None,
    dry_run: bool = False,
    progress: bool = False,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    on_plan: Callable[[Plan | FilePlan], None] | None = None,
    window: int = DEFAULT_WINDOW,
) -> IssueSummary:
    """Check ``path`` statically and against the chain, then issue what is not done yet (unless ``dry_run``).

    The file is streamed (``tonne.issuance.stream``): read once into a compact spool while every row is checked,
    then checked against the chain and sent from the spool; the rows are never all in memory at once.

    ``chunk_size`` is the orders per ``issueMany``; None (the default) sizes the chunks from the chain's block gas
    limit (``tonne.issuance.plan.auto_chunk_size``). ``window``: transactions in flight at once (``execute``).

    Raises ``IssuanceError`` (nothing sent) for any problem found before sending.
    """
    started = time.monotonic()
    scanned = scan(path)  # the static pass, streamed into a spool; raises before the chain is read
    try:
        plan = plan_file(
            scanned, view, contracts, sender.address, chunk_size=chunk_size, pending_timeout=pending_timeout, log=log
        )
        return bulk.run(
            plan,
            lambda p, bar: execute(
                p,
                view,
                contracts,
                sender,
                progress=bar,
                pending_timeout=pending_timeout,
                log=log,
                started=started,
                window=window,
            ),
            lambda p, _: IssueSummary(rows=p.row_count, already_done=p.done_count),
            rows=plan.row_count,
            done=plan.done_count,
            pending=plan.chunk_count,
            unit="row",
            desc="issuing",
            dry_run=dry_run,
            progress=progress,
            on_plan=on_plan,
            started=started,
            rpc=bulk.rpc_of(view),
        )
    finally:
        scanned.close()


def issue_from_csv(path: Path | str, credit: Any, registry: Any, sender: Any, **options: Any) -> IssueSummary:
    """``run_file`` with ape objects: ``credit``/``registry`` contract instances, ``sender`` an ape account (or any
    ``Sender``); ``options`` are ``run_file``'s (``chunk_size``, ``dry_run``, ``progress``, ``pending_timeout``,
    ``log``, ``on_plan``). Safe to run again on the same file: rows already issued are skipped."""
    provider = credit.provider
    view = ChainView(provider.web3, errors=error_names(ape_abi(credit), ape_abi(registry)))
    contracts = Contracts(credit=str(credit.address), registry=str(registry.address))
    if not isinstance(sender, ApeSender | Web3Sender):
        sender = ApeSender(sender, provider)
    return run_file(path, view, contracts, sender, **options)
