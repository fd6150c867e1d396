"""Sending a plan: the send loop that survives lost races (the senders themselves are in ``tonne.chain.send``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tonne.bulk.chain import pinned
from tonne.bulk.report import line_ranges
from tonne.bulk.send import Progress, send_windowed, waited
from tonne.chain.errors import SendFailed
from tonne.chain.send import ApeSender, Sender, Sent, Web3Sender, reverted, wait_for_receipt
from tonne.chain.view import Call, ChainView
from tonne.core.ids import project_of
from tonne.issuance.checks import ORDER_DIGEST, Contracts, order_digest, view_value
from tonne.issuance.errors import IssuanceError
from tonne.issuance.plan import GAS_PER_ORDER, GAS_PER_TX, NEW_ID_GAS, Order, Plan, encode_issue_many


@dataclass
class IssueSummary:
    """What a run did."""

    rows: int = 0
    issued: int = 0  # rows issued by this run
    already_done: int = 0  # rows whose orderRef was used before this run planned
    raced: int = 0  # rows found issued by another transaction while this run was sending
    raced_lines: list[int] = field(default_factory=list)  # their lines in the file
    txs: int = 0
    gas_used: int = 0
    elapsed: float = 0.0
    tx_hashes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.issued / self.elapsed if self.elapsed > 0 else 0.0

    def describe(self) -> str:
        if self.dry_run:
            return f"dry run: {self.rows - self.already_done} rows would be issued; nothing was sent"
        if self.issued == 0 and self.raced == 0:
            return f"nothing to issue: all {self.rows} rows were already issued on-chain ({self.elapsed:.1f} s)"
        gas_per_row = self.gas_used // self.issued if self.issued else 0
        text = (
            f"issued {self.issued} rows now; {self.already_done} were already done before this run"
            + (f"; {self.raced} were issued meanwhile by another transaction" if self.raced else "")
            + f"; {self.txs} transaction(s), {self.gas_used:,} gas ({gas_per_row:,}/row); "
            f"{self.elapsed:.1f} s, {self.rows_per_second:.0f} rows/s"
        )
        if self.raced:
            text += (
                f"\ndone by someone else: lines {line_ranges(self.raced_lines, 40)} were issued by another run or "
                "transaction while this run was sending (each row is on-chain once, with this file's recipient and "
                f"amount); exit status {RACED_EXIT}"
            )
        return text


RACED_EXIT = 3  # the file is fully issued, but another sender issued some of its rows meanwhile
# Transactions in flight at once (consecutive nonces): two, so that the next chunk is signed and sent while the node
# mines the one before (100k rows: receipt polls 5,256 -> 536, tool CPU 21.7 -> 13.7 s). A run killed meanwhile
# leaves up to two pending; the rerun waits for them before it plans (tests/e2e/test_issue_script.py).
DEFAULT_WINDOW = 2


@dataclass(frozen=True)
class _Chunk:
    """One ``issueMany`` to send: its place in the plan and its orders."""

    index: int
    orders: list[Order]


def execute(
    plan: Plan | Any,
    view: ChainView,
    contracts: Contracts,
    sender: Sender,
    *,
    progress: Progress | None = None,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    started: float | None = None,
    window: int = DEFAULT_WINDOW,
) -> IssueSummary:
    """Send the plan's chunks in order (``tonne.bulk.send_windowed``, up to ``window`` in flight with a sender that
    can submit without waiting, else one). Each chunk is simulated before it is submitted (``_submit``). A chunk that
    fails is re-checked against the chain once what is in flight is collected (failed chunks in sending order): rows
    whose orderRef got used meanwhile are dropped and the rest is sent again; a failure with no such row stops the
    run."""
    summary = IssueSummary(rows=plan.row_count, already_done=plan.done_count)
    start = time.monotonic() if started is None else started
    told = False
    total = plan.chunk_count
    known_contracts = plan.state.contracts
    block_limit = getattr(plan, "block_gas_limit", None)

    def submit(chunk: _Chunk) -> Any:
        return _submit(chunk.orders, view, contracts, sender, known_contracts, block_limit)

    def record(chunk: _Chunk, sent: Sent) -> None:
        summary.txs += 1
        summary.gas_used += sent.gas_used
        summary.issued += len(chunk.orders)
        summary.tx_hashes.append(sent.tx_hash)
        if progress is not None:
            progress.update(len(chunk.orders))

    def settle(failures: list[tuple[_Chunk, SendFailed]]) -> list[_Chunk]:
        again: list[_Chunk] = []
        for chunk, exc in failures:  # in sending order: the first that cannot be explained stops the run
            again.extend(settle_one(chunk, exc))
        return again

    def settle_one(chunk: _Chunk, exc: SendFailed) -> list[_Chunk]:
        nonlocal told
        remaining = chunk.orders
        quiet = log if not told else (lambda _: None)
        still = _drop_raced(
            remaining,
            exc,
            chunk.index,
            total,
            view,
            contracts,
            sender.address,
            pending_timeout,
            quiet,
            retry=exc.retry,  # a nonce clash (tonne.bulk.send_windowed): sent again, done meanwhile or not
        )
        if len(still) < len(remaining):
            told = True
        summary.raced += len(remaining) - len(still)
        summary.raced_lines.extend(o.row.line for o in remaining if o not in still)
        if progress is not None:
            progress.update(len(remaining) - len(still))
        return [_Chunk(chunk.index, still)] if still else []

    chunks = (_Chunk(index, list(orders)) for index, orders in enumerate(plan.iter_chunks(), 1))
    pipelined = getattr(sender, "submit", None) is not None and getattr(sender, "wait", None) is not None
    send_windowed(chunks, submit, waited(sender), record, settle, window=window if pipelined else 1)
    summary.elapsed = time.monotonic() - start
    return summary


def chunk_gas_limit(orders: list[Order], block_limit: int) -> int:
    """A gas limit no ``issueMany`` of ``orders`` to accounts without code can exceed: ``GAS_PER_ORDER`` (above the
    56.4k measured for a fresh recipient) per order, ``GAS_PER_TX``, and ``NEW_ID_GAS`` per distinct id; within
    the block."""
    ids = len({o.token_id for o in orders})
    return min(block_limit, GAS_PER_TX + GAS_PER_ORDER * len(orders) + NEW_ID_GAS * ids)


def _submit(
    orders: list[Order],
    view: ChainView,
    contracts: Contracts,
    sender: Sender,
    known_contracts: set[str],
    block_limit: int | None,
) -> Sent | str:
    """Send one chunk: its ``Sent``, or the hash of a transaction submitted to be waited for. A sender that can take
    a gas limit (``submit``/``wait``) gets the chunk simulated once with
    ``eth_call`` (a revert raises ``SendFailed``, as a reverted estimate does) and ``chunk_gas_limit`` as its limit:
    measured, ``eth_estimateGas`` of a 200-order chunk costs Anvil ~0.12 s (a search over many executions), about
    half a send. A chunk with a contract recipient (whose hook may use any gas) is estimated as before."""
    data = encode_issue_many(orders)
    submit, wait = getattr(sender, "submit", None), getattr(sender, "wait", None)
    if submit is None or wait is None or block_limit is None or any(o.row.recipient in known_contracts for o in orders):
        return sender.send(contracts.credit, data)
    simulate(view, sender.address, contracts.credit, data)
    return submit(contracts.credit, data, chunk_gas_limit(orders, block_limit))


def simulate(view: ChainView, address: str, to: str, data: bytes) -> None:
    """``eth_call`` of the transaction at the latest block; a revert raises ``SendFailed`` with the revert data,
    decoded by ``tonne.chain.refusal`` (the custom error's name and arguments)."""
    params = {"from": address, "to": to, "data": "0x" + bytes(data).hex()}
    (response,) = view.rpc_many([("eth_call", [params, "latest"])])
    if "error" in response:
        raise reverted(response["error"], "the simulation", "the simulation failed")


def _drop_raced(
    remaining: list[Order],
    exc: SendFailed,
    index: int,
    total: int,
    view: ChainView,
    contracts: Contracts,
    address: str,
    pending_timeout: float,
    log: Callable[[str], None],
    *,
    retry: bool = False,
) -> list[Order]:
    """The orders of a failed chunk whose orderRef is still unused in their project; raises when none got used
    meanwhile (unless ``retry``: the node refused the nonce, another sender of this account got there first), or
    when one got used by an issuance other than the row's (a conflict)."""
    calls = [
        Call(contracts.credit, ORDER_DIGEST, (project_of(o.token_id), o.row.order_ref), ("bytes32",)) for o in remaining
    ]
    with pinned(view, address, pending_timeout, log):  # one block, however many batches the calls take
        digests = [bytes(view_value(result, "orderDigest")) for result in view.call_many(calls)]
    clashes = [
        o.row.line
        for o, d in zip(remaining, digests, strict=True)
        if any(d) and d != order_digest(o.token_id, o.row.recipient, o.row.units)
    ]
    if clashes:
        raise IssuanceError(
            f"transaction {index}/{total} failed: {exc}. The reference of line(s) {', '.join(map(str, clashes))} "
            "was used meanwhile by a different issuance of its project (a conflict); nothing more is sent."
        ) from exc
    still = [order for order, d in zip(remaining, digests, strict=True) if not any(d)]
    if len(still) == len(remaining) and retry:
        return still
    if len(still) == len(remaining):
        lines = f"lines {remaining[0].row.line}..{remaining[-1].row.line}"
        raise IssuanceError(
            f"transaction {index}/{total} ({len(remaining)} orders, {lines}) failed: {exc}. "
            "The transactions before it stand; fix the cause and run again to issue the rest."
        ) from exc
    raced = [o.row.line for o in remaining if o not in still]
    log(
        f"transaction {index}/{total}: {len(raced)} row(s) were issued meanwhile by another transaction "
        f"(lines {line_ranges(raced, 4)}): is another run issuing this file? Sending the rest; rows issued by "
        "someone else are listed at the end"
    )
    return still


__all__ = [
    "DEFAULT_WINDOW",
    "RACED_EXIT",
    "ApeSender",
    "IssueSummary",
    "Progress",
    "Sender",
    "Sent",
    "Web3Sender",
    "execute",
    "line_ranges",
    "wait_for_receipt",
]
