"""The price feed: prices from a CSV or JSON file, checked in full (on their own and against the chain) before
anything is sent, and posted idempotently: a row the chain already has (the class's stored price has its time and
its price) is skipped, so a feed can be re-run on the same file or on a growing one. A row observed at the stored
time with another price is a conflict (nothing is sent); a row older than the stored observation is superseded:
reported, not posted (the oracle keeps only the latest), never counted as already on-chain.

CSV columns: ``class,price,observed_at``. JSON: a list of objects with those keys (or ``{"prices": [...]}``).
- ``class``: a credit id (number or ``P<project>/B<batch>``) or ``vintage:<project>:<year>``;
- ``price``: per tonne, in the loan currency (e.g. ``12.50``), at most its decimals;
- ``observed_at``: unix seconds, or ISO 8601 UTC (``2026-11-20T10:00:00Z``); not in the future.

On the bulk pipeline (``tonne.bulk``, docs/bulk.md): its rows and static checks (``tonne.bulk.rows``: the CSV
through ``read_table``, a JSON list entry by entry, each problem a ``Problem`` at ``file:line`` or ``file:entry N``),
its chain reads in one batch pinned to one block after the account's pending transactions (``tonne.bulk.pinned``),
dry run, the sending (``send_windowed``, a failed transaction re-checked at one pinned block) and a lost RPC as one
line (``run_feed``). What is its own: the columns, the plan (already on-chain, superseded, conflicts, the move
bound) and ``PriceFileError``'s report, which ends with the conflict count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tonne import bulk
from tonne.bulk.rows import row_parser
from tonne.bulk.send import send_windowed, waited
from tonne.chain.errors import Problem, SendFailed, ToolError
from tonne.chain.send import Sent
from tonne.chain.view import Call, ChainView
from tonne.core.csvinput import FieldError, parse_fields, read_table, read_text
from tonne.pledge.chain import AmountError, PledgeDeployed, parse_money
from tonne.pledge.ids import CLASS_FLAG, describe_class, parse_class

COLUMNS = ("class", "price", "observed_at")
BPS = 10_000
CHUNK = 50


class PriceFileError(ValueError):
    """A price file with problems; ``problems`` are ``file:line: field: message`` lines, all of them."""

    class Tool(ToolError):
        """What the shared reader (``tonne.core.csvinput``) raises; converted to a ``PriceFileError``."""

    def __init__(self, problems: Iterable[Problem | str], conflicts: int = 0) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__(f"{len(self.problems)} problem(s) in the price file")
        self.conflicts = conflicts  # how many of them are rows that contradict the oracle's stored price

    def report(self) -> str:
        of_them = f", {self.conflicts} of them conflict(s) with the on-chain price" if self.conflicts else ""
        return "\n".join([*self.problems, f"{len(self.problems)} problem(s){of_them}; nothing was sent."])


class FeedSendError(ToolError):
    """A transaction of the feed failed and the re-check found none of its prices on-chain meanwhile; the summary is
    the oracle's refusal, decoded. What was posted before stands."""


@dataclass(frozen=True)
class PriceRow:
    path: str
    line: int  # the CSV line, or with ``entry`` the place in the JSON list
    class_id: int
    price: int
    observed_at: int
    entry: bool = False

    @property
    def where(self) -> str:
        return f"{self.path}:{'entry ' * self.entry}{self.line}"

    def problem(self, column: str, message: str) -> Problem:
        return Problem(self.path, self.line, column, message, self.entry)


@dataclass
class FeedPlan:
    rows: list[PriceRow]
    to_post: list[PriceRow] = field(default_factory=list)
    already: list[PriceRow] = field(default_factory=list)  # the oracle holds this very row: same time and price
    superseded: list[tuple[PriceRow, int]] = field(default_factory=list)  # (row, the newer on-chain observation time)


def _field(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A column parser of ``tonne.bulk.rows``: an empty value is missing, a bad one a ``FieldError``."""

    def parse_field(text: str) -> Any:
        if text.strip() == "":
            raise FieldError("missing")
        try:
            return parse(text)
        except (ValueError, AmountError) as exc:
            raise FieldError(str(exc)) from exc

    return parse_field


def _parsers(decimals: int) -> dict[str, Callable[[str], Any]]:
    return {"class": _field(parse_class), "price": _field(lambda v: _price(v, decimals)), "observed_at": _field(_time)}


def parse_text(text: str, name: str, decimals: int) -> tuple[list[PriceRow], list[Problem]]:
    """The rows of a price file's ``text`` (JSON when ``name`` ends in .json, else CSV) and every problem of each
    row on its own."""
    problems: list[Problem] = []
    if not name.lower().endswith(".json"):
        rows, problems = read_table(
            text,
            name,
            required=COLUMNS,
            unique=None,  # the same observation twice is ``plan_feed``'s to judge
            parse_row=row_parser(name, _parsers(decimals), lambda line, f: _row(name, line, f)),
        )
        empty = not rows and not problems
    else:
        try:
            # A number is kept as written (``12.50``, ``1e3``), so the CSV's one grammar judges it: a float would
            # round 1234567890123.123456789 silently and turn 1e3 into 1000.0.
            data = json.loads(text, parse_float=str, parse_int=str, parse_constant=str, object_pairs_hook=_Entry)
        except json.JSONDecodeError as exc:
            raise PriceFileError([Problem(name, exc.lineno, "json", exc.msg)]) from exc
        items = data.get("prices") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise PriceFileError([Problem(name, None, "json", 'expected a list of prices, or {"prices": [...]}')])
        rows = []
        for n, item in enumerate(items, 1):
            values = {k: "" if v is None else str(v) for k, v in item.items()} if isinstance(item, dict) else {}
            entry = [Problem(name, n, key, "given twice in this entry") for key in getattr(item, "repeated", ())]
            unknown = [key for key in values if key not in COLUMNS]  # a CSV refuses an unknown column too
            entry += [Problem(name, n, key, f"unknown key (expected {', '.join(COLUMNS)})") for key in unknown]
            parsed = parse_fields(values, _parsers(decimals), name, n, entry)
            problems.extend(Problem(p.path, p.line, p.field, p.message, entry=True) for p in entry)
            if parsed is not None:
                rows.append(_row(name, n, parsed, entry=True))
        empty = not items
    if empty and not problems:
        problems.append(Problem(name, None, "", "no prices"))
    return rows, problems


class _Entry(dict):
    """A JSON object, with the keys it gives more than once (``repeated``: the last value would win silently)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        keys = [key for key, _ in pairs]
        self.repeated = sorted({key for key in keys if keys.count(key) > 1})


def _row(name: str, line: int, parsed: Mapping[str, Any], entry: bool = False) -> PriceRow:
    return PriceRow(name, line, parsed["class"], parsed["price"], parsed["observed_at"], entry)


def read_price_file(path: Path | str, decimals: int, problems: list[Problem] | None = None) -> list[PriceRow]:
    """Parse and check every row on its own. Every bad field is reported: into ``problems`` when given (the
    good rows are returned), else as a ``PriceFileError``."""
    try:
        text = read_text(path, PriceFileError.Tool)
    except PriceFileError.Tool as exc:
        raise PriceFileError(exc.problems or [exc.summary]) from exc
    rows, found = parse_text(text, str(path), decimals)
    if problems is None and found:
        raise PriceFileError(found)
    if problems is not None:
        problems.extend(found)
    return rows


@dataclass(frozen=True)
class FeedChain:
    """What the plan reads of the chain, in one batch at one block: the oracle's move bound and stored
    ``(price, updatedAt)`` per class, the registry's project count and which batches it knows."""

    max_move: int
    stored: dict[int, tuple[int, int]]
    projects: int
    batches: frozenset[int]


def read_chain(view: ChainView, d: PledgeDeployed, class_ids: Iterable[int]) -> FeedChain:
    """``FeedChain`` for ``class_ids`` in one batch of calls (at the view's pinned block)."""
    classes = sorted(set(class_ids))
    batches = [c for c in classes if not c & CLASS_FLAG]
    oracle, registry = str(d.oracle.address), str(d.registry.address)
    results = view.call_many(
        [
            Call(oracle, "maxMoveBps()", (), ("uint256",)),
            Call(registry, "projectCount()", (), ("uint64",)),
            *(Call(oracle, "priceOf(uint256)", (c,), ("uint128", "uint40")) for c in classes),
            *(Call(registry, "batchPeriod(uint256)", (c,), ("uint40", "uint40")) for c in batches),
        ]
    )
    prices, periods = results[2 : 2 + len(classes)], results[2 + len(classes) :]
    return FeedChain(
        max_move=int(results[0]),
        stored={c: (int(p[0]), int(p[1])) for c, p in zip(classes, prices, strict=True)},
        projects=int(results[1]),
        batches=frozenset(c for c, period in zip(batches, periods, strict=True) if period),  # unknown: reverted
    )


def plan_feed(
    d: PledgeDeployed, rows: list[PriceRow], now: int, chain: FeedChain, problems: list[Problem] | None = None
) -> FeedPlan:
    """Check rows against the chain (``chain``, read by ``read_chain``): skip what is posted already (the stored
    observation: same time, same price), report what is older than the stored observation as superseded, refuse a
    row at the stored time with another price (a conflict), the future and moves past the bound. Rows of one class
    are applied in time order, each bounded by the one before. Problems found before (e.g. by ``read_price_file``)
    may be passed in: every problem is reported together."""
    plan = FeedPlan(rows)
    problems = list(problems or [])
    conflicts = 0
    max_move = chain.max_move
    last = dict(chain.stored)  # the oracle's (price, updatedAt) per class, with the plan's rows before applied
    seen: dict[tuple[int, int], PriceRow] = {}
    for row in sorted(rows, key=lambda r: (r.class_id, r.observed_at)):
        earlier = seen.setdefault((row.class_id, row.observed_at), row)
        if earlier is not row:
            if earlier.price != row.price:
                problems.append(
                    row.problem(
                        "price",
                        f"conflict: {describe_class(row.class_id)} observed at {row.observed_at} is "
                        f"{d.money(row.price)} here but {d.money(earlier.price)} at {earlier.where}",
                    )
                )
            continue  # the same observation twice: one price
        unknown = _class_problem(chain, row.class_id)
        if unknown:
            problems.append(row.problem("class", unknown))
            continue
        stored_price, stored_at = chain.stored[row.class_id]
        if row.observed_at == stored_at:
            if row.price == stored_price:
                plan.already.append(row)
            else:
                conflicts += 1
                problems.append(
                    row.problem(
                        "price",
                        f"on-chain price for {describe_class(row.class_id)} at {stored_at} is "
                        f"{d.money(stored_price)}, the file says {d.money(row.price)}",
                    )
                )
            continue
        if row.observed_at < stored_at:
            plan.superseded.append((row, stored_at))
            continue
        price, _ = last[row.class_id]
        if row.observed_at > now:
            problems.append(row.problem("observed_at", f"{row.observed_at} is in the future (now {now})"))
            continue
        if price and abs(row.price - price) * BPS > price * max_move:
            problems.append(
                row.problem(
                    "price",
                    f"{describe_class(row.class_id)} from {d.money(price)} to {d.money(row.price)} "
                    f"per tonne moves more than {max_move} bps in one update (the oracle would refuse it: "
                    "PriceMoveTooLarge)",
                )
            )
            continue
        last[row.class_id] = (row.price, row.observed_at)
        plan.to_post.append(row)
    if problems:
        raise PriceFileError(sorted(problems, key=lambda p: (p.line or 0, str(p))), conflicts)
    return plan


def _class_problem(chain: FeedChain, class_id: int) -> str | None:
    """Why no credit can be in ``class_id`` (no such batch / project), or None."""
    if class_id & CLASS_FLAG:
        project = (class_id >> 64) & (2**64 - 1)
        if not 0 < project <= chain.projects:
            return f"{describe_class(class_id)}: no project {project} in the registry"
        return None
    if class_id not in chain.batches:
        return f"{describe_class(class_id)}: no such batch in the registry"
    return None


def check_feed(
    d: PledgeDeployed,
    view: ChainView,
    path: Path | str,
    now: int,
    *,
    sender: str | None = None,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
) -> FeedPlan:
    """Read ``path``, then (once ``sender``'s pending transactions are mined, when given) read the chain at one
    pinned block and plan; every problem of both stages is reported at once."""
    problems: list[Problem] = []
    rows = read_price_file(path, d.decimals, problems)
    with bulk.pinned(view, sender, pending_timeout, log):
        chain = read_chain(view, d, (r.class_id for r in rows))
    return plan_feed(d, rows, now, chain, problems)


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
    view: ChainView | None = None,
    recheck: bool = True,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    progress: Any = None,
    summary: FeedSummary | None = None,
) -> list[Any]:
    """Post the plan's rows, ``chunk`` per transaction, in time order (``tonne.bulk.send_windowed``, one in
    flight); returns what was sent (``Sent``: hash, gas). A transaction that fails is re-checked (``recheck``,
    through ``view``, by default one on ape's connected provider): at one pinned block, rows the oracle holds
    meanwhile (same time and price) are dropped and the rest sent again; when none are and it was not a nonce clash
    (``tonne.bulk.nonce_clash``), ``FeedSendError`` says the oracle's refusal, decoded (what was posted before
    stands: a rerun posts the rest)."""
    rows = sorted(plan.to_post, key=lambda r: r.observed_at)
    sent: list[Sent] = []

    def submit(part: list[PriceRow]) -> Sent:
        classes, prices, times = [r.class_id for r in part], [r.price for r in part], [r.observed_at for r in part]
        sent.append(bulk.ape_send(d.oracle.postPrices, classes, prices, times, sender=sender))
        return sent[-1]

    def record(part: list[PriceRow], sent: Sent) -> None:
        if summary is not None:
            summary.txs += 1
        if progress is not None:
            progress.update(len(part))

    def settle(failures: list[tuple[list[PriceRow], SendFailed]]) -> list[list[PriceRow]]:
        ((part, exc),) = failures
        if not recheck:
            raise FeedSendError(str(exc)) from exc
        reader = view if view is not None else _connected_view()
        with bulk.pinned(reader, str(sender.address), pending_timeout, log):
            stored = read_chain(reader, d, (r.class_id for r in part)).stored
        still = [r for r in part if stored[r.class_id] != (r.price, r.observed_at)]
        if len(still) == len(part) and not exc.retry:  # nothing posted meanwhile, and not a nonce clash
            raise FeedSendError(str(exc)) from exc
        if len(still) < len(part):
            log(f"{len(part) - len(still)} price(s) were posted meanwhile by another transaction")
        if summary is not None:
            summary.raced += len(part) - len(still)
        if progress is not None:
            progress.update(len(part) - len(still))
        return [still] if still else []

    send_windowed((rows[i : i + chunk] for i in range(0, len(rows), chunk)), submit, waited(None), record, settle)
    return sent


def _connected_view() -> ChainView:
    from ape import chain

    return ChainView(chain.provider.web3)


def run_feed(
    d: PledgeDeployed,
    path: Path | str,
    now: int,
    sender: Any,
    *,
    view: ChainView,
    dry_run: bool = False,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    on_plan: Callable[[FeedPlan], None] | None = None,
    before_send: Callable[[], None] = lambda: None,
) -> FeedSummary:
    """The feed on the bulk pipeline: check the file, wait for ``sender``'s pending transactions and read the chain
    at one pinned block (``view``), plan, show the plan (``on_plan``), then, unless ``dry_run`` or nothing is left,
    ``before_send()`` (the role check) and post. Raises ``PriceFileError`` (nothing sent) for any problem."""
    address = str(sender.address) if sender is not None else None
    plan = check_feed(d, view, path, now, sender=address, pending_timeout=pending_timeout, log=log)

    def send(p: FeedPlan, bar: Any) -> FeedSummary:
        before_send()
        summary = idle(p, False)
        post_plan(d, p, sender, view=view, pending_timeout=pending_timeout, log=log, progress=bar, summary=summary)
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
