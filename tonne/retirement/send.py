"""Sending a plan: one transaction per retirement, up to ``window`` of them in flight at once, receipts collected in
order, and every failure re-checked against the chain before it is called a failure."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_utils import keccak

from tonne.chain.checks import view_value
from tonne.chain.errors import SendFailed
from tonne.chain.send import Sent
from tonne.chain.view import Call, ChainView, Reverted
from tonne.retirement.checks import CERTIFICATE_VIEW, Contracts, certificate_mismatch
from tonne.retirement.plan import Plan, Retirement, where
from tonne.retirement.rows import RetirementError

DEFAULT_WINDOW = 16
RETIREMENT_RECORDED = (
    "RetirementRecorded(uint256,address,address,uint256[],uint256[],string,string,string,uint40,uint40,uint8,bytes32)"
)
RETIREMENT_RECORDED_TOPIC = "0x" + keccak(text=RETIREMENT_RECORDED).hex()


class Progress(Protocol):
    def update(self, n: int) -> Any: ...


@dataclass(frozen=True)
class Certified:
    """A retirement this run made: its request, certificate id and transaction."""

    retirement: Retirement
    certificate_id: int
    tx_hash: str


@dataclass
class RetireSummary:
    """What a run did."""

    requests: int = 0
    retired: int = 0  # retirements made by this run
    already_done: int = 0  # references used before this run planned
    raced: int = 0  # references used by another transaction while this run was sending
    gas_used: int = 0
    elapsed: float = 0.0
    certified: list[Certified] = field(default_factory=list)
    done: list[tuple[Any, int]] = field(default_factory=list)  # (request, certificate id) already done before
    dry_run: bool = False

    @property
    def txs(self) -> int:
        return len(self.certified)

    @property
    def per_second(self) -> float:
        return self.retired / self.elapsed if self.elapsed > 0 else 0.0

    def describe(self) -> str:
        if self.dry_run:
            return f"dry run: {self.requests - self.already_done} retirement(s) would be made; nothing was sent"
        if self.retired == 0 and self.raced == 0:
            return (
                f"nothing to retire: all {self.requests} retirement(s) were already done on-chain "
                f"({self.elapsed:.1f} s)"
            )
        gas_each = self.gas_used // self.retired if self.retired else 0
        ids = sorted(c.certificate_id for c in self.certified)
        span = f"certificate #{ids[0]}" if len(ids) == 1 else f"certificates #{ids[0]}..#{ids[-1]}" if ids else ""
        return (
            f"retired {self.retired} now ({span}); {self.already_done} were already done before this run"
            + (f"; {self.raced} were done meanwhile by another transaction" if self.raced else "")
            + f"; {self.gas_used:,} gas ({gas_each:,} each); {self.elapsed:.1f} s, {self.per_second:.0f}/s"
        )


def certificate_ids(sent: Sent, retirement_address: str) -> list[int]:
    """Certificate ids of the ``RetirementRecorded`` logs of a receipt, emitted by ``retirement_address``."""
    return [
        int(log["topics"][1], 16)
        for log in sent.logs
        if str(log.get("address", "")).lower() == retirement_address.lower()
        and log.get("topics")
        and str(log["topics"][0]).lower() == RETIREMENT_RECORDED_TOPIC
    ]


def execute(
    plan: Plan,
    view: ChainView,
    contracts: Contracts,
    sender: Any,
    *,
    window: int = DEFAULT_WINDOW,
    progress: Progress | None = None,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    started: float | None = None,
) -> RetireSummary:
    """Send the plan's retirements in order, keeping up to ``window`` in flight (a sender without ``submit`` sends
    one at a time). After a failure nothing more is submitted until what is in flight is collected; then each
    failed retirement is re-checked: if its reference was used meanwhile it is counted as raced and the run goes on,
    else the run stops with ``RetirementError`` naming it (what landed stands; a re-run does the rest)."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    summary = RetireSummary(requests=len(plan.requests), already_done=len(plan.done), done=list(plan.done))
    start = time.monotonic() if started is None else started
    pipelined = hasattr(sender, "submit") and hasattr(sender, "wait")
    queue = deque(plan.todo)
    inflight: deque[tuple[Retirement, str]] = deque()
    failures: list[tuple[Retirement, SendFailed]] = []

    def record(retirement: Retirement, sent: Sent) -> None:
        ids = certificate_ids(sent, contracts.retirement)
        summary.retired += 1
        summary.gas_used += sent.gas_used
        summary.certified.append(Certified(retirement, ids[0] if ids else 0, sent.tx_hash))
        if progress is not None:
            progress.update(1)

    while queue or inflight:
        while queue and not failures and len(inflight) < (window if pipelined else 1):
            retirement = queue.popleft()
            data = retirement.calldata(sender.address)
            try:
                if pipelined:
                    inflight.append((retirement, sender.submit(contracts.retirement, data, retirement.gas)))
                else:
                    record(retirement, sender.send(contracts.retirement, data))
            except SendFailed as exc:
                failures.append((retirement, exc))
        if inflight:
            retirement, tx_hash = inflight.popleft()
            try:
                record(retirement, sender.wait(tx_hash))
            except SendFailed as exc:
                failures.append((retirement, exc))
        if failures and not inflight:
            # Everything sent so far is settled: a failure whose reference got used meanwhile was a lost race (go on);
            # any other stops the run here.
            _settle_failures(failures, summary, view, contracts, sender.address, pending_timeout, log, progress)
            failures = []
    summary.elapsed = time.monotonic() - start
    return summary


def _settle_failures(
    failures: list[tuple[Retirement, SendFailed]],
    summary: RetireSummary,
    view: ChainView,
    contracts: Contracts,
    address: str,
    pending_timeout: float,
    log: Callable[[str], None],
    progress: Progress | None,
) -> None:
    view.wait_settled(address, pending_timeout, log)
    calls = [
        Call(
            contracts.retirement,
            "certificateOfReference(address,bytes32)",
            (r.request.holder_or(address), r.request.retirement_ref),
            ("uint256",),
        )
        for r, _ in failures
    ]
    used = [view_value(result, "certificateOfReference") for result in view.call_many(calls)]
    # A used reference counts as this row's retirement only when its certificate is that retirement.
    certificates = view.call_many(
        [Call(contracts.retirement, "certificate(uint256)", (cid,), (CERTIFICATE_VIEW,)) for cid in used if cid]
    )
    matches = iter(certificates)
    real = []
    for (retirement, exc), certificate_id in zip(failures, used, strict=True):
        if certificate_id:
            r = retirement.request
            cert = next(matches)
            why = (
                "its certificate cannot be read"
                if isinstance(cert, Reverted)
                else certificate_mismatch(
                    cert, r.holder_or(address), r.beneficiary, list(retirement.token_ids), [c.units for c in r.credits]
                )
            )
            if why:
                exc = SendFailed(
                    f"conflict: {r.holder_or(address)} already used the reference {r.reference!r} for certificate "
                    f"#{certificate_id}, which is not this retirement ({why})"
                )
                real.append((retirement, exc))
                continue
            summary.raced += 1
            summary.done.append((retirement.request, certificate_id))
            log(
                f"{where(retirement.request)} ({retirement.request.reference}) was retired meanwhile by another "
                f"transaction: certificate #{certificate_id}"
            )
            if progress is not None:
                progress.update(1)
        else:
            real.append((retirement, exc))
    if real:
        retirement, exc = real[0]
        more = f" (and {len(real) - 1} more after it)" if len(real) > 1 else ""
        raise RetirementError(
            f"the retirement of {where(retirement.request)} ({retirement.request.reference}) failed: {exc}{more}. "
            f"{summary.retired} retirement(s) of this run stand; fix the cause and run again to do the rest."
        )
