"""The compliance report of a period: per entity, the obligation, what it surrendered, and its status, built from
chain data alone (the period's ``PeriodOpened``, ``ObligationSet`` and ``Surrendered`` events, and the ``status``
view, all read at one block), as a table and as CSV.

Statuses: ``compliant`` (surrendered covers the obligation), ``open`` (it does not, but the deadline has not
passed), ``shortfall`` (the deadline passed and it does not: final), ``no obligation`` (set to 0 since).
Each entity's surrendered total is also summed from its ``Surrendered`` events; the report says so if the two
ever differ (they cannot, by the contract's invariant: a mismatch means the node served incomplete logs).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tonne.chain.view import Call, ChainView, Reverted
from tonne.compliance.obligations import PERIOD_VIEW, STATUS_VIEW
from tonne.compliance.terms import Terms, describe_vintages, iso
from tonne.core.report import table
from tonne.core.units import UNITS_PER_TONNE, format_tonnes

CSV_COLUMNS = (
    "period_id",
    "period_name",
    "entity",
    "name",
    "obligation_tonnes",
    "surrendered_tonnes",
    "shortfall_tonnes",
    "status",
    "deadline_passed",
    "surrenders",
    "certificates",
)


class ReportError(RuntimeError):
    """The report cannot be built (unknown period, unreadable chain data)."""


PeriodTerms = Terms  # a period's terms read back from the chain, with its id


@dataclass
class EntityLine:
    entity: str
    name: str
    obligation: int
    surrendered: int
    deadline_passed: bool
    certificates: list[int] = field(default_factory=list)
    logged: int = 0  # the sum of the entity's Surrendered amounts

    @property
    def shortfall(self) -> int:
        return self.obligation - self.surrendered

    @property
    def status(self) -> str:
        if self.obligation == 0:
            return "no obligation"
        if self.surrendered >= self.obligation:
            return "compliant"
        return "shortfall" if self.deadline_passed else "open"

    @property
    def consistent(self) -> bool:
        return self.logged == self.surrendered


@dataclass
class PeriodReport:
    terms: PeriodTerms
    block: int
    timestamp: int
    deadline_passed: bool
    lines: list[EntityLine]

    @property
    def totals(self) -> tuple[int, int, int]:
        return (
            sum(x.obligation for x in self.lines),
            sum(x.surrendered for x in self.lines),
            sum(x.shortfall for x in self.lines),
        )

    @property
    def inconsistent(self) -> list[EntityLine]:
        return [x for x in self.lines if not x.consistent]


def build_report(
    terms: PeriodTerms,
    *,
    block: int,
    timestamp: int,
    obligation_events: Iterable[dict[str, Any]],
    surrender_events: Iterable[dict[str, Any]],
    statuses: dict[str, tuple[int, int, bool]],
    names: dict[str, str],
) -> PeriodReport:
    """Assemble a report. Entities come in the order of their first ``ObligationSet``; ``statuses`` maps each to
    (obligation, surrendered, deadline passed) from the ``status`` view, ``names`` to its on-chain name."""
    lines: dict[str, EntityLine] = {}
    for event in obligation_events:
        entity = _key(event["entity"])
        if entity not in lines:
            obligation, surrendered, passed = statuses[entity]
            lines[entity] = EntityLine(entity, names[entity], obligation, surrendered, passed)
    for event in surrender_events:
        entity = _key(event["entity"])
        line = lines.get(entity)
        if line is None:  # a surrender needs an obligation, so its ObligationSet came first
            raise ReportError(f"a surrender by {entity} in period {terms.period_id} has no ObligationSet before it")
        line.certificates.append(int(event["certificateId"]))
        line.logged += int(event["amount"])
    passed = any(line.deadline_passed for line in lines.values()) or timestamp > terms.deadline
    return PeriodReport(terms, block, timestamp, passed, list(lines.values()))


def _key(address: Any) -> str:
    return str(address).lower()


def tonnes_text(units: int) -> str:
    """Exact tonnes for CSV: ``12500`` -> ``"12.5"``, ``7000`` -> ``"7"``."""
    whole, frac = divmod(units, UNITS_PER_TONNE)
    return f"{whole}.{frac:03d}".rstrip("0").rstrip(".") if frac else str(whole)


def to_csv(report: PeriodReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        writer.writerow(
            [
                report.terms.period_id,
                report.terms.name,
                _checksum(line.entity),
                line.name,
                tonnes_text(line.obligation),
                tonnes_text(line.surrendered),
                tonnes_text(line.shortfall),
                line.status,
                str(line.deadline_passed).lower(),
                len(line.certificates),
                " ".join(str(c) for c in line.certificates),
            ]
        )
    return out.getvalue()


def write_csv(report: PeriodReport, path: Path | str) -> Path:
    path = Path(path)
    path.write_text(to_csv(report))
    return path


def format_report(report: PeriodReport) -> str:
    t = report.terms
    standards = ", ".join(t.standards) if t.standards else "any"
    when = "passed: statuses are final" if report.deadline_passed else "not passed: statuses can still change"
    head = [
        f"Compliance period {t.period_id}: {t.name} ({t.jurisdiction})",
        f"  emissions period {iso(t.period_start)} to {iso(t.period_end)}",
        f"  deadline {iso(t.deadline)} ({when})",
        f"  eligible vintages {describe_vintages(t.vintage_from, t.vintage_to)}; standards {standards}",
        f"  read at block {report.block} ({iso(report.timestamp)})",
        "",
    ]
    rows = [
        [
            _checksum(x.entity),
            x.name,
            format_tonnes(x.obligation),
            format_tonnes(x.surrendered),
            format_tonnes(x.shortfall),
            x.status,
            str(len(x.certificates)),
        ]
        for x in report.lines
    ]
    obligation, surrendered, shortfall = report.totals
    certificates = sum(len(x.certificates) for x in report.lines)
    amounts = [format_tonnes(units) for units in (obligation, surrendered, shortfall)]
    rows.append(["total", f"{len(report.lines)} entities", *amounts, _count(report), str(certificates)])
    body = table(["entity", "name", "obligation", "surrendered", "shortfall", "status", "surrenders"], rows)
    tail = []
    for line in report.inconsistent:
        tail.append(
            f"WARNING: {line.entity}: status says {format_tonnes(line.surrendered)} surrendered, its Surrendered "
            f"events sum to {format_tonnes(line.logged)}"
        )
    return "\n".join([*head, body, *tail])


def _count(report: PeriodReport) -> str:
    counts: dict[str, int] = {}
    for line in report.lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items()) or "-"


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


# ---------------------------------------------------------------------------------------------- from the chain


def read_report(periods: Any, view: ChainView, period_id: int, start_block: int = 0) -> PeriodReport:
    """Read period ``period_id`` of the ape contract ``periods`` at one block, and build its report."""
    address = str(periods.address)
    block = view.pin()
    try:
        timestamp = int(view.w3.eth.get_block(block)["timestamp"])
        raw = view.call(Call(address, "period(uint64)", (period_id,), (PERIOD_VIEW,)))
        if isinstance(raw, Reverted):
            raise ReportError(f"period {period_id}: {raw.error}")
        stop = block + 1
        topics = {"periodId": period_id}
        opened, obligations, surrenders = (
            [dict(log.event_arguments) for log in event.range(start_block, stop, search_topics=topics)]
            for event in (periods.PeriodOpened, periods.ObligationSet, periods.Surrendered)
        )
        entities = list(dict.fromkeys(_key(e["entity"]) for e in obligations))
        calls = []
        for entity in entities:
            calls.append(Call(address, "status(uint64,address)", (period_id, entity), (STATUS_VIEW,)))
            calls.append(Call(address, "entityName(uint64,address)", (period_id, entity), ("string",)))
        results = view.call_many(calls)
    finally:
        view.unpin()
    if len(opened) != 1:
        raise ReportError(
            f"period {period_id}: expected one PeriodOpened event since block {start_block}, found {len(opened)}; "
            "is the deployment record's start block right?"
        )
    standards = tuple(opened[0]["eligibleStandards"])
    name, jurisdiction, start, end, deadline, vintage_from, vintage_to, _ = raw
    terms = PeriodTerms(
        period_id,
        name,
        jurisdiction,
        int(start),
        int(end),
        int(deadline),
        int(vintage_from),
        int(vintage_to),
        standards,
    )
    statuses, names = {}, {}
    for index, entity in enumerate(entities):
        status, name = results[2 * index], results[2 * index + 1]
        if isinstance(status, Reverted) or isinstance(name, Reverted):
            raise ReportError(f"reading {entity} in period {period_id} failed")
        statuses[entity] = (int(status[0]), int(status[1]), bool(status[2]))
        names[entity] = str(name)
    return build_report(
        terms,
        block=block,
        timestamp=timestamp,
        obligation_events=obligations,
        surrender_events=surrenders,
        statuses=statuses,
        names=names,
    )
