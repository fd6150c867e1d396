"""Sending a plan: its transactions (one retirement each, or a ``retireBatch`` of several), up to ``window`` of them
in flight at once, receipts collected in order, and every failure re-checked against the chain before it is called a
failure: rows of a failed transaction that are done on-chain meanwhile are counted as such, and when the failure was
theirs the rest of the transaction is sent again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from tonne.bulk.chain import pinned
from tonne.bulk.report import Problem
from tonne.bulk.send import Progress, send_windowed, waited
from tonne.chain.checks import view_value
from tonne.chain.errors import SendFailed
from tonne.chain.send import Sent
from tonne.chain.view import Call, ChainView, Reverted
from tonne.retirement.checks import CERTIFICATE_VIEW, Contracts, certificate_mismatch, field_name
from tonne.retirement.plan import Batch, Plan, Retirement, where
from tonne.retirement.rows import RetirementError

DEFAULT_WINDOW = 16
RETIREMENT_RECORDED = (
    "RetirementRecorded(uint256,address,address,uint256[],uint256[],string,string,string,uint40,uint40,uint8,bytes32)"
)
RETIREMENT_RECORDED_TOPIC = "0x" + keccak(text=RETIREMENT_RECORDED).hex()


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
        return len({c.tx_hash for c in self.certified})

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
    """Send the plan's transactions in order, keeping up to ``window`` in flight (a sender without ``submit`` sends
    one at a time). After a failure nothing more is submitted until what is in flight is collected; then each
    retirement of each failed transaction is re-checked: one whose reference was used meanwhile (for this very
    retirement) is counted as raced, and the other retirements of its transaction are sent again; any other failure
    stops the run with ``RetirementError`` naming the row (what landed stands; a re-run does the rest)."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    summary = RetireSummary(requests=len(plan.requests), already_done=len(plan.done), done=list(plan.done))
    start = time.monotonic() if started is None else started
    pipelined = hasattr(sender, "submit") and hasattr(sender, "wait")

    def submit(batch: Batch) -> Any:
        data = batch.calldata(sender.address)
        if pipelined:
            return sender.submit(contracts.retirement, data, batch.gas)
        return sender.send(contracts.retirement, data)

    def record(batch: Batch, sent: Sent) -> None:
        ids = certificate_ids(sent, contracts.retirement)
        summary.gas_used += sent.gas_used
        for i, retirement in enumerate(batch.retirements):
            summary.retired += 1
            summary.certified.append(Certified(retirement, ids[i] if i < len(ids) else 0, sent.tx_hash))
        if progress is not None:
            progress.update(len(batch.retirements))

    def settle(failures: list[tuple[Batch, SendFailed]]) -> list[Batch]:
        # Everything sent so far is settled: a failure whose reference got used meanwhile was a lost race (go on,
        # sending the rest of its transaction again); any other stops the run here.
        with pinned(view, sender.address, pending_timeout, log):  # every read of the re-check at one block
            return _settle_failures(plan.path, failures, summary, view, contracts, sender.address, log, progress)

    send_windowed(plan.batches, submit, waited(sender), record, settle, window=window if pipelined else 1)
    summary.elapsed = time.monotonic() - start
    return summary


def _settle_failures(
    path: str,
    failures: list[tuple[Batch, SendFailed]],
    summary: RetireSummary,
    view: ChainView,
    contracts: Contracts,
    address: str,
    log: Callable[[str], None],
    progress: Progress | None,
) -> list[Batch]:
    """Re-check every retirement of the failed transactions (the caller pins one block); returns what to send again,
    or raises."""
    rows = [(batch, r, exc) for batch, exc in failures for r in batch.retirements]
    calls = [
        Call(
            contracts.retirement,
            "certificateOfReference(address,bytes32)",
            (r.request.holder_or(address), r.request.retirement_ref),
            ("uint256",),
        )
        for _, r, _ in rows
    ]
    used = [view_value(result, "certificateOfReference") for result in view.call_many(calls)]
    # A used reference counts as this row's retirement only when its certificate is that retirement.
    certificates = view.call_many(
        [Call(contracts.retirement, "certificate(uint256)", (cid,), (CERTIFICATE_VIEW,)) for cid in used if cid]
    )
    matches = iter(certificates)
    real: list[tuple[Retirement, SendFailed]] = []
    raced_in: set[int] = set()  # failed transactions (by position in failures) some of whose rows were done meanwhile
    pending: list[tuple[int, Retirement, SendFailed]] = []  # rows not done on-chain, by failed transaction
    position = {id(batch): n for n, (batch, _) in enumerate(failures)}
    for (batch, retirement, exc), certificate_id in zip(rows, used, strict=True):
        if certificate_id:
            r = retirement.request
            cert = next(matches)
            why = (
                "its certificate cannot be read"
                if isinstance(cert, Reverted)
                else certificate_mismatch(
                    cert,
                    r.holder_or(address),
                    r.beneficiary,
                    list(retirement.token_ids),
                    [c.units for c in r.credits],
                    jurisdiction=r.jurisdiction,
                    period=r.period,
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
            raced_in.add(position[id(batch)])
            log(
                f"{where(retirement.request)} ({retirement.request.reference}) was retired meanwhile by another "
                f"transaction: certificate #{certificate_id}"
            )
            if progress is not None:
                progress.update(1)
        else:
            pending.append((position[id(batch)], retirement, exc))
    retry: dict[int, list[Retirement]] = {}
    for n, retirement, exc in pending:
        if n in raced_in or exc.retry:  # its transaction reverted for a row done meanwhile, or lost its nonce
            retry.setdefault(n, []).append(retirement)
        else:
            real.append((retirement, exc))
    if real:
        real = _blame(real, failures, view, contracts, address)
        retirement, exc = real[0]
        more = f" (and {len(real) - 1} more after it)" if len(real) > 1 else ""
        # The summary names the first row at fault; the problems say ``file:line: field: message`` for each.
        problems = sorted(
            (
                Problem(path, r.request.line, field_name(r.request, "reference"), f"the retirement failed: {e}")
                for r, e in real
            ),
            key=lambda p: p.line or 0,
        )
        raise RetirementError(
            f"the retirement of {where(retirement.request)} ({retirement.request.reference}) failed: {exc}{more}. "
            f"{summary.retired} retirement(s) of this run stand; fix the cause and run again to do the rest.",
            problems,
        )
    return [Batch(tuple(rs), failures[n][0].gas) for n, rs in sorted(retry.items())]


def _blame(
    real: list[tuple[Retirement, SendFailed]],
    failures: list[tuple[Batch, SendFailed]],
    view: ChainView,
    contracts: Contracts,
    address: str,
) -> list[tuple[Retirement, SendFailed]]:
    """The failed rows, the ones at fault first: a ``retireBatch`` reverts as a whole, so each of its rows is simulated
    alone on the pinned state, and a row that would revert alone carries its own error (the others keep the
    transaction's). Single-retirement transactions are left as they are."""
    if all(len(batch.retirements) == 1 for batch, _ in failures):
        return real
    results = view.estimate_many([(contracts.retirement, Batch((r,)).calldata(address), address) for r, _ in real])
    at_fault = [
        (r, SendFailed(f"the retirement contract refuses it: {result.error} (its transaction failed: {exc})"))
        for (r, exc), result in zip(real, results, strict=True)
        if isinstance(result, Reverted)
    ]
    return at_fault + [pair for pair, result in zip(real, results, strict=True) if not isinstance(result, Reverted)]
