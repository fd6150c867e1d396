"""Obligations from a CSV file: parse and check every row, check them against the chain, then send only what
changes, in ``setObligations`` calls of at most ``MAX_OBLIGATIONS_PER_CALL`` entries.

CSV format (UTF-8, an optional BOM, one header line, columns in any order; see docs/compliance.md)::

    entity,name,tonnes
    0x70997970C51812dc3A010C7d01b50e0d17dc79C8,Acme Steel AG,120000
    0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc,"Borealis Cement, SA",7500.25

- ``entity``: the regulated entity's account (EIP-55 checksum if mixed case); once per file.
- ``name``: the entity's name, printed as the beneficiary on its certificates (required).
- ``tonnes``: the obligation, a decimal >= 0 with at most 3 decimals (1 unit = 1 kg); 0 removes an obligation
  nothing was surrendered against.

A run is idempotent and resumable with the chain as the source of truth: rows whose obligation and name are
already on-chain are skipped, so a re-run after a crash sends only what is still missing, and a re-run of a
finished file sends nothing.

It runs on the bulk pipeline (``tonne.bulk``, docs/bulk.md); this module supplies only what is the tool's own: the
row schema and static checks (``parse_text``), the chain state read at one pinned block (``plan_obligations``), the
plan (``ObligationPlan``), the transaction (``setObligations`` of a chunk, ``send_obligations``) and how a row is
recognised as done on-chain (``is_done``: its obligation and name are there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tonne import bulk
from tonne.bulk.chain import pinned
from tonne.bulk.report import raise_problems
from tonne.bulk.rows import fields_to, parse_account, read_file, row_parser
from tonne.bulk.send import ape_send, send_windowed, waited
from tonne.chain.errors import SendFailed
from tonne.chain.send import Sent
from tonne.chain.view import Call, ChainView, Reverted
from tonne.compliance.errors import FileError, Problem, SendError
from tonne.compliance.terms import iso
from tonne.core.csvinput import FieldError, decimal_tonnes, read_table
from tonne.core.units import format_tonnes
from tonne.retirement.rows import parse_name as parse_certificate_name

HEADER = ("entity", "name", "tonnes")
MAX_OBLIGATIONS_PER_CALL = 200  # CompliancePeriods.MAX_OBLIGATIONS_PER_CALL
MAX_UNITS = (1 << 128) - 1

PERIOD_VIEW = "(string,string,uint40,uint40,uint40,uint16,uint16,uint16)"
STATUS_VIEW = "(uint256,uint256,bool,bool,uint256)"


@dataclass(frozen=True)
class ObligationRow:
    """One checked row: ``units`` is the obligation in token units."""

    line: int
    entity: str  # EIP-55
    name: str
    units: int


def parse_entity(text: str) -> str:
    """A 0x address (EIP-55 checksum when mixed case), not zero; returns the checksummed form."""
    return parse_account(text, "the zero address cannot have an obligation")


def parse_name(text: str) -> str:
    """The entity's name: the beneficiary name on its certificates, so the certificate's text rules apply."""
    return parse_certificate_name(text)


def parse_obligation(text: str) -> int:
    """A plain decimal >= 0 with at most 3 decimals; returns units."""
    units = decimal_tonnes(text)
    if units is None:
        raise FieldError(f"{text!r} is not a decimal number of tonnes (e.g. 120000.5)" if text else "empty")
    if units > MAX_UNITS:
        raise FieldError(f"{text} t is more than an obligation can hold")
    return units


_PARSERS: dict[str, Callable[[str], Any]] = {"entity": parse_entity, "name": parse_name, "tonnes": parse_obligation}


def parse_text(text: str, name: str = "<csv>") -> tuple[list[ObligationRow], list[Problem]]:
    """Parse CSV text: the good rows, and every problem (bad fields, repeated entities, header, empty file)."""

    parse_row = row_parser(name, _PARSERS, fields_to(ObligationRow, {"tonnes": "units"}))
    rows, problems = read_table(text, name, required=HEADER, unique="entity", parse_row=parse_row)
    # read_table compares the text as written; an address is the same entity in any letter case.
    first_line_of: dict[str, int] = {}
    kept = []
    for row in rows:
        first = first_line_of.setdefault(row.entity, row.line)
        if first != row.line:
            problems.append(Problem(name, row.line, "entity", f"{row.entity} is already on line {first}"))
        else:
            kept.append(row)
    problems.sort(key=lambda p: p.line or 0)
    return kept, problems


def read_obligations(path: Path | str) -> list[ObligationRow]:
    """Read and check a CSV file; raise ``FileError`` listing every problem found."""
    return read_file(path, parse_text, FileError)


# ---------------------------------------------------------------------------------------------- against the chain


@dataclass(frozen=True)
class OnChain:
    obligation: int
    surrendered: int
    name: str


def is_done(row: ObligationRow, current: OnChain) -> bool:
    """The row is done on-chain: the entity's obligation and name are the file's."""
    return row.units == current.obligation and row.name == current.name


def _entity_calls(periods: str, period_id: int, rows: list[ObligationRow]) -> list[Call]:
    calls = []
    for row in rows:
        calls.append(Call(periods, "status(uint64,address)", (period_id, row.entity), (STATUS_VIEW,)))
        calls.append(Call(periods, "entityName(uint64,address)", (period_id, row.entity), ("string",)))
    return calls


def _read_entities(path: str, rows: list[ObligationRow], results: list[Any]) -> list[OnChain]:
    """What the chain holds for each row's entity, from the results of ``_entity_calls``."""
    found = []
    for index, row in enumerate(rows):
        status, name = results[2 * index], results[2 * index + 1]
        for result in (status, name):
            if isinstance(result, Reverted):
                raise FileError(f"{path}: reading entity {row.entity} failed: {result.error}")
        found.append(OnChain(obligation=int(status[0]), surrendered=int(status[1]), name=str(name)))
    return found


@dataclass
class ObligationPlan:
    """What a file changes on-chain in period ``period_id``: ``changes`` to send, ``unchanged`` already there."""

    path: str
    period_id: int
    period_name: str
    deadline: int
    changes: list[ObligationRow] = field(default_factory=list)
    unchanged: list[ObligationRow] = field(default_factory=list)
    current: dict[str, OnChain] = field(default_factory=dict)

    def chunks(self, size: int = MAX_OBLIGATIONS_PER_CALL) -> list[list[ObligationRow]]:
        return [self.changes[i : i + size] for i in range(0, len(self.changes), size)]

    def describe(self) -> str:
        lines = [
            f"{self.path}: period {self.period_id} ({self.period_name!r}, deadline {iso(self.deadline)}): "
            f"{len(self.changes)} to set, {len(self.unchanged)} already on-chain"
        ]
        for row in self.changes:
            before = self.current[row.entity]
            was = f"was {format_tonnes(before.obligation)}" if before.obligation or before.name else "new"
            lines.append(f"  line {row.line}: {row.entity} {row.name!r}: {format_tonnes(row.units)} ({was})")
        return "\n".join(lines)


def plan_obligations(
    path: str,
    rows: list[ObligationRow],
    view: ChainView,
    periods: str,
    period_id: int,
    *,
    sender: str | None = None,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
) -> ObligationPlan:
    """Check ``rows`` against the chain and sort them into changes and unchanged rows: after ``sender``'s pending
    transactions settle (when given), every read at one pinned block (``tonne.bulk.pinned``).

    Raises ``FileError`` naming every problem: an unknown or closed period (file-wide), and rows that would lower
    an obligation below what the entity already surrendered (``file:line: tonnes: ...``).
    """
    with pinned(view, sender, pending_timeout, log) as block:
        now = int(view.w3.eth.get_block(block)["timestamp"])
        terms = view.call(Call(periods, "period(uint64)", (period_id,), (PERIOD_VIEW,)))
        if isinstance(terms, Reverted):
            raise_problems(path, [Problem(path, None, "period", f"period {period_id}: {terms.error}")], FileError)
        period_name, deadline = terms[0], int(terms[4])
        if now > deadline:
            closed = (
                f"period {period_id} ({period_name!r}) closed at its deadline {iso(deadline)}; obligations are final"
            )
            raise_problems(path, [Problem(path, None, "period", closed)], FileError)
        results = view.call_many(_entity_calls(periods, period_id, rows))
    plan = ObligationPlan(path=path, period_id=period_id, period_name=period_name, deadline=deadline)
    problems = []
    for row, current in zip(rows, _read_entities(path, rows, results), strict=True):
        plan.current[row.entity] = current
        if row.units < current.surrendered:
            problems.append(
                Problem(
                    path,
                    row.line,
                    "tonnes",
                    f"{format_tonnes(row.units)} is below the {format_tonnes(current.surrendered)} {row.entity} "
                    "already surrendered in this period",
                )
            )
        elif is_done(row, current):
            plan.unchanged.append(row)
        else:
            plan.changes.append(row)
    raise_problems(path, problems, FileError)
    return plan


@dataclass
class ObligationSummary:
    rows: int
    set_now: int = 0
    unchanged: int = 0
    txs: int = 0
    gas_used: int = 0
    dry_run: bool = False
    elapsed: float = 0.0

    def describe(self) -> str:
        if self.dry_run:
            return f"dry run: {self.rows - self.unchanged} obligation(s) would be set; nothing was sent"
        if self.set_now == 0:
            return f"nothing to change: all {self.rows} obligation(s) are already on-chain"
        return (
            f"set {self.set_now} obligation(s) in {self.txs} transaction(s), {self.gas_used:,} gas; "
            f"{self.unchanged} were already on-chain"
        )


def send_obligations(
    plan: ObligationPlan,
    periods: Any,
    sender: Any,
    *,
    chunk_size: int = MAX_OBLIGATIONS_PER_CALL,
    log: Callable[[str], None] = lambda _: None,
    view: ChainView | None = None,
    pending_timeout: float = 180.0,
    progress: bulk.Progress | None = None,
) -> ObligationSummary:
    """Send ``plan.changes`` with ape (``periods`` an ape contract, ``sender`` an ape account), chunk by chunk
    (``tonne.bulk.send_windowed``, one in flight).

    A chunk that fails is re-checked against the chain (with ``view``, at one pinned block): rows whose obligation
    and name are on-chain meanwhile are counted as already there and the rest is sent again; when none are, the run
    stops with ``SendError`` (the contract's refusal, decoded), the chunks before it standing."""
    summary = ObligationSummary(rows=len(plan.changes) + len(plan.unchanged), unchanged=len(plan.unchanged))
    numbers = iter(range(1, 1 << 62))
    address = str(getattr(sender, "address", "")) or None
    view_periods = str(getattr(periods, "address", ""))

    def submit(part: list[ObligationRow]) -> Sent:
        entities, names, units = [row.entity for row in part], [row.name for row in part], [row.units for row in part]
        return ape_send(periods.setObligations, plan.period_id, entities, names, units, sender=sender)

    def record(part: list[ObligationRow], sent: Sent) -> None:
        summary.set_now += len(part)
        summary.txs += 1
        summary.gas_used += sent.gas_used
        log(
            f"chunk {next(numbers)}: {len(part)} obligation(s), lines {part[0].line}-{part[-1].line}, tx {sent.tx_hash}"
        )
        if progress is not None:
            progress.update(len(part))

    def settle(failures: list[tuple[list[ObligationRow], SendFailed]]) -> list[list[ObligationRow]]:
        ((part, exc),) = failures  # one chunk in flight at a time
        if view is None:
            raise SendError(str(exc)) from exc
        with pinned(view, address, pending_timeout, log):
            current = _read_entities(plan.path, part, view.call_many(_entity_calls(view_periods, plan.period_id, part)))
        still = [row for row, now in zip(part, current, strict=True) if not is_done(row, now)]
        if len(still) == len(part) and not exc.retry:  # nothing done meanwhile, and not a nonce clash
            raise SendError(str(exc)) from exc
        done = [row.line for row in part if row not in still]
        if done:
            lines = bulk.line_ranges(done, 4)
            log(f"{len(done)} obligation(s) were set meanwhile by another transaction (lines {lines})")
        summary.unchanged += len(done)
        if progress is not None:
            progress.update(len(done))
        return [still] if still else []

    send_windowed(plan.chunks(chunk_size), submit, waited(sender), record, settle)
    return summary


def set_obligations(
    path: str,
    view: ChainView,
    periods: Any,
    period_id: int,
    sender: Any,
    *,
    dry_run: bool = False,
    progress: bool = False,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    on_plan: Callable[[ObligationPlan], None] | None = None,
) -> ObligationSummary:
    """A file end to end on the bulk pipeline: read and check it, plan it against the chain (after ``sender``'s
    pending transactions), then, unless ``dry_run`` or nothing changes, send. ``periods`` is the ape contract."""
    rows = read_obligations(path)
    address = str(sender.address)
    plan = plan_obligations(
        path, rows, view, str(periods.address), period_id, sender=address, pending_timeout=pending_timeout, log=log
    )
    return bulk.run(
        plan,
        lambda p, bar: send_obligations(
            p, periods, sender, log=log, view=view, pending_timeout=pending_timeout, progress=bar
        ),
        lambda p, _: ObligationSummary(rows=len(p.changes) + len(p.unchanged), unchanged=len(p.unchanged)),
        rows=len(rows),
        done=len(plan.unchanged),
        pending=len(plan.changes),
        unit="obligation",
        desc="setting",
        dry_run=dry_run,
        progress=progress,
        on_plan=on_plan,
        rpc=bulk.rpc_of(view),
    )
