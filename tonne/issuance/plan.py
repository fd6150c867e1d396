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

DEFAULT_CHUNK_SIZE = 200  # the fixed size used before chunks were sized from the block (``auto_chunk_size``)
# Measured on CarbonCredit.issueMany (anvil, cancun): 56.4k gas per order to a fresh recipient (new balance slot,
# new orderRef slot, two events), ~37k per transaction. The constants round up so estimates stay on the safe side.
GAS_PER_ORDER = 60_000
GAS_PER_TX = 40_000
# A chunk may use at most this share of the block gas limit, so it still fits when blocks are busy.
MAX_BLOCK_SHARE = 0.5
# EIP-7825 (Osaka: Ethereum mainnet and Sepolia since Fusaka) refuses any transaction whose gas limit passes 2^24,
# whatever the block gas limit; a chain that does not enforce it loses little by the cap.
TX_GAS_CAP = 2**24
NEW_ID_GAS = 50_000  # bound on the extra gas of an id's first issuance in a chunk (new supply slots)

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


def chunk_budget(block_gas_limit: int, share: float = MAX_BLOCK_SHARE) -> int:
    """The gas one ``issueMany`` may use: ``share`` of the block gas limit, and never above ``TX_GAS_CAP``."""
    return min(int(block_gas_limit * share), TX_GAS_CAP)


def auto_chunk_size(block_gas_limit: int, ids: int = 1, share: float = MAX_BLOCK_SHARE) -> int:
    """The chunk size when ``--chunk-size`` is not given: the most orders whose worst-case gas (``GAS_PER_ORDER``
    each, ``GAS_PER_TX``, ``NEW_ID_GAS`` for each of up to ``ids`` distinct token ids in a chunk) stays within
    ``chunk_budget``, so a chunk's computed gas limit (``tonne.issuance.send.chunk_gas_limit``) never passes it.
    At a 30M block gas limit and five ids: 245 orders; at 60M (mainnet, Sepolia) the 2^24 cap binds: 274."""
    budget = chunk_budget(block_gas_limit, share) - GAS_PER_TX
    n = budget // GAS_PER_ORDER
    while n > 1 and GAS_PER_ORDER * n + NEW_ID_GAS * min(ids, n) > budget:
        n -= 1
    return max(1, n)


def estimated_gas(orders: int) -> int:
    """Worst-case gas of one ``issueMany`` of ``orders`` orders (every recipient new to the id)."""
    return GAS_PER_TX + GAS_PER_ORDER * orders


_ISSUE_MANY_SELECTOR = selector(ISSUE_MANY)
_WORD = 1 << 256
_ADDRESS = 1 << 160


def encode_issue_many(orders: Sequence[Order]) -> bytes:
    """Calldata of ``issueMany(orders)``: the ABI encoding of a dynamic array of static 4-word tuples (offset,
    length, then each order's id, recipient, amount and reference), written directly: ``eth_abi`` took ~60 ms
    per 200-order chunk. ``encode_issue_many_abi`` is the reference it is tested against."""
    parts = [_ISSUE_MANY_SELECTOR, (32).to_bytes(32, "big"), len(orders).to_bytes(32, "big")]
    for o in orders:
        token_id, recipient, units, ref = o.token_id, int(o.row.recipient, 16), o.row.units, o.row.order_ref
        if not (0 <= token_id < _WORD and 0 <= recipient < _ADDRESS and 0 <= units < _WORD and len(ref) == 32):
            raise ValueError(f"order of line {o.row.line} cannot be encoded")
        parts += (token_id.to_bytes(32, "big"), recipient.to_bytes(32, "big"), units.to_bytes(32, "big"), ref)
    return b"".join(parts)


def encode_issue_many_abi(orders: Sequence[Order]) -> bytes:
    """Calldata of ``issueMany(orders)`` through ``eth_abi``."""
    return _ISSUE_MANY_SELECTOR + abi_encode([_ORDER_TUPLE], [[o.as_tuple() for o in orders]])


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
    view: ChainView, sender: str, chunk_size: int | None, pending_timeout: float, log: Callable[[str], None]
) -> int:
    """The start of every plan: refuse a chunk size this chain's blocks cannot hold (``None``: sized from the
    block later, ``auto_chunk_size``), wait for the sender's pending transactions, then pin the block every read
    is made at. Returns the block gas limit."""
    block_limit = view.block_gas_limit()
    limit = max_chunk_size(block_limit)
    if chunk_size is not None and chunk_size > limit:
        raise IssuanceError(
            f"--chunk-size {chunk_size} is too large: up to ~{estimated_gas(chunk_size):,} gas per transaction; "
            f"at most {limit} orders fit in {MAX_BLOCK_SHARE:.0%} of this chain's block gas limit"
        )
    settle(view, sender, pending_timeout, log)
    return block_limit
