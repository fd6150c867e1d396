"""A file issued without holding its rows: the static pass streams the file once into a compact spool, the chain
pass and the sends stream the spool; only distinct keys and per-row integers stay in memory.

1. ``scan`` reads the CSV one record at a time (``tonne.core.csvinput.iter_table``: the same checks and messages as
   ``read_rows``). Each good row goes to a spool file as one packed record (line, indexes of its project, batch and
   recipient, units, reference); in memory stay the distinct projects, batches and recipients, the references seen
   (to report duplicates) and the problems.
2. ``plan_file`` pins a block, reads the distinct keys (``read_keys``), then streams the spool in windows of one
   JSON-RPC batch: the order references' digests, done/todo/conflict, the per-row checks, the running sums per
   batch for the caps, and for each project the spool offsets of its rows to send. Nothing is sent unless every
   row passes, as before.
3. ``FilePlan.iter_chunks`` reads the orders back from the spool, project by project, chunk by chunk.
"""

from __future__ import annotations

import struct
import tempfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tonne.chain.checks import other_lines
from tonne.chain.view import ChainView
from tonne.core.csvinput import iter_table, read_text
from tonne.core.ids import describe, project_of
from tonne.core.units import format_tonnes
from tonne.issuance.checks import (
    ChainState,
    Contracts,
    check_row,
    find_contracts,
    read_keys,
    read_recorded,
    split_done,
    try_receivers,
)
from tonne.issuance.errors import IssuanceError, Problem, problem_summary
from tonne.issuance.plan import Order, auto_chunk_size, settle_and_pin
from tonne.issuance.rows import HEADER, BatchRef, ProjectRef, Row, _parse_row

# line, project index, batch index, recipient index, units, order reference (keccak256 of the reference, hashed once
# while scanning), reference length; the reference's UTF-8 bytes follow
_RECORD = struct.Struct("<IIIIQ32sH")


@dataclass
class Scan:
    """A file's rows after the static pass: in the spool, with the distinct keys they use."""

    path: str
    spool: IO[bytes]
    rows: int = 0
    projects: list[ProjectRef] = field(default_factory=list)
    batches: list[BatchRef] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    pairs: set[tuple[int, int]] = field(default_factory=set)  # (project index, batch index)

    def read(self, offset: int) -> tuple[Row, int]:
        """The row whose record starts at ``offset``, and the offset of the next record."""
        self.spool.seek(offset)
        return self._unpack(self.spool.read(_RECORD.size), offset)

    def _unpack(self, head: bytes, offset: int) -> tuple[Row, int]:
        line, p, b, r, units, ref, size = _RECORD.unpack(head)
        reference = self.spool.read(size).decode("utf-8")
        row = Row(
            line=line,
            project=self.projects[p],
            batch=self.batches[b],
            recipient=self.recipients[r],
            units=units,
            reference=reference,
            order_ref=ref,
        )
        return row, offset + _RECORD.size + size

    def iter_rows(self, window: int) -> Iterator[list[tuple[int, Row]]]:
        """Every row in file order with its record offset, ``window`` rows at a time."""
        self.spool.seek(0)
        offset, out = 0, []
        for _ in range(self.rows):
            head = self.spool.read(_RECORD.size)
            row, following = self._unpack(head, offset)
            out.append((offset, row))
            offset = following
            if len(out) == window:
                yield out
                out = []
        if out:
            yield out

    def close(self) -> None:
        self.spool.close()


def scan(path: Path | str) -> Scan:
    """The static pass, streamed: every row checked as in ``read_rows``, the good ones spooled; raises
    ``IssuanceError`` listing every problem found (nothing is read from the chain or sent)."""
    name = str(path)
    problems: list[Problem] = []
    result = Scan(name, tempfile.TemporaryFile())  # noqa: SIM115 - closed by Scan.close, the run outlives this call
    indexes: tuple[dict, dict, dict] = ({}, {}, {})
    lists = (result.projects, result.batches, result.recipients)

    def index(kind: int, key) -> int:
        found = indexes[kind].get(key)
        if found is None:
            found = indexes[kind][key] = len(lists[kind])
            lists[kind].append(key)
        return found

    write = result.spool.write
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in iter_table(fh, name, problems, required=HEADER, unique="reference", parse_row=_parse_row(name)):
                p, b, r = index(0, row.project), index(1, row.batch), index(2, row.recipient)
                result.pairs.add((p, b))
                reference = row.reference.encode("utf-8")
                write(_RECORD.pack(row.line, p, b, r, row.units, row.order_ref, len(reference)) + reference)
                result.rows += 1
    except (OSError, UnicodeDecodeError):
        result.close()
        read_text(path, IssuanceError)  # raises the one-line error naming the file or the line of the bad byte
        raise
    if problems:
        result.close()
        raise IssuanceError(problem_summary(name, problems), problems)
    result.spool.flush()
    return result


@dataclass
class FilePlan:
    """What a streamed run will send (the ``Plan`` surface that ``execute`` and ``format_plan`` use), reading its
    orders back from the scan's spool."""

    path: str
    scan: Scan
    state: ChainState
    done_count: int
    chunk_size: int
    block_gas_limit: int | None
    offsets: dict[int, array] = field(default_factory=dict)  # project id -> spool offsets of its rows to send
    totals: dict[int, dict[int, list]] = field(default_factory=dict)  # project -> token -> [batch, rows, units]

    @property
    def row_count(self) -> int:
        return self.scan.rows

    @property
    def orders(self) -> int:
        return sum(len(o) for o in self.offsets.values())

    @property
    def chunk_count(self) -> int:
        return -(-self.orders // self.chunk_size)

    def _sequence(self) -> Iterator[tuple[int, int]]:
        for project_id, offsets in self.offsets.items():  # projects in order of first appearance
            for offset in offsets:
                yield project_id, offset

    def iter_chunks(self) -> Iterator[list[Order]]:
        chunk: list[Order] = []
        for _, offset in self._sequence():
            row, _ = self.scan.read(offset)
            chunk.append(Order(row, self.state.token_id(row)))
            if len(chunk) == self.chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def batch_totals(self) -> list[tuple[int, BatchRef, int, int]]:
        return [(t, v[0], v[1], v[2]) for tokens in self.totals.values() for t, v in tokens.items()]

    def chunk_shapes(self) -> list[tuple[int, list[int]]]:
        shapes: list[tuple[int, list[int]]] = []
        size, projects = 0, set()
        for project_id, offsets in self.offsets.items():
            left = len(offsets)
            while left:
                take = min(left, self.chunk_size - size)
                size, left = size + take, left - take
                projects.add(project_id)
                if size == self.chunk_size:
                    shapes.append((size, sorted(projects)))
                    size, projects = 0, set()
        if size:
            shapes.append((size, sorted(projects)))
        return shapes

    def close(self) -> None:
        self.scan.close()


@dataclass
class _Cap:
    batch: BatchRef
    available: int
    total: int = 0
    crossing: int | None = None
    lines: array = field(default_factory=lambda: array("I"))


@dataclass
class RowChecks:
    """The chain checks of the rows still to issue, fed one row at a time in file order (``check``), so that a
    streamed file is checked without its rows in memory: each problem of a project, batch or recipient is reported
    once, on the first line it affects, with the other lines it affects; each batch's running sum is checked
    against its cap, on the line that passes it (``problems``). ``contracts_found``: the recipients that hold
    code (a rejection of the credits, ``state.rejections``, is reported on their rows)."""

    path: str
    state: ChainState
    sender: str
    contracts_found: set[str] = field(default_factory=set)
    grouped: dict[tuple[str, str], array] = field(default_factory=dict)
    caps: dict[int, _Cap] = field(default_factory=dict)
    to_contract: dict[str, array] = field(default_factory=dict)  # contract recipient -> lines of its rows
    candidates: dict[str, int] = field(default_factory=dict)  # recipient -> a token id it is to receive

    def add(self, row: Row, column: str, message: str) -> None:
        self.grouped.setdefault((column, message), array("I")).append(row.line)

    def check(self, row: Row) -> int:
        """Check one row still to issue; returns its token id (0: unknown project or batch)."""
        state = self.state
        check_row(row, state, self.sender, self.add)
        token_id = state.token_id(row)
        if token_id:
            self.candidates.setdefault(row.recipient, token_id)
        if row.recipient in self.contracts_found:
            self.to_contract.setdefault(row.recipient, array("I")).append(row.line)
        batch = state.batches.get(token_id)
        if batch is not None and batch.verified and batch.project_id == state.project_ids.get(row.project):
            cap = self.caps.get(token_id)
            if cap is None:
                cap = self.caps[token_id] = _Cap(row.batch, batch.available)
            cap.total += row.units
            cap.lines.append(row.line)
            if cap.crossing is None and cap.total > cap.available:
                cap.crossing = row.line
        return token_id

    def problems(self) -> list[Problem]:
        """Every problem of the rows checked, in line order (file-wide ones first)."""
        path, state = self.path, self.state
        for address, error in state.rejections.items():
            for line in self.to_contract.get(address, ()):
                key = ("recipient", f"contract {address} rejects the credits: {error}")
                self.grouped.setdefault(key, array("I")).append(line)
        problems: list[Problem] = []
        if state.paused:
            problems.append(
                Problem(path, None, "token", "the credit token is paused by the regulator: nothing can be issued")
            )
        for (column, message), lines in self.grouped.items():
            problems.append(Problem(path, lines[0], column, message + other_lines(lines)))
        for token_id, cap in self.caps.items():
            if cap.total <= cap.available:
                continue
            batch = state.batches[token_id]
            message = (
                f"batch {describe(token_id)} ({cap.batch}) has {format_tonnes(batch.available)} left to issue "
                f"(cap {format_tonnes(batch.cap)}, {format_tonnes(batch.issued)} issued), but its {len(cap.lines)} "
                f"row(s) still to issue need {format_tonnes(cap.total)}; the cap is passed on this line"
            )
            crossing = cap.crossing if cap.crossing is not None else cap.lines[-1]
            problems.append(Problem(path, crossing, "tonnes", message + other_lines(cap.lines)))
        problems.sort(key=lambda p: (p.line or 0, HEADER.index(p.field) if p.field in HEADER else -1))
        return problems


def plan_file(
    result: Scan,
    view: ChainView,
    contracts: Contracts,
    sender: str,
    *,
    chunk_size: int | None = None,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
) -> FilePlan:
    """``prepare`` for a scanned file, streaming its spool: the same checks at one pinned block and the same
    report (``IssuanceError``, nothing sent) when any row fails them. ``chunk_size`` None: sized from the block
    gas limit and the distinct token ids to send (``auto_chunk_size``)."""
    path = result.path
    block_limit = settle_and_pin(view, sender, chunk_size, pending_timeout, log)
    conflicts: list[Problem] = []
    plan = FilePlan(path, result, ChainState(), 0, chunk_size or 1, block_limit)
    try:
        pairs = {(result.projects[p], result.batches[b]) for p, b in result.pairs}
        state = read_keys(result.projects, pairs, result.recipients, view, contracts, sender)
        plan.state = state
        checks = RowChecks(path, state, sender, find_contracts(result.recipients, view))
        for window in result.iter_rows(view.batch_size):
            rows = [row for _, row in window]
            done, todo, clashes = split_done(rows, state, path, read_recorded(rows, state, view, contracts))
            plan.done_count += len(done)
            conflicts.extend(clashes)
            sending = {id(row) for row in todo}
            for offset, row in window:
                if id(row) in sending:
                    _place(plan, offset, row, checks.check(row))
        try_receivers(checks.candidates, state, view, contracts, sender, known_contracts=checks.contracts_found)
    finally:
        view.unpin()
    if chunk_size is None:
        plan.chunk_size = auto_chunk_size(block_limit, ids=sum(len(t) for t in plan.totals.values()) or 1)
    problems = conflicts + checks.problems()
    problems.sort(key=lambda p: p.line or 0)
    if problems:
        raise IssuanceError(problem_summary(path, problems), problems)
    return plan


def _place(plan: FilePlan, offset: int, row: Row, token_id: int) -> None:
    """A row still to issue: its place in the sending order (its project's spool offsets) and its batch's totals."""
    project_id = project_of(token_id)
    plan.offsets.setdefault(project_id, array("Q")).append(offset)
    totals = plan.totals.setdefault(project_id, {}).setdefault(token_id, [row.batch, 0, 0])
    totals[1] += 1
    totals[2] += row.units
