"""From checked rows to what a run sends: orders grouped by project, cut into ``issueMany`` chunks that fit a block
(the planner itself is ``tonne.issuance.stream.plan_file``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode

from tonne.bulk.chain import settle_and_pin as settle
from tonne.chain.view import ChainView, selector
from tonne.core.ids import describe, project_of
from tonne.core.units import format_tonnes
from tonne.issuance.checks import ISSUE_MANY, ChainState
from tonne.issuance.errors import IssuanceError
from tonne.issuance.rows import BatchRef, Row

DEFAULT_CHUNK_SIZE = 200
# Measured on CarbonCredit.issueMany (anvil, cancun): 56.4k gas per order to a fresh recipient (new balance slot,
# new orderRef slot, two events), ~37k per transaction. The constants round up so estimates stay on the safe side.
GAS_PER_ORDER = 60_000
GAS_PER_TX = 40_000
# A chunk may use at most this share of the block gas limit, so it still fits when blocks are busy.
MAX_BLOCK_SHARE = 0.5

_ORDER_TUPLE = "(uint256,address,uint256,bytes32)[]"


@dataclass(frozen=True)
class Order:
    """A row resolved to its token id: one ``IssueOrder`` of ``issueMany``."""

    row: Row
    token_id: int

    def as_tuple(self) -> tuple[int, str, int, bytes]:
        return (self.token_id, self.row.recipient, self.row.units, self.row.order_ref)


@dataclass
class Plan:
    """What a run will send: the rows already done and the chunks of orders still to issue."""

    path: str
    rows: list[Row]
    done: list[Row]
    chunks: list[list[Order]]
    state: ChainState
    block_gas_limit: int | None = None  # known: chunks to accounts without code are sent with a computed gas limit

    @property
    def orders(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def done_count(self) -> int:
        return len(self.done)

    @property
    def chunk_count(self) -> int:
        return len(self.chunks)

    def iter_chunks(self) -> Iterator[list[Order]]:
        return iter(self.chunks)

    def batch_totals(self) -> list[tuple[int, BatchRef, int, int]]:
        """(token id, the batch as first named, rows, units) of the orders to send, in sending order."""
        per_batch: dict[int, list[Order]] = {}
        for chunk_ in self.chunks:
            for order in chunk_:
                per_batch.setdefault(order.token_id, []).append(order)
        return [(t, o[0].row.batch, len(o), sum(x.row.units for x in o)) for t, o in per_batch.items()]

    def chunk_shapes(self) -> list[tuple[int, list[int]]]:
        """(orders, sorted project ids) of each chunk."""
        return [(len(c), sorted({project_of(o.token_id) for o in c})) for c in self.chunks]

    def describe(self) -> str:
        return format_plan(self)


def group_by_project(orders: Sequence[Order]) -> list[Order]:
    """Orders with each project's orders contiguous: projects in order of first appearance, rows in file order."""
    first_seen: dict[int, int] = {}
    for order in orders:
        first_seen.setdefault(project_of(order.token_id), len(first_seen))
    return sorted(orders, key=lambda o: first_seen[project_of(o.token_id)])  # stable: file order within a project


def chunk(orders: Sequence[Order], size: int) -> list[list[Order]]:
    """Consecutive slices of at most ``size`` orders."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [list(orders[i : i + size]) for i in range(0, len(orders), size)]


def max_chunk_size(block_gas_limit: int, share: float = MAX_BLOCK_SHARE) -> int:
    """The most orders one ``issueMany`` may carry so its worst-case gas stays within ``share`` of a block."""
    return max(1, int((block_gas_limit * share - GAS_PER_TX) // GAS_PER_ORDER))


def estimated_gas(orders: int) -> int:
    """Worst-case gas of one ``issueMany`` of ``orders`` orders (every recipient new to the id)."""
    return GAS_PER_TX + GAS_PER_ORDER * orders


def encode_issue_many(orders: Sequence[Order]) -> bytes:
    """Calldata of ``issueMany(orders)``."""
    return selector(ISSUE_MANY) + abi_encode([_ORDER_TUPLE], [[o.as_tuple() for o in orders]])


def format_plan(plan: Any) -> str:
    """Readable plan (a ``Plan`` or a streamed ``FilePlan``): per batch rows and tonnes against what is left, then
    the chunks."""
    lines = [
        f"{plan.path}: {plan.row_count} rows; {plan.done_count} already issued on-chain; "
        f"{plan.orders} to issue in {plan.chunk_count} transaction(s)"
        + (f" (read at block {plan.state.block})" if plan.state.block is not None else "")
    ]
    for token_id, batch_ref, count, units in plan.batch_totals():
        batch = plan.state.batches.get(token_id)
        left = f", {format_tonnes(batch.available)} left of {format_tonnes(batch.cap)}" if batch else ""
        lines.append(f"  {describe(token_id):>12}  {batch_ref}: {count} rows, {format_tonnes(units)}{left}")
    for index, (size, projects) in enumerate(plan.chunk_shapes(), 1):
        lines.append(
            f"  tx {index}: {size} orders of project{'s' * (len(projects) > 1)} "
            f"{', '.join(map(str, projects))}, at most ~{estimated_gas(size):,} gas"
        )
    return "\n".join(lines)


def settle_and_pin(
    view: ChainView, sender: str, chunk_size: int, pending_timeout: float, log: Callable[[str], None]
) -> int:
    """The start of every plan: refuse a chunk size this chain's blocks cannot hold, wait for the sender's pending
    transactions, then pin the block every read is made at. Returns the block gas limit."""
    block_limit = view.block_gas_limit()
    limit = max_chunk_size(block_limit)
    if chunk_size > limit:
        raise IssuanceError(
            f"--chunk-size {chunk_size} is too large: up to ~{estimated_gas(chunk_size):,} gas per transaction; "
            f"at most {limit} orders fit in {MAX_BLOCK_SHARE:.0%} of this chain's block gas limit"
        )
    settle(view, sender, pending_timeout, log)
    return block_limit
