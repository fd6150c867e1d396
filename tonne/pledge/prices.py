"""The price feed: prices from a CSV or JSON file, checked in full (on their own and against the chain) before
anything is sent, and posted idempotently: a row the chain already has (its observation is not newer than the
class's stored one) is skipped, so a feed can be re-run on the same file or on a growing one.

CSV columns: ``class,price,observed_at``. JSON: a list of objects with those keys (or ``{"prices": [...]}``).
- ``class``: a credit id (number or ``P<project>/B<batch>``) or ``vintage:<project>:<year>``;
- ``price``: per tonne, in the loan currency (e.g. ``12.50``), at most its decimals;
- ``observed_at``: unix seconds, or ISO 8601 UTC (``2026-11-20T10:00:00Z``); not in the future.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tonne.pledge.chain import AmountError, PledgeDeployed, parse_money
from tonne.pledge.ids import describe_class, parse_class

COLUMNS = ("class", "price", "observed_at")
BPS = 10_000
CHUNK = 50


class PriceFileError(ValueError):
    """A price file with problems; ``problems`` are ``file:line: field: message`` lines, all of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the price file")
        self.problems = problems

    def report(self) -> str:
        return "\n".join([*self.problems, f"{len(self.problems)} problem(s); nothing was sent."])


@dataclass(frozen=True)
class PriceRow:
    where: str  # "file:line"
    class_id: int
    price: int
    observed_at: int


@dataclass
class FeedPlan:
    rows: list[PriceRow]
    to_post: list[PriceRow] = field(default_factory=list)
    already: list[PriceRow] = field(default_factory=list)


def read_price_file(path: Path | str, decimals: int, problems: list[str] | None = None) -> list[PriceRow]:
    """Parse and check every row on its own. Every bad field is reported: into ``problems`` when given (the
    good rows are returned), else as a ``PriceFileError``."""
    collect = problems is not None
    path = Path(path)
    problems = problems if problems is not None else []
    raw: list[tuple[str, dict[str, Any]]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise PriceFileError([f"{path}:{exc.lineno}: json: {exc.msg}"]) from exc
        items = data.get("prices") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise PriceFileError([f'{path}: json: expected a list of prices, or {{"prices": [...]}}'])
        raw = [(f"{path}:entry {n}", item if isinstance(item, dict) else {}) for n, item in enumerate(items, 1)]
    else:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise PriceFileError(
                    [f"{path}:1: header: missing column(s) {', '.join(missing)}; need {','.join(COLUMNS)}"]
                )
            raw = [(f"{path}:{reader.line_num}", dict(row)) for row in reader]
    rows: list[PriceRow] = []
    for where, item in raw:
        fields: dict[str, Any] = {}
        for name, parse in (("class", parse_class), ("price", lambda v: _price(v, decimals)), ("observed_at", _time)):
            value = item.get(name)
            if value is None or str(value).strip() == "":
                problems.append(f"{where}: {name}: missing")
                continue
            try:
                fields[name] = parse(str(value))
            except (ValueError, AmountError) as exc:
                problems.append(f"{where}: {name}: {exc}")
        if len(fields) == 3:
            rows.append(PriceRow(where, fields["class"], fields["price"], fields["observed_at"]))
    if not raw:
        problems.append(f"{path}: no prices")
    if problems and not collect:
        raise PriceFileError(problems)
    return rows


def plan_feed(d: PledgeDeployed, rows: list[PriceRow], now: int, problems: list[str] | None = None) -> FeedPlan:
    """Check rows against the chain: skip what is posted already, refuse the future and moves past the bound.
    Rows of one class are applied in time order, each bounded by the one before. Problems found before (e.g. by
    ``read_price_file``) may be passed in: every problem is reported together."""
    plan = FeedPlan(rows)
    problems = list(problems or [])
    max_move = int(d.oracle.maxMoveBps())
    last: dict[int, tuple[int, int]] = {}
    for row in sorted(rows, key=lambda r: (r.class_id, r.observed_at)):
        if row.class_id not in last:
            stored = d.oracle.priceOf(row.class_id)
            last[row.class_id] = (int(stored.price), int(stored.updatedAt))
        price, updated = last[row.class_id]
        if row.observed_at <= updated:
            plan.already.append(row)
            continue
        if row.observed_at > now:
            problems.append(f"{row.where}: observed_at: {row.observed_at} is in the future (chain time {now})")
            continue
        if price and abs(row.price - price) * BPS > price * max_move:
            problems.append(
                f"{row.where}: price: {describe_class(row.class_id)} from {price} to {row.price} moves more than "
                f"{max_move} bps in one update (the oracle would refuse it: PriceMoveTooLarge)"
            )
            continue
        last[row.class_id] = (row.price, row.observed_at)
        plan.to_post.append(row)
    if problems:
        raise PriceFileError(sorted(problems, key=_line_order))
    return plan


def check_feed(d: PledgeDeployed, path: Path | str, now: int) -> FeedPlan:
    """Read ``path`` and plan it against the chain, reporting every problem of both stages at once."""
    problems: list[str] = []
    rows = read_price_file(path, d.decimals, problems)
    return plan_feed(d, rows, now, problems)


def _line_order(problem: str) -> tuple[int, str]:
    where = problem.split(": ", 1)[0]
    number = where.rsplit(":", 1)[-1].replace("entry ", "")
    return (int(number) if number.isdigit() else 0, problem)


def post_plan(d: PledgeDeployed, plan: FeedPlan, sender: Any, chunk: int = CHUNK) -> list[Any]:
    """Post the plan's rows, ``chunk`` per transaction, in time order; returns the receipts."""
    rows = sorted(plan.to_post, key=lambda r: r.observed_at)
    receipts = []
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        receipts.append(
            d.oracle.postPrices(
                [r.class_id for r in part], [r.price for r in part], [r.observed_at for r in part], sender=sender
            )
        )
    return receipts


def _price(text: str, decimals: int) -> int:
    units = parse_money(text, decimals)
    if units == 0:
        raise ValueError("must be above zero")
    return units


def _time(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not unix seconds or ISO 8601: {text!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z for UTC")
    return int(moment.astimezone(timezone.utc).timestamp())
