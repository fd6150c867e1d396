"""``supervise report``: one self-contained HTML file for a period, read by people (a regulator, an auditor).

What it shows, all from the ledger (``tonne.supervise.ledger``, the one fold of the index) and the alerts given:
- a header: the chains and contracts followed, the blocks folded, the period, when it was written, counts;
- supply: per project and per batch, at the end of the period (issued, free circulation, pledged, exchange,
  bridged, retired, cancelled) and over time, stacked, in charts; the levels come from ``Ledger.supply_at``, the
  ledger's timeline of supply changes, so the last point of a chart is the ledger's own figure;
- retirements in the period by beneficiary and by jurisdiction (tables and bar charts) and the certificates;
- compliance: per period, each entity's obligation, what it surrendered by the end of the report's period, and its
  status (the statuses of ``tonne.compliance.report``);
- trades (a match's two fills once: ``Ledger.deals``) and prices: per id, a chart of deal prices with the oracle's
  price of its class, a summary table, and the newest deals;
- every alert of the period, with its evidence (transaction hashes, accounts, amounts).

The period is half-open, ``[since, until)`` in block timestamps (UTC seconds), as ``IndexStore.events`` reads it:
flows (retirements, surrenders, deals, alerts) are those inside it; stocks (supply) are levels at its end, and the
charts start from the level at its start. Without a period the report covers every event folded.

Self-contained: the charts are PNG images drawn by matplotlib (Agg backend, its own DejaVu fonts) and inlined as
``data:`` URIs; the style sheet is inline; there is no script, and a Content-Security-Policy forbids any (and any
network load), so a reader's browser fetches nothing. Every string from the chain (beneficiary names, reasons,
jurisdictions, project names: anyone can write them) is escaped (``_esc``); the markup is well-formed XML, so a
test can parse it. Long tables are cut at ``Limits.rows`` with the count of what is left out; charts at
``Limits.charts``; numbers are tonnes (``tonne.core.units``), times UTC.

matplotlib writes a font cache: when ``MPLCONFIGDIR`` is unset it goes to a folder under the system's temporary
directory, never under ``$HOME``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tonne.chain.checks import STATUS_NAMES
from tonne.compliance.report import EntityLine
from tonne.core.ids import describe
from tonne.core.units import UNITS_PER_TONNE, format_tonnes
from tonne.retirement.checks import PURPOSE_NAMES
from tonne.supervise.alerts import SEVERITIES, Alert
from tonne.supervise.ledger import Certificate, Ledger, Trade

# The stacked layers of a supply chart, bottom up, with their colours (colour-blind safe: Okabe-Ito).
LAYERS = (
    ("free", "free circulation", "#0072B2"),
    ("pledged", "pledged", "#E69F00"),
    ("exchange", "on the exchange", "#CC79A7"),
    ("bridged", "bridged out", "#56B4E9"),
    ("retired", "retired", "#009E73"),
    ("cancelled", "cancelled", "#999999"),
)
ESCROW_KINDS = ("pledged", "exchange", "bridged")
# Bucket widths of the supply charts: the smallest that keeps a period within MAX_BUCKETS points.
BUCKET_WIDTHS = (60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400, 30 * 86400)
MAX_BUCKETS = 150
SEVERITY_ORDER = {severity: i for i, severity in enumerate(reversed(SEVERITIES))}  # critical first


@dataclass(frozen=True)
class Limits:
    """How much the report shows before cutting (what is cut is counted, never silently dropped)."""

    rows: int = 100  # rows of a long table (certificates, deals, beneficiaries)
    charts: int = 12  # supply charts of projects; price charts of ids
    batch_charts: int = 24  # small supply charts of batches (the largest by issued units)
    bars: int = 15  # bars of a bar chart (the largest)


class Html(str):
    """Markup made here: not escaped again (and what is added to it is escaped first)."""

    def __add__(self, other: Any) -> Html:
        return Html(str.__add__(self, _esc(other)))

    def __radd__(self, other: Any) -> Html:
        return Html(str.__add__(_esc(other), self))


def _esc(value: Any) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def _join(parts: Iterable[Any]) -> Html:
    return Html("".join(_esc(p) for p in parts))


def _tag(name: str, *children: Any, **attrs: Any) -> Html:
    attributes = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{_esc(value)}"' for key, value in attrs.items() if value is not None
    )
    return Html(f"<{name}{attributes}>{_join(children)}</{name}>")


# ------------------------------------------------------------------------------------------------ formatting


def _utc(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")


def _tonnes(units: int) -> str:
    """``1,234.5`` (tonnes, exact; the column says t)."""
    return format_tonnes(units)[:-2]


def _short(text: str, keep: int = 6) -> str:
    return text if len(text) <= 2 * keep + 2 else f"{text[: keep + 2]}…{text[-keep:]}"


def _mono(text: str, *, short: bool = False) -> Html:
    return _tag("code", _short(text) if short else text, title=text if short else None)


def _timestamp(value: int | datetime | None, what: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{what}: {value.isoformat()} has no time zone (give UTC)")
        return int(value.timestamp())
    raise ValueError(f"{what}: a UTC timestamp or an aware datetime, not {value!r}")


def _money(base_units: int, decimals: int | None) -> str:
    """An amount of a token, exact: ``14.00`` with its decimals known, base units otherwise."""
    if decimals is None:
        return f"{base_units:,}"
    whole, fraction = divmod(base_units, 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return f"{whole:,}.{digits.ljust(2, '0')}"


def _id_name(token_id: int) -> str:
    try:
        return describe(token_id)
    except ValueError:
        return hex(token_id)


# ------------------------------------------------------------------------------------------------ matplotlib


def _pyplot():
    """matplotlib's pyplot on the Agg backend, its cache outside $HOME, chain text never read as mathtext."""
    if "MPLCONFIGDIR" not in os.environ:
        folder = Path(tempfile.gettempdir()) / f"tonne-matplotlib-{os.getuid()}"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            usable = folder.stat().st_uid == os.getuid()
        except OSError:
            usable = False
        os.environ["MPLCONFIGDIR"] = str(folder) if usable else tempfile.mkdtemp(prefix="tonne-matplotlib-")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update(
        {
            "text.parse_math": False,  # a beneficiary named "$x$" is text, not a formula (nor a parse error)
            "font.family": "DejaVu Sans",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#e5e5e5",
            "axes.axisbelow": True,
            "timezone": "UTC",
            "figure.dpi": 100,
            "savefig.dpi": 100,
        }
    )
    return plt


def _png(figure) -> Html:
    plt = _pyplot()
    buffer = io.BytesIO()
    # Margins are set per chart (``_margins``), not by bbox_inches="tight", which draws every figure twice.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Html(f'<img class="chart" alt="chart" src="data:image/png;base64,{data}"/>')


def _margins(figure, *, left: float = 0.8, right: float = 0.2, top: float = 0.35, bottom: float = 0.45, **space):
    """Fixed margins, in inches, whatever the figure's size (so that a grid's text keeps its room)."""
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height, **space
    )


def _tonnes_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))


def _time_axis(axis) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=timezone.utc, minticks=3, maxticks=7)
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=timezone.utc))


def _dates(timestamps: Sequence[int]) -> list[datetime]:
    return [datetime.fromtimestamp(t, timezone.utc) for t in timestamps]


def _label(text: str, width: int = 34) -> str:
    text = " ".join(text.split()) or "(no name)"
    return text if len(text) <= width else text[: width - 1] + "…"


# ------------------------------------------------------------------------------------------------ the report


@dataclass
class Layers:
    """The stacked supply of an id (or a sum of ids) at each edge of the period's buckets, in units."""

    issued: list[int]
    layers: dict[str, list[int]]

    @classmethod
    def of(cls, kinds: Mapping[str, list[int]]) -> Layers:
        held = [m - b for m, b in zip(kinds["minted"], kinds["burned"], strict=True)]
        escrow = [sum(kinds[k][i] for k in ESCROW_KINDS) for i in range(len(held))]
        layers = {
            "free": [h - e for h, e in zip(held, escrow, strict=True)],
            **{kind: list(kinds[kind]) for kind in (*ESCROW_KINDS, "retired", "cancelled")},
        }
        return cls(list(kinds["issued"]), layers)

    def __add__(self, other: Layers) -> Layers:
        return Layers(
            [a + b for a, b in zip(self.issued, other.issued, strict=True)],
            {k: [a + b for a, b in zip(v, other.layers[k], strict=True)] for k, v in self.layers.items()},
        )

    def last(self) -> dict[str, int]:
        return {"issued": self.issued[-1], **{k: v[-1] for k, v in self.layers.items()}}


def _edges(start: int, end: int) -> list[int]:
    """The bucket edges of [start, end): start, start + w, ..., end (the last bucket may be shorter)."""
    span = max(end - start, 1)
    width = next((w for w in BUCKET_WIDTHS if span / w <= MAX_BUCKETS), None)
    if width is None:
        width = -(-span // (MAX_BUCKETS * 86400)) * 86400
    edges = list(range(start, end, width))
    return [*edges, end]


class Report:
    """The report's content, computed once from a ledger and alerts (``write_report`` renders it)."""

    def __init__(
        self,
        ledger: Ledger,
        alerts: Sequence[Alert],
        *,
        sources: Sequence[Mapping[str, Any]] = (),
        since: int | None = None,
        until: int | None = None,
        generated: int,
        decimals: Mapping[str, int] | None = None,
        oracle_token: str | None = None,
        limits: Limits | None = None,
        as_of: int | None = None,
    ) -> None:
        if since is not None and until is not None and until <= since:
            raise ValueError(f"the period is empty: until ({_utc(until)}) is not after since ({_utc(since)})")
        self.ledger = ledger
        self.sources = list(sources)
        self.since, self.until, self.generated = since, until, generated
        self.decimals = {k.lower(): v for k, v in (decimals or {}).items()}
        self.oracle_token = oracle_token
        self.limits = limits or Limits()
        self.all_alerts = list(alerts)
        self.alerts = sorted(
            (a for a in alerts if self.inside(a.at)), key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.at, a.rule)
        )
        # The moment the stocks are read at, and the statuses judged at: the period's end, or the chain's time the
        # caller gives (the index's newest block), or now.
        moment = as_of if as_of is not None else generated
        self.as_of = until if until is not None else max(moment, (ledger.last_timestamp or 0) + 1)
        self.certificates = sorted(
            (c for c in ledger.certificates.values() if self.inside(c.where.timestamp)),
            key=lambda c: (c.where.timestamp, c.chain_id, c.certificate_id),
        )
        self.deals = [t for t in ledger.deals() if self.inside(t.where.timestamp)]
        self.surrenders = [s for s in ledger.surrenders if s.where.timestamp < self.as_of]
        self._supply()

    def inside(self, timestamp: int) -> bool:
        return (self.since is None or timestamp >= self.since) and (self.until is None or timestamp < self.until)

    # ---------------------------------------------------------------- supply

    def _supply(self) -> None:
        ledger = self.ledger
        start = self.since
        end = self.until
        first, last = ledger.first_timestamp, ledger.last_timestamp
        if start is None:
            start = first if first is not None else self.generated
            start -= start % 60
        if end is None:
            end = (last if last is not None else start) + 1
            end += -end % 60
        self.edges = _edges(start, end)
        series = ledger.supply_at(self.edges)
        empty = {kind: [0] * len(self.edges) for kind in ("issued", "minted", "burned", "retired", "cancelled")}
        empty.update({kind: [0] * len(self.edges) for kind in ESCROW_KINDS})
        self.ids: dict[tuple[int, int], Layers] = {}
        keys = set(series) | {k for k in ledger.supply if k in ledger.batches or ledger.supply[k].issued}
        for key in sorted(keys):
            self.ids[key] = Layers.of(series.get(key, empty))
        self.projects: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for chain_id, token_id in self.ids:
            batch = ledger.batches.get((chain_id, token_id))
            project_id = batch.project_id if batch is not None else token_id >> 64
            self.projects[(chain_id, project_id)].append((chain_id, token_id))

    def project_layers(self, key: tuple[int, int]) -> Layers:
        ids = self.projects[key]
        total = self.ids[ids[0]]
        for other in ids[1:]:
            total = total + self.ids[other]
        return total

    def project_name(self, key: tuple[int, int]) -> str:
        project = self.ledger.projects.get(key, {})
        code = f"{project.get('standard', '?')}:{project.get('externalId', '?')}" if project else "unregistered"
        name = project.get("name") or ""
        return f"P{key[1]} {code}" + (f" · {name}" if name else "")

    # ---------------------------------------------------------------- retirements

    def by_beneficiary(self) -> list[tuple[str, list[str], int, int]]:
        """(beneficiary, names used, certificates, units), largest first."""
        totals: dict[str, list[Any]] = {}
        for c in self.certificates:
            row = totals.setdefault(c.beneficiary, [Counter(), 0, 0])
            row[0][c.beneficiary_name] += 1
            row[1] += 1
            row[2] += c.units
        rows = [(b, [n for n, _ in names.most_common()], n, units) for b, (names, n, units) in totals.items()]
        return sorted(rows, key=lambda r: (-r[3], r[0]))

    def by_jurisdiction(self) -> list[tuple[str, int, int, int]]:
        """(jurisdiction, certificates, beneficiaries, units), largest first."""
        totals: dict[str, list[Any]] = {}
        for c in self.certificates:
            row = totals.setdefault(c.jurisdiction, [0, set(), 0])
            row[0] += 1
            row[1].add(c.beneficiary)
            row[2] += c.units
        return sorted(((j, n, len(b), u) for j, (n, b, u) in totals.items()), key=lambda r: (-r[3], r[0]))

    # ---------------------------------------------------------------- compliance

    def compliance(self) -> list[tuple[Any, list[EntityLine]]]:
        """Per period opened before the report's end: each entity's line at ``as_of``."""
        surrendered: dict[tuple[int, str], int] = {}
        certificates: dict[tuple[int, str], list[int]] = defaultdict(list)
        for s in self.surrenders:
            surrendered[(s.period_id, s.entity)] = s.surrendered
            certificates[(s.period_id, s.entity)].append(s.certificate_id)
        out = []
        for period in sorted(self.ledger.periods.values(), key=lambda p: p.period_id):
            if period.where.timestamp >= self.as_of:
                continue
            entities = {e for (p, e) in self.ledger.obligations if p == period.period_id}
            entities |= {e for (p, e) in surrendered if p == period.period_id}
            lines = [
                EntityLine(
                    entity,
                    self.ledger.entity_names.get((period.period_id, entity), ""),
                    self.ledger.obligations.get((period.period_id, entity), 0),
                    surrendered.get((period.period_id, entity), 0),
                    self.as_of > period.deadline,
                    certificates.get((period.period_id, entity), []),
                )
                for entity in entities
            ]
            out.append((period, sorted(lines, key=lambda x: (-x.shortfall, x.entity))))
        return out

    # ---------------------------------------------------------------- trades and prices

    def token_name(self, chain_id: int, address: str) -> str:
        return self.ledger.names.get((chain_id, address)) or _short(address)

    def price(self, trade: Trade) -> str:
        """The deal's price per tonne, in its payment token."""
        return _money(trade.price_per_unit * UNITS_PER_TONNE, self.decimals.get(trade.payment_token.lower()))

    def price_float(self, trade: Trade) -> float:
        decimals = self.decimals.get(trade.payment_token.lower(), 0)
        return trade.price_per_unit * UNITS_PER_TONNE / 10**decimals

    def oracle_float(self, price: int) -> float:
        decimals = self.decimals.get(self.oracle_token.lower(), 0) if self.oracle_token else 0
        return price / 10**decimals

    def oracle_text(self, price: int) -> str:
        decimals = self.decimals.get(self.oracle_token.lower()) if self.oracle_token else None
        return _money(price, decimals)

    def oracle_prices(self, token_id: int) -> list[tuple[int, int]]:
        """(timestamp, price per tonne) of the oracle's posts for the class of ``token_id``, up to the end."""
        classes = self.ledger.classes
        return [
            (w.timestamp, p)
            for c, p, w in self.ledger.prices
            if c == classes.get((w.chain_id, token_id), token_id) and w.timestamp < self.as_of
        ]

    def markets(self) -> list[tuple[int, list[Trade]]]:
        """Per id traded (or priced) in the period: its deals, the most traded first."""
        deals: dict[int, list[Trade]] = defaultdict(list)
        for trade in self.deals:
            deals[trade.token_id].append(trade)
        priced = {token_id for (_, token_id) in self.ids if self.oracle_prices(token_id)}
        ids = set(deals) | priced
        return sorted(((i, deals.get(i, [])) for i in ids), key=lambda m: (-sum(t.units for t in m[1]), m[0]))


# ------------------------------------------------------------------------------------------------ rendering

STYLE = """
body{font-family:"DejaVu Sans",system-ui,sans-serif;font-size:13px;color:#1a1a1a;margin:0;background:#f6f6f4}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px;background:#fff}
h1{font-size:24px;margin:8px 0 2px}h2{font-size:18px;margin:34px 0 8px;border-bottom:2px solid #0072B2;
padding-bottom:3px}h3{font-size:14px;margin:20px 0 6px}
.sub{color:#555;margin:0 0 14px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:12px}
th,td{border-bottom:1px solid #e2e2e2;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:600;border-top:2px solid #999}
code{font-family:"DejaVu Sans Mono",monospace;font-size:11px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:18px}.card span{color:#555;font-size:11px}
.chart{display:block;max-width:100%;margin:4px 0 12px}
.note{color:#555;font-style:italic}
.sev{border-radius:3px;padding:1px 6px;color:#fff;font-size:11px;font-weight:600}
.sev-critical{background:#c0392b}.sev-warning{background:#d68910}.sev-info{background:#5d6d7e}
.evidence{margin:0;padding-left:16px}.wrap{max-width:360px;overflow-wrap:anywhere}
details summary{cursor:pointer;color:#0072B2}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, id: str, numeric: Iterable[int] = (), total=None
) -> Html:
    numeric = set(numeric)

    def cells(row: Sequence[Any], tag: str = "td") -> Html:
        return _join(_tag(tag, c, class_="n" if i in numeric else None) for i, c in enumerate(row))

    head = _tag("tr", cells(headers, "th"))
    body = [_tag("tr", cells(row)) for row in rows]
    if total is not None:
        body.append(_tag("tr", cells(total), class_="total"))
    return _tag("table", _tag("thead", head), _tag("tbody", *body), id=id)


def _cut(rows: list, limit: int, what: str) -> tuple[list, Html]:
    if len(rows) <= limit:
        return rows, Html("")
    return rows[:limit], _tag("p", f"Showing {limit:,} of {len(rows):,} {what}.", class_="note")


def _none(text: str) -> Html:
    return _tag("p", text, class_="note")


def _header(report: Report, title: str) -> Html:
    ledger = report.ledger
    period = (
        f"{_utc(report.since) if report.since is not None else 'the first event'} to "
        f"{_utc(report.until) if report.until is not None else 'the last event'}"
    )
    chains = []
    for source in report.sources:
        chain_id = source["chain_id"]
        blocks = ledger.blocks.get(chain_id)
        contracts = sorted(source.get("contracts", {}).items(), key=lambda item: item[1])
        chains.append(
            (
                chain_id,
                _mono(source.get("genesis_hash", "?"), short=True),
                f"{blocks[0]:,} to {blocks[1]:,}" if blocks else "no events",
                _tag(
                    "details",
                    _tag("summary", f"{len(contracts)} contracts"),
                    _join(_tag("div", name, " ", _mono(address)) for address, name in contracts),
                ),
            )
        )
    for chain_id, blocks in sorted(ledger.blocks.items()):
        if all(c[0] != chain_id for c in chains):
            chains.append((chain_id, "-", f"{blocks[0]:,} to {blocks[1]:,}", "-"))
    by_severity = Counter(a.severity for a in report.alerts)
    issued = sum(layers.last()["issued"] for layers in report.ids.values())
    retired = sum(c.units for c in report.certificates)
    cards = [
        (f"{ledger.events:,}", "events folded"),
        (f"{len(report.projects):,}", "projects"),
        (f"{len(report.ids):,}", "batches"),
        (_tonnes(issued), "t issued (end of period)"),
        (_tonnes(retired), f"t retired in the period ({len(report.certificates):,} certificates)"),
        (f"{len(report.deals):,}", "deals in the period"),
        (
            f"{len(report.alerts):,}",
            "alerts: " + ", ".join(f"{by_severity.get(s, 0)} {s}" for s in reversed(SEVERITIES)),
        ),
    ]
    return _join(
        [
            _tag("h1", title),
            _tag(
                "p",
                f"Period: {period}. Written {_utc(report.generated)}; stocks as of {_utc(report.as_of)}.",
                class_="sub",
            ),
            _tag("div", *(_tag("div", _tag("b", v), _tag("span", k), class_="card") for v, k in cards), class_="cards"),
            _table(("chain", "block 0", "blocks folded", "contracts followed"), chains, id="chains")
            if chains
            else _none("No chain is followed by this index yet."),
            _none("The index holds no events: nothing to chart.") if ledger.events == 0 else "",
        ]
    )


def _stack(axis, edges: Sequence[int], layers: Layers, *, kinds: Sequence[str], issued: bool) -> None:
    """The ``kinds`` of ``layers`` stacked (a step per bucket: the level at its end), and the issued line."""
    x = _dates(edges)
    ys, labels, colours = [], [], []
    for kind, label, colour in LAYERS:
        values = layers.layers[kind]
        if kind in kinds and any(values):
            ys.append([v / UNITS_PER_TONNE for v in (*values[1:], values[-1])])
            labels.append(label)
            colours.append(colour)
    if ys:
        axis.stackplot(x, ys, labels=labels, colors=colours, step="post", alpha=0.9, linewidth=0)
    if issued:
        line = [v / UNITS_PER_TONNE for v in (*layers.issued[1:], layers.issued[-1])]
        axis.step(x, line, where="post", color="#1a1a1a", linewidth=1, linestyle="--", label="issued")
    axis.set_xlim(x[0], x[-1])
    axis.set_ylim(bottom=0)
    _tonnes_axis(axis)
    _time_axis(axis)


def _project_chart(title: str, edges: Sequence[int], layers: Layers) -> Html:
    """Two panels: the whole supply stacked, and below it, enlarged, what is not in free circulation (pledged,
    exchange, bridged, retired, cancelled), which the free layer would otherwise flatten."""
    plt = _pyplot()
    held_apart = [kind for kind, _, _ in LAYERS if kind != "free" and any(layers.layers[kind])]
    if held_apart:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(9.6, 3.9), sharex=True, height_ratios=[2, 1])
    else:
        figure, top = plt.subplots(figsize=(9.6, 2.6))
        bottom = None
    _margins(figure, left=1.15, right=1.7, bottom=0.55, hspace=0.12)
    _stack(top, edges, layers, kinds=[kind for kind, _, _ in LAYERS], issued=True)
    top.set_title(_label(title, 80), loc="left", fontsize=10)
    top.set_ylabel("t")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    if bottom is not None:
        _stack(bottom, edges, layers, kinds=held_apart, issued=False)
        bottom.set_ylabel("t, not free")
    return _png(figure)


def _supply_section(report: Report) -> Html:
    ledger = report.ledger
    parts: list[Any] = [_tag("h2", "Supply")]
    if not report.ids:
        return _join([*parts, _none("No batch and no issuance in the index.")])
    parts.append(
        _tag(
            "p",
            "Stocks at the end of the period, in tonnes. Free circulation is what accounts other than the Tonne "
            "escrow contracts hold; pledged, on the exchange and bridged out are held by the credit facility or "
            "the bilateral pledge, the exchange, and the home bridge. Issued = free + pledged + exchange + bridged "
            "+ retired + cancelled on a home chain.",
            class_="note",
        )
    )
    headers = (
        "chain",
        "project / batch",
        "issuance reference",
        "cap",
        "issued",
        "free",
        "pledged",
        "exchange",
        "bridged",
        "retired",
        "cancelled",
    )
    kinds = ("issued", "free", "pledged", "exchange", "bridged", "retired", "cancelled")
    rows, grand = [], dict.fromkeys(kinds, 0)
    for key in sorted(report.projects):
        status = ledger.projects.get(key, {}).get("status")
        status_text = f" ({STATUS_NAMES[status]})" if status is not None and status < len(STATUS_NAMES) else ""
        total = report.project_layers(key).last()
        rows.append(
            (
                key[0],
                _tag("b", report.project_name(key) + status_text),
                "",
                "",
                *(_tag("b", _tonnes(total[k])) for k in kinds),
            )
        )
        for chain_id, token_id in report.projects[key]:
            last = report.ids[(chain_id, token_id)].last()
            batch = ledger.batches.get((chain_id, token_id))
            cap = ledger.supply[(chain_id, token_id)].cap if (chain_id, token_id) in ledger.supply else None
            rows.append(
                (
                    chain_id,
                    Html("&#160;&#160;") + _tag("span", _id_name(token_id), title=hex(token_id)),
                    batch.issuance_reference if batch else "",
                    _tonnes(cap) if cap is not None else "",
                    *(_tonnes(last[k]) for k in kinds),
                )
            )
            for k in kinds:
                grand[k] += last[k]
    parts.append(
        _table(
            headers,
            rows,
            id="supply",
            numeric=range(3, 11),
            total=("", "all", "", "", *(_tonnes(grand[k]) for k in kinds)),
        )
    )
    parts.append(_tag("h3", "Per project, over time"))
    projects = sorted(report.projects, key=lambda k: -report.project_layers(k).last()["issued"])
    shown, cut = _cut(projects, report.limits.charts, "projects charted (the largest by issued)")
    for key in shown:
        parts.append(
            _project_chart(f"chain {key[0]} · {report.project_name(key)}", report.edges, report.project_layers(key))
        )
    parts.append(cut)
    parts.append(_tag("h3", "Per batch, over time"))
    batches = sorted(report.ids, key=lambda k: (-report.ids[k].last()["issued"], k))
    batches = [k for k in batches if any(report.ids[k].issued) or any(any(v) for v in report.ids[k].layers.values())]
    shown, cut = _cut(batches, report.limits.batch_charts, "batches charted (the largest by issued)")
    if shown:
        plt = _pyplot()
        columns = 3
        lines = -(-len(shown) // columns)
        figure, axes = plt.subplots(lines, columns, figsize=(11.5, 0.5 + 2.0 * lines), squeeze=False, sharex=True)
        _margins(figure, left=0.75, top=0.75, bottom=0.5, hspace=0.3, wspace=0.28)
        for axis, key in zip(axes.flat, shown, strict=False):
            _stack(axis, report.edges, report.ids[key], kinds=[kind for kind, _, _ in LAYERS], issued=True)
            axis.set_title(f"{_id_name(key[1])} (chain {key[0]})", loc="left", fontsize=8)
        for axis in list(axes.flat)[len(shown) :]:
            axis.set_visible(False)
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for _, _, c in LAYERS]
        figure.legend(
            handles,
            [label for _, label, _ in LAYERS],
            loc="upper center",
            ncol=len(LAYERS),
            frameon=False,
        )
        parts.append(_png(figure))
    else:
        parts.append(_none("No batch has supply yet."))
    parts.append(cut)
    return _join(parts)


def _bars(title: str, labels: Sequence[str], values: Sequence[int], colour: str) -> Html:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9.6, 0.9 + 0.28 * len(labels)))
    _margins(figure, left=2.4, right=0.4, bottom=0.55)
    y = range(len(labels))
    axis.barh(list(y), [v / UNITS_PER_TONNE for v in values], color=colour)
    axis.set_yticks(list(y), [_label(label) for label in labels])
    axis.invert_yaxis()
    axis.set_xlabel("t")
    from matplotlib.ticker import FuncFormatter

    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.grid(axis="y", visible=False)
    axis.set_title(title, loc="left", fontsize=10)
    return _png(figure)


def _retirement_section(report: Report) -> Html:
    limits = report.limits
    parts: list[Any] = [_tag("h2", "Retirements")]
    if not report.certificates:
        return _join([*parts, _none("No retirement in the period.")])
    total = sum(c.units for c in report.certificates)
    beneficiaries = report.by_beneficiary()
    parts.append(_tag("h3", f"By beneficiary ({len(beneficiaries):,})"))
    top = beneficiaries[: limits.bars]
    parts.append(
        _bars(
            f"Tonnes retired, the {len(top)} largest beneficiaries",
            [r[1][0] for r in top],
            [r[3] for r in top],
            "#009E73",
        )
    )
    shown, cut = _cut(beneficiaries, limits.rows, "beneficiaries (the largest)")
    rows = [
        (
            _mono(b),
            "; ".join(names[:3]) + (f" (+{len(names) - 3} more names)" if len(names) > 3 else ""),
            n,
            _tonnes(units),
        )
        for b, names, n, units in shown
    ]
    parts.append(
        _table(
            ("beneficiary", "names on the certificates", "certificates", "retired (t)"),
            rows,
            id="beneficiaries",
            numeric=(2, 3),
            total=("all", "", f"{len(report.certificates):,}", _tonnes(total)),
        )
    )
    parts.append(cut)
    jurisdictions = report.by_jurisdiction()
    parts.append(_tag("h3", f"By jurisdiction ({len(jurisdictions):,})"))
    top = jurisdictions[: limits.bars]
    parts.append(
        _bars(
            f"Tonnes retired, the {len(top)} largest jurisdictions",
            [r[0] or "(none)" for r in top],
            [r[3] for r in top],
            "#0072B2",
        )
    )
    shown, cut = _cut(jurisdictions, limits.rows, "jurisdictions (the largest)")
    parts.append(
        _table(
            ("jurisdiction", "certificates", "beneficiaries", "retired (t)"),
            [(j or "(none)", f"{n:,}", f"{b:,}", _tonnes(u)) for j, n, b, u in shown],
            id="jurisdictions",
            numeric=(1, 2, 3),
            total=("all", f"{len(report.certificates):,}", f"{len(beneficiaries):,}", _tonnes(total)),
        )
    )
    parts.append(cut)
    newest = list(reversed(report.certificates))
    shown, cut = _cut(newest, limits.rows, "certificates (the newest)")
    parts.append(_tag("h3", f"Certificates ({len(newest):,}, newest first)"))

    def credits(c: Certificate) -> Html:
        return _join(_tag("div", f"{_id_name(i)}: {_tonnes(a)} t") for i, a in zip(c.ids, c.amounts, strict=True))

    rows = [
        (
            f"{c.chain_id}/{c.certificate_id}",
            _utc(c.where.timestamp),
            _tag("span", c.beneficiary_name, class_="wrap"),
            _mono(c.beneficiary, short=True),
            c.jurisdiction,
            PURPOSE_NAMES[c.purpose] if c.purpose < len(PURPOSE_NAMES) else str(c.purpose),
            _tag("span", c.reason, class_="wrap"),
            credits(c),
            _tonnes(c.units),
            _mono(c.where.tx_hash, short=True),
        )
        for c in shown
    ]
    parts.append(
        _table(
            (
                "certificate",
                "time",
                "beneficiary name",
                "beneficiary",
                "jurisdiction",
                "purpose",
                "reason",
                "credits",
                "t",
                "tx",
            ),
            rows,
            id="certificates",
            numeric=(8,),
        )
    )
    parts.append(cut)
    return _join(parts)


def _compliance_section(report: Report) -> Html:
    parts: list[Any] = [_tag("h2", "Compliance")]
    periods = report.compliance()
    if not periods:
        return _join([*parts, _none("No compliance period opened.")])
    for period, lines in periods:
        passed = report.as_of > period.deadline
        parts.append(_tag("h3", f"Period {period.period_id}: {period.name} ({period.jurisdiction})"))
        parts.append(
            _tag(
                "p",
                f"Covers {_day(period.start)} to {_day(period.end)}; deadline {_utc(period.deadline)} "
                f"({'passed' if passed else 'not passed'} at {_utc(report.as_of)}).",
                class_="sub",
            )
        )
        counts = Counter(line.status for line in lines)
        parts.append(_tag("p", ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no entity"))
        shown, cut = _cut(lines, report.limits.rows, "entities (the largest shortfalls)")
        rows = [
            (
                _mono(x.entity),
                x.name,
                _tonnes(x.obligation),
                _tonnes(x.surrendered),
                _tonnes(max(x.shortfall, 0)),
                x.status,
                ", ".join(map(str, x.certificates)),
            )
            for x in shown
        ]
        obligation = sum(x.obligation for x in lines)
        surrendered = sum(x.surrendered for x in lines)
        shortfall = sum(max(x.shortfall, 0) for x in lines)
        parts.append(
            _table(
                ("entity", "name", "obligation (t)", "surrendered (t)", "short (t)", "status", "certificates"),
                rows,
                id=f"compliance-{period.period_id}",
                numeric=(2, 3, 4),
                total=(
                    "all",
                    f"{len(lines):,} entities",
                    _tonnes(obligation),
                    _tonnes(surrendered),
                    _tonnes(shortfall),
                    "",
                    "",
                ),
            )
        )
        parts.append(cut)
    return _join(parts)


def _price_chart(report: Report, token_id: int, deals: list[Trade], axis) -> None:
    if deals:
        x = _dates([t.where.timestamp for t in deals])
        volumes = [t.units / UNITS_PER_TONNE for t in deals]
        biggest = max(volumes) or 1
        axis.scatter(
            x,
            [report.price_float(t) for t in deals],
            s=[8 + 60 * v / biggest for v in volumes],
            color="#0072B2",
            alpha=0.6,
            label="deals (size: tonnes)",
            linewidths=0,
        )
    oracle = report.oracle_prices(token_id)
    if oracle:
        times = [t for t, _ in oracle] + [max(report.edges[-1], oracle[-1][0])]
        prices = [report.oracle_float(p) for _, p in oracle]
        axis.step(
            _dates(times),
            [*prices, prices[-1]],
            where="post",
            color="#D55E00",
            linewidth=1.2,
            label="oracle (its class)",
        )
    axis.set_title(f"{_id_name(token_id)}", loc="left", fontsize=9)
    start, end = report.edges[0], report.edges[-1]
    pad = (end - start) * 0.02
    axis.set_xlim(*_dates([int(start - pad), int(end + pad)]))
    axis.margins(y=0.15)
    _time_axis(axis)


def _market_section(report: Report) -> Html:
    limits = report.limits
    parts: list[Any] = [_tag("h2", "Trades and prices")]
    markets = report.markets()
    if not markets:
        return _join([*parts, _none("No deal and no oracle price in the period.")])
    tokens = sorted({(t.where.chain_id, t.payment_token) for t in report.deals})
    units_note = "; ".join(
        f"{report.token_name(c, a)}: "
        + (
            f"{report.decimals[a.lower()]} decimals"
            if a.lower() in report.decimals
            else "base units (decimals unknown)"
        )
        for c, a in tokens
    )
    parts.append(
        _tag(
            "p",
            "Prices per tonne in the payment token"
            + (f" ({units_note})" if units_note else "")
            + "; a match's two fills are one deal. The oracle's prices are "
            + ("in its loan token." if report.oracle_token else "in its loan token's base units."),
            class_="note",
        )
    )
    rows = []
    for token_id, deals in markets:
        units = sum(t.units for t in deals)
        oracle = report.oracle_prices(token_id)
        if deals:
            prices = [t.price_per_unit for t in deals]
            decimals = report.decimals.get(deals[0].payment_token.lower())
            # the average per tonne, rounded half up to the token's cent (or base unit)
            scale = 10 ** max((decimals or 0) - 2, 0)
            cost = sum(t.price_per_unit * t.units for t in deals) * UNITS_PER_TONNE
            average = (2 * cost + units * scale) // (2 * units * scale) * scale if units else 0
            money = [_money(average, decimals)]
            money += [_money(p * UNITS_PER_TONNE, decimals) for p in (min(prices), max(prices), prices[-1])]
        else:
            money = ["", "", "", ""]
        rows.append(
            (
                _id_name(token_id),
                f"{len(deals):,}",
                _tonnes(units),
                *money,
                report.oracle_text(oracle[-1][1]) if oracle else "",
            )
        )
    parts.append(
        _table(
            ("id", "deals", "traded (t)", "average price", "lowest", "highest", "last", "oracle (last)"),
            rows,
            id="markets",
            numeric=range(1, 8),
        )
    )
    shown, cut = _cut(markets, limits.charts, "ids charted (the most traded)")
    plt = _pyplot()
    columns = 2
    lines = -(-len(shown) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(11.5, 0.5 + 2.2 * lines), squeeze=False, sharex=True)
    _margins(figure, left=0.75, top=0.75, bottom=0.5, hspace=0.3, wspace=0.18)
    for axis, (token_id, deals) in zip(axes.flat, shown, strict=False):
        _price_chart(report, token_id, deals, axis)
    for axis in list(axes.flat)[len(shown) :]:
        axis.set_visible(False)
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color="#0072B2", alpha=0.6, label="deals (size: tonnes)"),
        plt.Line2D([], [], color="#D55E00", label="oracle price of the id's class"),
    ]
    figure.legend(handles=handles, loc="upper center", ncol=2, frameon=False)
    parts.append(_png(figure))
    parts.append(cut)
    if not report.deals:
        return _join([*parts, _none("No deal in the period.")])
    newest = list(reversed(report.deals))
    shown, cut = _cut(newest, limits.rows, "deals (the newest)")
    parts.append(_tag("h3", f"Deals ({len(newest):,}, newest first)"))
    rows = [
        (
            _utc(t.where.timestamp),
            _id_name(t.token_id),
            _mono(t.seller, short=True),
            _mono(t.buyer, short=True),
            _tonnes(t.units),
            report.price(t),
            report.token_name(t.where.chain_id, t.payment_token),
            _money(t.fee, report.decimals.get(t.payment_token.lower())),
            _mono(t.where.tx_hash, short=True),
        )
        for t in shown
    ]
    parts.append(
        _table(
            ("time", "id", "seller", "buyer", "t", "price per t", "paid in", "fee", "tx"),
            rows,
            id="deals",
            numeric=(4, 5, 7),
        )
    )
    parts.append(cut)
    return _join(parts)


def _evidence(evidence: Mapping[str, Any]) -> Html:
    items = []
    for key, value in evidence.items():
        if key == "txs" and isinstance(value, list | tuple):
            items.append(_tag("li", "txs: ", *(_tag("div", _mono(str(tx))) for tx in value)))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
            items.append(_tag("li", f"{key}: ", _tag("code", text)))
    return _tag("ul", *items, class_="evidence") if items else Html("")


def _alert_section(report: Report) -> Html:
    parts: list[Any] = [_tag("h2", f"Alerts ({len(report.alerts):,})")]
    outside = len(report.all_alerts) - len(report.alerts)
    if outside:
        parts.append(_none(f"{outside:,} alerts fall outside the period and are not listed."))
    if not report.alerts:
        return _join([*parts, _none("No alert in the period.")])
    counts = Counter((a.rule, a.severity) for a in report.alerts)
    rules = sorted({rule for rule, _ in counts})
    order = list(reversed(SEVERITIES))
    parts.append(
        _table(
            ("rule", *order, "all"),
            [
                (rule, *(counts.get((rule, s), 0) for s in order), sum(counts.get((rule, s), 0) for s in order))
                for rule in rules
            ],
            id="alert-counts",
            numeric=range(1, len(order) + 2),
        )
    )
    rows = [
        (
            _tag("span", a.severity, class_=f"sev sev-{a.severity}"),
            a.rule,
            _utc(a.at),
            a.chain_id,
            _tag("div", a.message, class_="wrap"),
            _evidence(a.evidence),
            _tag("code", a.key),
        )
        for a in report.alerts
    ]
    parts.append(_table(("severity", "rule", "time", "chain", "message", "evidence", "key"), rows, id="alerts"))
    return _join(parts)


def render(report: Report, title: str) -> str:
    body = _join(
        [
            _header(report, title),
            _supply_section(report),
            _retirement_section(report),
            _compliance_section(report),
            _market_section(report),
            _alert_section(report),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"/>'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"{_tag('title', title)}<style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def write_report(
    ledger: Ledger,
    alerts: Sequence[Alert],
    path: Path | str,
    *,
    sources: Any = (),
    since: int | datetime | None = None,
    until: int | datetime | None = None,
    title: str = "Tonne supervision report",
    decimals: Mapping[str, int] | None = None,
    oracle_token: str | None = None,
    generated: int | None = None,
    limits: Limits | None = None,
    as_of: int | None = None,
) -> Path:
    """Write the report of ``ledger`` and ``alerts`` for ``[since, until)`` (UTC timestamps or aware datetimes;
    None: open) to ``path``; returns the path.

    ``sources``: an ``IndexStore`` or its ``sources()`` rows (the chains and contracts followed, for the header);
    ``decimals``: payment token address -> its decimals (prices are shown in base units otherwise);
    ``oracle_token``: the address of the token the oracle prices in (the credit facility's loan token);
    ``generated``: the time written (default: now); ``as_of``: without ``until``, the moment statuses are judged at
    (the chain's time at the index's newest block; default: ``generated``)."""
    import time

    if hasattr(sources, "sources"):
        sources = sources.sources()
    report = Report(
        ledger,
        alerts,
        sources=list(sources),
        since=_timestamp(since, "since"),
        until=_timestamp(until, "until"),
        generated=int(time.time()) if generated is None else generated,
        decimals=decimals,
        oracle_token=oracle_token,
        limits=limits,
        as_of=as_of,
    )
    text = render(report, title)
    path = Path(path)
    # A temporary file of this run's own, renamed over the report: a reader never sees half a report, and two runs
    # writing one --out at once each rename a whole one (the last wins) instead of writing into each other's file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
