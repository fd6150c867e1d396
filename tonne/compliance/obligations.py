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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tonne.chain.errors import problem_summary
from tonne.chain.view import Call, ChainView, Reverted
from tonne.compliance.errors import FileError, Problem
from tonne.compliance.terms import iso
from tonne.core.csvinput import FieldError, is_zero_address, parse_address, parse_fields, read_table, read_text
from tonne.core.units import TooManyDecimalsError, UnitError, format_tonnes, parse_amount
from tonne.retirement.rows import parse_name as parse_certificate_name

HEADER = ("entity", "name", "tonnes")
MAX_OBLIGATIONS_PER_CALL = 200  # CompliancePeriods.MAX_OBLIGATIONS_PER_CALL
MAX_UNITS = (1 << 128) - 1
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")

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
    address = parse_address(text)
    if is_zero_address(address):
        raise FieldError("the zero address cannot have an obligation")
    return address


def parse_name(text: str) -> str:
    """The entity's name: the beneficiary name on its certificates, so the certificate's text rules apply."""
    return parse_certificate_name(text)


def parse_obligation(text: str) -> int:
    """A plain decimal >= 0 with at most 3 decimals; returns units."""
    if not _DECIMAL.fullmatch(text):
        raise FieldError(f"{text!r} is not a decimal number of tonnes (e.g. 120000.5)" if text else "empty")
    try:
        units = parse_amount(text, 3, "t", allow_zero=True)  # exact: never rounded at Decimal's 28 digits
    except TooManyDecimalsError as exc:
        raise FieldError(f"{text} has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)") from exc
    except UnitError as exc:
        raise FieldError(str(exc)) from exc
    if units > MAX_UNITS:
        raise FieldError(f"{text} t is more than an obligation can hold")
    return units


_PARSERS: dict[str, Callable[[str], Any]] = {"entity": parse_entity, "name": parse_name, "tonnes": parse_obligation}


def parse_text(text: str, name: str = "<csv>") -> tuple[list[ObligationRow], list[Problem]]:
    """Parse CSV text: the good rows, and every problem (bad fields, repeated entities, header, empty file)."""

    def parse_row(values: dict[str, str], line: int, problems: list[Problem]) -> ObligationRow | None:
        parsed = parse_fields(values, _PARSERS, name, line, problems)
        if parsed is None:
            return None
        return ObligationRow(line=line, entity=parsed["entity"], name=parsed["name"], units=parsed["tonnes"])

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
    name = str(path)
    rows, problems = parse_text(read_text(path, FileError), name)
    if problems:
        raise FileError(problem_summary(name, problems), problems)
    return rows


# ---------------------------------------------------------------------------------------------- against the chain


@dataclass(frozen=True)
class OnChain:
    obligation: int
    surrendered: int
    name: str


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
    path: str, rows: list[ObligationRow], view: ChainView, periods: str, period_id: int
) -> ObligationPlan:
    """Check ``rows`` against the chain (one pinned block) and sort them into changes and unchanged rows.

    Raises ``FileError`` naming every problem: an unknown or closed period (file-wide), and rows that would lower
    an obligation below what the entity already surrendered (``file:line: tonnes: ...``).
    """
    block = view.pin()
    try:
        now = int(view.w3.eth.get_block(block)["timestamp"])
        terms = view.call(Call(periods, "period(uint64)", (period_id,), (PERIOD_VIEW,)))
        if isinstance(terms, Reverted):
            problem = Problem(path, None, "period", f"period {period_id}: {terms.error}")
            raise FileError(problem_summary(path, [problem]), [problem])
        period_name, deadline = terms[0], int(terms[4])
        if now > deadline:
            problem = Problem(
                path,
                None,
                "period",
                f"period {period_id} ({period_name!r}) closed at its deadline {iso(deadline)}; obligations are final",
            )
            raise FileError(problem_summary(path, [problem]), [problem])
        calls = []
        for row in rows:
            calls.append(Call(periods, "status(uint64,address)", (period_id, row.entity), (STATUS_VIEW,)))
            calls.append(Call(periods, "entityName(uint64,address)", (period_id, row.entity), ("string",)))
        results = view.call_many(calls)
    finally:
        view.unpin()
    plan = ObligationPlan(path=path, period_id=period_id, period_name=period_name, deadline=deadline)
    problems = []
    for index, row in enumerate(rows):
        status, name = results[2 * index], results[2 * index + 1]
        for result in (status, name):
            if isinstance(result, Reverted):
                raise FileError(f"{path}: reading entity {row.entity} failed: {result.error}")
        current = OnChain(obligation=int(status[0]), surrendered=int(status[1]), name=str(name))
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
        elif row.units == current.obligation and row.name == current.name:
            plan.unchanged.append(row)
        else:
            plan.changes.append(row)
    if problems:
        raise FileError(problem_summary(path, problems), problems)
    return plan


@dataclass
class ObligationSummary:
    rows: int
    set_now: int = 0
    unchanged: int = 0
    txs: int = 0
    gas_used: int = 0
    dry_run: bool = False

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
) -> ObligationSummary:
    """Send ``plan.changes`` with ape (``periods`` an ape contract, ``sender`` an ape account), chunk by chunk."""
    summary = ObligationSummary(rows=len(plan.changes) + len(plan.unchanged), unchanged=len(plan.unchanged))
    for number, part in enumerate(plan.chunks(chunk_size), start=1):
        receipt = periods.setObligations(
            plan.period_id,
            [row.entity for row in part],
            [row.name for row in part],
            [row.units for row in part],
            sender=sender,
        )
        summary.set_now += len(part)
        summary.txs += 1
        summary.gas_used += int(receipt.gas_used)
        log(f"chunk {number}: {len(part)} obligation(s), lines {part[0].line}-{part[-1].line}, tx {receipt.txn_hash}")
    return summary
