"""Entry points: retire a CSV file or one request end to end, from a ``ChainView`` and a sender or from ape objects."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tonne import bulk
from tonne.chain.send import ApeSender, Web3Sender, ape_abi
from tonne.chain.view import ChainView, error_names
from tonne.retirement.checks import Contracts
from tonne.retirement.plan import Plan, prepare
from tonne.retirement.rows import COMMAND, Request, read_requests
from tonne.retirement.send import DEFAULT_WINDOW, RetireSummary, execute


def run_requests(
    name: str,
    requests: Sequence[Request],
    view: ChainView,
    contracts: Contracts,
    sender: Any,
    *,
    window: int = DEFAULT_WINDOW,
    batch_size: int = 1,
    dry_run: bool = False,
    progress: bool = False,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    on_plan: Callable[[Plan], None] | None = None,
    started: float | None = None,
) -> RetireSummary:
    """Check ``requests`` against the chain, then retire what is not done yet (unless ``dry_run``), up to
    ``batch_size`` retirements per transaction (1: one ``retire`` transaction per request).

    Raises ``RetirementError`` (nothing sent) for any problem found before sending."""
    started = time.monotonic() if started is None else started
    plan = prepare(
        name, requests, view, contracts, sender.address, pending_timeout=pending_timeout, log=log, batch_size=batch_size
    )
    return bulk.run(
        plan,
        lambda p, bar: execute(
            p,
            view,
            contracts,
            sender,
            window=window,
            progress=bar,
            pending_timeout=pending_timeout,
            log=log,
            started=started,
        ),
        lambda p, _: RetireSummary(requests=len(p.requests), already_done=len(p.done), done=list(p.done)),
        rows=len(requests),
        done=len(plan.done),
        pending=len(plan.todo),
        unit="retirement",
        desc="retiring",
        dry_run=dry_run,
        progress=progress,
        on_plan=on_plan,
        started=started,
        rpc=bulk.rpc_of(view),
    )


def run_file(path: Path | str, view: ChainView, contracts: Contracts, sender: Any, **options: Any) -> RetireSummary:
    """Check the CSV file ``path`` statically and against the chain, then retire its rows not done yet."""
    started = time.monotonic()
    return run_requests(str(path), read_requests(path), view, contracts, sender, started=started, **options)


def ape_context(deployed: Any, account: Any) -> tuple[ChainView, Contracts, Any]:
    """A chain view, the contract addresses and a sender, from ape objects: ``deployed`` has ``credit``,
    ``registry`` and ``retirement`` contract instances; ``account`` is an ape account (or any sender)."""
    provider = deployed.credit.provider
    errors = error_names(ape_abi(deployed.credit), ape_abi(deployed.registry), ape_abi(deployed.retirement))
    view = ChainView(provider.web3, errors=errors)
    contracts = Contracts(
        credit=str(deployed.credit.address),
        registry=str(deployed.registry.address),
        retirement=str(deployed.retirement.address),
    )
    sender = account if isinstance(account, ApeSender | Web3Sender) else ApeSender(account, provider)
    return view, contracts, sender


def retire_from_csv(path: Path | str, deployed: Any, account: Any, **options: Any) -> RetireSummary:
    """Retire the rows of ``path`` with ape objects. Safe to run again on the same file: rows whose reference is
    already used on-chain are skipped, and reported with their certificate ids."""
    view, contracts, sender = ape_context(deployed, account)
    return run_file(path, view, contracts, sender, **options)


def retire_request(request: Request, deployed: Any, account: Any, **options: Any) -> RetireSummary:
    """Make one retirement (``retire one``) with ape objects; a request whose reference is used is not made again."""
    view, contracts, sender = ape_context(deployed, account)
    return run_requests(COMMAND, [request], view, contracts, sender, **options)
