"""The price feed: prices from a CSV or JSON file, checked in full (on their own and against the chain) before
anything is sent, and posted idempotently: a row the chain already has (the class's stored price has its time and
its price) is skipped, so a feed can be re-run on the same file or on a growing one. A row observed at the stored
time with another price is a conflict (nothing is sent); a row older than the stored observation is superseded:
reported, not posted (the oracle keeps only the latest), never counted as already on-chain.

CSV columns: ``class,price,observed_at``. JSON: a list of objects with those keys (or ``{"prices": [...]}``).
- ``class``: a credit id (number or ``P<project>/B<batch>``) or ``vintage:<project>:<year>``;
- ``price``: per tonne, in the loan currency (e.g. ``12.50``), at most its decimals;
- ``observed_at``: unix seconds, or ISO 8601 UTC (``2026-11-20T10:00:00Z``); not in the future.

On the bulk pipeline (``tonne.bulk``, docs/bulk.md) for what fits a file of JSON or CSV entries: the wait for the
account's pending transactions, dry run, the sending (``send_windowed``, a failed transaction re-checked against
the oracle) and a lost RPC as one line (``run_feed``). Its own report (``PriceFileError``: ``file:line`` or
``file:entry N`` strings, a conflict count) and its chain reads (per class, through the ape contracts of
``PledgeDeployed``) stay its own; see docs/bulk.md for why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tonne import bulk
from tonne.bulk.send import send_windowed, waited
from tonne.chain.errors import Problem, SendFailed, ToolError
from tonne.chain.send import Sent
from tonne.core.csvinput import read_table, read_text
from tonne.pledge.chain import AmountError, PledgeDeployed, parse_money
from tonne.pledge.ids import CLASS_FLAG, describe_class, parse_class

COLUMNS = ("class", "price", "observed_at")
BPS = 10_000
CHUNK = 50


class PriceFileError(ValueError):
    """A price file with problems; ``problems`` are ``file:line: field: message`` lines, all of them."""

    class Tool(ToolError):
        """What the shared reader (``tonne.core.csvinput``) raises; converted to a ``PriceFileError``."""

    def __init__(self, problems: list[str], conflicts: int = 0) -> None:
        super().__init__(f"{len(problems)} problem(s) in the price file")
        self.problems = problems
        self.conflicts = conflicts  # how many of them are rows that contradict the oracle's stored price

    def report(self) -> str:
        of_them = f", {self.conflicts} of them conflict(s) with the on-chain price" if self.conflicts else ""
        return "\n".join([*self.problems, f"{len(self.problems)} problem(s){of_them}; nothing was sent."])


class FeedSendError(ToolError):
    """A transaction of the feed failed and the re-check found none of its prices on-chain meanwhile; the summary is
    the oracle's refusal, decoded. What was posted before stands."""


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
    already: list[PriceRow] = field(default_factory=list)  # the oracle holds this very row: same time and price
    superseded: list[tuple[PriceRow, int]] = field(default_factory=list)  # (row, the newer on-chain observation time)


def read_price_file(path: Path | str, decimals: int, problems: list[str] | None = None) -> list[PriceRow]:
    """Parse and check every row on its own. Every bad field is reported: into ``problems`` when given (the
    good rows are returned), else as a ``PriceFileError``."""
    collect = problems is not None
    path = Path(path)
    problems = problems if problems is not None else []
    raw: list[tuple[str, dict[str, Any]]] = []
    try:
        text = read_text(path, PriceFileError.Tool)
    except PriceFileError.Tool as exc:
        raise PriceFileError([str(p) for p in exc.problems] or [exc.summary]) from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PriceFileError([f"{path}:{exc.lineno}: json: {exc.msg}"]) from exc
        items = data.get("prices") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise PriceFileError([f'{path}: json: expected a list of prices, or {{"prices": [...]}}'])
        raw = [(f"{path}:entry {n}", item if isinstance(item, dict) else {}) for n, item in enumerate(items, 1)]
    else:
        raw = _read_csv(text, str(path), problems)
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
    if not raw and not problems:
        problems.append(f"{path}: no prices")
    if problems and not collect:
        raise PriceFileError(problems)
    return rows


def _read_csv(text: str, name: str, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The CSV through the reader every tool shares (``tonne.core.csvinput.read_table``: BOM, stripped header names,
    field counts, blank lines, NFC). No column is unique in a price file (``unique=None``): every row is kept,
    the same observation twice is ``plan_feed``'s to judge."""
    kept: list[tuple[str, dict[str, Any]]] = []

    def keep(values: dict[str, str], line: int, _problems: list[Problem]) -> tuple[str, dict[str, Any]]:
        kept.append((f"{name}:{line}", values))
        return kept[-1]

    _, found = read_table(text, name, required=COLUMNS, unique=None, parse_row=keep)
    problems.extend(str(p) for p in found)
    return kept


def plan_feed(d: PledgeDeployed, rows: list[PriceRow], now: int, problems: list[str] | None = None) -> FeedPlan:
    """Check rows against the chain: skip what is posted already (the stored observation: same time, same price),
    report what is older than the stored observation as superseded, refuse a row at the stored time with another
    price (a conflict), the future and moves past the bound. Rows of one class are applied in time order, each
    bounded by the one before. Problems found before (e.g. by ``read_price_file``) may be passed in: every problem
    is reported together."""
    plan = FeedPlan(rows)
    problems = list(problems or [])
    conflicts = 0
    max_move = int(d.oracle.maxMoveBps())
    stored: dict[int, tuple[int, int]] = {}  # the oracle's (price, updatedAt) per class
    last: dict[int, tuple[int, int]] = {}  # the same, with the plan's rows before this one applied
    seen: dict[tuple[int, int], PriceRow] = {}
    unknown: dict[int, str | None] = {}
    for row in sorted(rows, key=lambda r: (r.class_id, r.observed_at)):
        earlier = seen.setdefault((row.class_id, row.observed_at), row)
        if earlier is not row:
            if earlier.price != row.price:
                problems.append(
                    f"{row.where}: price: conflict: {describe_class(row.class_id)} observed at {row.observed_at} is "
                    f"{d.money(row.price)} here but {d.money(earlier.price)} at {earlier.where}"
                )
            continue  # the same observation twice: one price
        if row.class_id not in unknown:
            unknown[row.class_id] = _class_problem(d, row.class_id)
        if unknown[row.class_id]:
            problems.append(f"{row.where}: class: {unknown[row.class_id]}")
            continue
        if row.class_id not in stored:
            on_chain = d.oracle.priceOf(row.class_id)
            stored[row.class_id] = last[row.class_id] = (int(on_chain.price), int(on_chain.updatedAt))
        stored_price, stored_at = stored[row.class_id]
        if row.observed_at == stored_at:
            if row.price == stored_price:
                plan.already.append(row)
            else:
                conflicts += 1
                problems.append(
                    f"{row.where}: price: on-chain price for {describe_class(row.class_id)} at {stored_at} is "
                    f"{d.money(stored_price)}, the file says {d.money(row.price)}"
                )
            continue
        if row.observed_at < stored_at:
            plan.superseded.append((row, stored_at))
            continue
        price, _ = last[row.class_id]
        if row.observed_at > now:
            problems.append(f"{row.where}: observed_at: {row.observed_at} is in the future (now {now})")
            continue
        if price and abs(row.price - price) * BPS > price * max_move:
            problems.append(
                f"{row.where}: price: {describe_class(row.class_id)} from {d.money(price)} to {d.money(row.price)} "
                f"per tonne moves more than {max_move} bps in one update (the oracle would refuse it: "
                "PriceMoveTooLarge)"
            )
            continue
        last[row.class_id] = (row.price, row.observed_at)
        plan.to_post.append(row)
    if problems:
        raise PriceFileError(sorted(problems, key=_line_order), conflicts)
    return plan


def _class_problem(d: PledgeDeployed, class_id: int) -> str | None:
    """Why no credit can be in ``class_id`` (no such batch / project), or None."""
    if class_id & CLASS_FLAG:
        project = (class_id >> 64) & (2**64 - 1)
        if not 0 < project <= int(d.registry.projectCount()):
            return f"{describe_class(class_id)}: no project {project} in the registry"
        return None
    try:
        d.registry.batchPeriod(class_id)
    except Exception:  # noqa: BLE001 - the registry reverts for an unknown id, whatever the provider's error type
        return f"{describe_class(class_id)}: no such batch in the registry"
    return None


def check_feed(d: PledgeDeployed, path: Path | str, now: int) -> FeedPlan:
    """Read ``path`` and plan it against the chain, reporting every problem of both stages at once."""
    problems: list[str] = []
    rows = read_price_file(path, d.decimals, problems)
    return plan_feed(d, rows, now, problems)


def _line_order(problem: str) -> tuple[int, str]:
    where = problem.split(": ", 1)[0]
    number = where.rsplit(":", 1)[-1].replace("entry ", "")
    return (int(number) if number.isdigit() else 0, problem)


@dataclass
class FeedSummary:
    """What a run did (or, for a dry run, would do)."""

    to_post: int
    already: int
    superseded: int
    txs: int = 0
    raced: int = 0  # rows found on-chain meanwhile, after a failed transaction
    dry_run: bool = False
    elapsed: float = 0.0

    def describe(self) -> str:
        return (
            f"{self.to_post} price(s) {'to post' if self.dry_run else 'posted'}, {self.already} already on-chain "
            f"(same time and price), {self.superseded} superseded (older than the on-chain price), 0 conflicts"
        )


def post_plan(
    d: PledgeDeployed,
    plan: FeedPlan,
    sender: Any,
    chunk: int = CHUNK,
    *,
    recheck: bool = True,
    log: Callable[[str], None] = lambda _: None,
    progress: Any = None,
    summary: FeedSummary | None = None,
) -> list[Any]:
    """Post the plan's rows, ``chunk`` per transaction, in time order (``tonne.bulk.send_windowed``, one in
    flight); returns the receipts. A transaction that fails is re-checked (``recheck``): rows the oracle holds
    meanwhile (same time and price) are dropped and the rest sent again; when none are, ``FeedSendError`` says the
    oracle's refusal, decoded (what was posted before stands: a rerun posts the rest)."""
    from ape.exceptions import ContractLogicError

    from tonne.chain.refusal import refused

    rows = sorted(plan.to_post, key=lambda r: r.observed_at)
    receipts: list[Any] = []

    def submit(part: list[PriceRow]) -> Sent:
        try:
            receipt = d.oracle.postPrices(
                [r.class_id for r in part], [r.price for r in part], [r.observed_at for r in part], sender=sender
            )
        except ContractLogicError as exc:
            raise SendFailed(refused(exc)) from exc
        receipts.append(receipt)
        return Sent(str(receipt.txn_hash), int(receipt.gas_used), int(receipt.block_number or 0), ())

    def record(part: list[PriceRow], sent: Sent) -> None:
        if summary is not None:
            summary.txs += 1
        if progress is not None:
            progress.update(len(part))

    def settle(failures: list[tuple[list[PriceRow], SendFailed]]) -> list[list[PriceRow]]:
        ((part, exc),) = failures
        if not recheck:
            raise FeedSendError(str(exc)) from exc
        still = [r for r in part if _stored(d, r.class_id) != (r.price, r.observed_at)]
        if len(still) == len(part):
            raise FeedSendError(str(exc)) from exc
        log(f"{len(part) - len(still)} price(s) were posted meanwhile by another transaction")
        if summary is not None:
            summary.raced += len(part) - len(still)
        if progress is not None:
            progress.update(len(part) - len(still))
        return [still] if still else []

    send_windowed((rows[i : i + chunk] for i in range(0, len(rows), chunk)), submit, waited(None), record, settle)
    return receipts


def _stored(d: PledgeDeployed, class_id: int) -> tuple[int, int]:
    on_chain = d.oracle.priceOf(class_id)
    return int(on_chain.price), int(on_chain.updatedAt)


def run_feed(
    d: PledgeDeployed,
    path: Path | str,
    now: int,
    sender: Any,
    *,
    view: Any = None,
    dry_run: bool = False,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    on_plan: Callable[[FeedPlan], None] | None = None,
    before_send: Callable[[], None] = lambda: None,
) -> FeedSummary:
    """The feed on the bulk pipeline: wait for ``sender``'s pending transactions (with ``view``, a ``ChainView``),
    check the file and plan it against the chain, show the plan (``on_plan``), then, unless ``dry_run`` or nothing is
    left, ``before_send()`` (the role check) and post. Raises ``PriceFileError`` (nothing sent) for any problem."""
    if view is not None:
        view.wait_settled(str(sender.address), pending_timeout, log)
    plan = check_feed(d, path, now)

    def send(p: FeedPlan, bar: Any) -> FeedSummary:
        before_send()
        summary = idle(p, False)
        post_plan(d, p, sender, log=log, progress=bar, summary=summary)
        return summary

    def idle(p: FeedPlan, _dry_run: bool) -> FeedSummary:
        return FeedSummary(len(p.to_post), len(p.already), len(p.superseded))

    return bulk.run(
        plan,
        send,
        idle,
        rows=len(plan.to_post),
        done=0,
        pending=len(plan.to_post),
        unit="price",
        desc="posting",
        dry_run=dry_run,
        on_plan=on_plan,
        rpc=bulk.rpc_of(view),
    )


def _price(text: str, decimals: int) -> int:
    units = parse_money(text, decimals)
    if units > 2**128 - 1:
        raise ValueError(f"{text[:20]}... is above the oracle's largest price")
    if units == 0:
        raise ValueError("must be above zero")
    return units


def _time(text: str) -> int:
    text = text.strip()
    if text.isascii() and text.isdigit():
        if int(text) == 0:
            raise ValueError("0 is not a time of observation (unix seconds after 1970)")
        if int(text) >= 2**40:
            raise ValueError(f"{text[:20]} is too far in the future")
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not unix seconds or ISO 8601: {text!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z for UTC")
    value = int(moment.astimezone(timezone.utc).timestamp())
    if value <= 0:
        raise ValueError(f"{text!r} is not after 1970")
    return value
