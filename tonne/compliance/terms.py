"""The terms of a compliance period as a regulator types them, checked the way the contract checks them.

``period_input`` builds the ``PeriodInput`` of ``CompliancePeriods.openPeriod`` from command-line text:

- ``--period 2025-01-01:2025-12-31``: the emissions period, from the first second of the first day to the last
  second of the last day, UTC;
- ``--deadline 2026-09-30`` (the last second of that day, UTC), ``2026-09-30T12:00:00Z``, or unix seconds: the
  last second at which surrenders and obligation changes are accepted;
- ``--vintages 2016:2025``, ``2021:`` or ``:2025``: eligible vintage years (a batch's monitoring period must lie
  wholly within them); none: any vintage;
- ``--standard VCS`` (repeatable): eligible standards; none: any standard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from tonne.compliance.errors import InputError
from tonne.core.csvinput import FieldError
from tonne.registry.ops import parse_period
from tonne.retirement.rows import parse_reason

MAX_STANDARDS = 32  # CompliancePeriods.MAX_STANDARDS
UINT40_MAX = (1 << 40) - 1
_JURISDICTION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")
_VINTAGES = re.compile(r"\s*(\d{4})?\s*:\s*(\d{4})?\s*")


def parse_deadline(text: str) -> int:
    """``YYYY-MM-DD`` (that day's last second, UTC), an ISO date-time with a zone, or unix seconds."""
    text = text.strip()
    if text.isdigit():
        value = int(text)
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise InputError(f"deadline {text!r}: {exc}") from exc
        value = int(datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(
                f"deadline {text!r}: expected YYYY-MM-DD, an ISO date-time such as 2026-09-30T12:00:00Z, "
                "or unix seconds"
            ) from exc
        if moment.tzinfo is None:
            raise InputError(f"deadline {text!r}: give a time zone (e.g. Z for UTC), or a plain date")
        value = int(moment.timestamp())
    if not 0 < value <= UINT40_MAX:
        raise InputError(f"deadline {text!r} is out of range")
    return value


def parse_vintages(text: str | None) -> tuple[int, int]:
    """``"2016:2025"`` -> ``(2016, 2025)``; an open side is 0 (``"2021:"`` -> ``(2021, 0)``); ``None`` -> ``(0, 0)``."""
    if text is None or not text.strip():
        return 0, 0
    match = _VINTAGES.fullmatch(text)
    if not match or not (match[1] or match[2]):
        raise InputError(f"vintages {text!r}: expected FROM:TO years, e.g. 2016:2025, 2021: or :2025")
    first, last = int(match[1] or 0), int(match[2] or 0)
    if first and last and last < first:
        raise InputError(f"vintages {text!r}: the last year is before the first")
    return first, last


@dataclass(frozen=True)
class Terms:
    """A period's terms: as checked before it is opened (``period_id`` None; ``as_input()`` is the contract's
    ``PeriodInput``), or as read back from the chain with its id (the report's ``PeriodTerms``)."""

    period_id: int | None
    name: str
    jurisdiction: str
    period_start: int
    period_end: int
    deadline: int
    vintage_from: int
    vintage_to: int
    standards: tuple[str, ...]

    def as_input(self) -> dict[str, Any]:
        return dict(
            name=self.name,
            jurisdiction=self.jurisdiction,
            periodStart=self.period_start,
            periodEnd=self.period_end,
            deadline=self.deadline,
            vintageFrom=self.vintage_from,
            vintageTo=self.vintage_to,
            eligibleStandards=list(self.standards),
        )


def period_input(
    *,
    name: str,
    jurisdiction: str,
    period: str,
    deadline: str,
    vintages: str | None = None,
    standards: Sequence[str] = (),
    now: int | None = None,
) -> Terms:
    """Check the terms as ``openPeriod`` will, and name the option at fault; ``now`` is the chain's time."""
    try:
        name = parse_reason(name.strip())  # every certificate of the period gives it as the reason
    except FieldError as exc:
        raise InputError(f"--name: {exc}") from exc
    if not _JURISDICTION.fullmatch(jurisdiction):
        raise InputError(
            f"--jurisdiction {jurisdiction!r}: expected ISO 3166-1 alpha-2 (DE) or ISO 3166-2 (US-CA), upper case"
        )
    start, end = parse_period(period)
    due = parse_deadline(deadline)
    if due < end:
        raise InputError(f"--deadline {deadline!r} is before the end of the period {period!r}")
    if now is not None and due < now:
        raise InputError(f"--deadline {deadline!r} is already past (the chain's time is {iso(now)})")
    first, last = parse_vintages(vintages)
    cleaned = tuple(s.strip() for s in standards)
    if len(cleaned) > MAX_STANDARDS:
        raise InputError(f"{len(cleaned)} standards given; a period lists at most {MAX_STANDARDS}")
    for index, standard in enumerate(cleaned):
        if not standard:
            raise InputError(f"--standard number {index + 1} is empty")
        if standard in cleaned[:index]:
            raise InputError(f"--standard {standard!r} is given twice")
    return Terms(None, name, jurisdiction, start, end, due, first, last, cleaned)


def iso(timestamp: int) -> str:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_vintages(first: int, last: int) -> str:
    if not first and not last:
        return "any"
    if first and last:
        return f"{first}-{last}" if first != last else str(first)
    return f"from {first}" if first else f"up to {last}"
