"""Certificate documents for people: an SVG (one page, for print or a web page) and a self-contained HTML document
(the SVG, then every field in full, and how to verify it on-chain).

Every text that came from a user (beneficiary name, reason, jurisdiction, project and batch fields) is cleaned and
escaped: characters XML cannot carry and bidirectional controls are dropped, then ``& < > " '`` are escaped, so a
name cannot inject markup, script or styles. The HTML also forbids scripts and remote loads with a
Content-Security-Policy.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from tonne.certificate.data import CertificateData, CreditLine, clean, day, utc
from tonne.core.units import format_tonnes

WIDTH = 1100
MARGIN = 70
INK = "#1d3b26"
ACCENT = "#2f6b3a"
MUTED = "#5b6b60"
PAPER = "#fbfaf4"
SERIF = "Georgia, 'DejaVu Serif', 'Times New Roman', serif"
SANS = "'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif"
MONO = "'DejaVu Sans Mono', Menlo, Consolas, monospace"


def esc(text: object) -> str:
    """Cleaned and escaped for XML and HTML text and attribute values."""
    return html.escape(clean(str(text)), quote=True)


def _width(text: str, size: float, *, bold: bool = False, mono: bool = False) -> float:
    """A conservative estimate of the rendered width of ``text`` at ``size`` px (no font metrics at hand)."""
    per_char = 0.6 if mono else (0.58 if bold else 0.54)
    wide = sum(1 for c in text if ord(c) > 0x2E80)  # CJK and the like take a full em
    return size * (per_char * (len(text) - wide) + wide)


def fit(text: str, size: float, width: float, **style: bool) -> str:
    """``text`` cut with an ellipsis so that it fits ``width``."""
    text = clean(text)
    if _width(text, size, **style) <= width:
        return text
    while text and _width(text + "…", size, **style) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def wrap(text: str, size: float, width: float, max_lines: int, **style: bool) -> list[str]:
    """``text`` broken into at most ``max_lines`` lines of ``width``; the last one cut with an ellipsis if needed."""
    words, lines, current = clean(text).split(" "), [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if _width(candidate, size, **style) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    lines = [fit(line, size, width, **style) for line in lines]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = fit(lines[-1] + " …", size, width, **style) if not lines[-1].endswith("…") else lines[-1]
        if not lines[-1].endswith("…"):
            lines[-1] = fit(lines[-1] + "…" * 40, size, width, **style)
    return lines or [""]


@dataclass
class _Svg:
    parts: list[str] = field(default_factory=list)

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float,
        family: str = SANS,
        fill: str = INK,
        weight: str = "normal",
        anchor: str = "start",
        spacing: float = 0,
        style: str = "normal",
    ) -> None:
        extra = f' letter-spacing="{spacing}"' if spacing else ""
        extra += ' font-style="italic"' if style == "italic" else ""
        self.parts.append(
            f'<text x="{x:g}" y="{y:g}" font-family="{family}" font-size="{size:g}" fill="{fill}" '
            f'font-weight="{weight}" text-anchor="{anchor}"{extra}>{esc(content)}</text>'
        )

    def raw(self, element: str) -> None:
        self.parts.append(element)


def _tonnes(units: int) -> str:
    return format_tonnes(units).removesuffix(" t")


def render_svg(data: CertificateData) -> str:
    """The certificate as one SVG page, 1100 px wide; it grows with the number of batches."""
    svg = _Svg()
    inner = WIDTH - 2 * MARGIN
    center = WIDTH / 2
    y = 92
    svg.text(center, y, "TONNE · TOKENIZED CARBON CREDITS", size=13, fill=ACCENT, anchor="middle", spacing=4)
    y += 52
    svg.text(center, y, "Certificate of Retirement", size=42, family=SERIF, anchor="middle")
    y += 30
    svg.text(
        center,
        y,
        f"No. {data.certificate_id} · {data.purpose} retirement · {utc(data.timestamp)}",
        size=15,
        fill=MUTED,
        anchor="middle",
    )
    y += 36
    svg.raw(f'<line x1="{center - 60}" y1="{y}" x2="{center + 60}" y2="{y}" stroke="{ACCENT}" stroke-width="1.5"/>')
    y += 68
    svg.text(center, y, f"{_tonnes(data.total_units)} t CO₂e", size=58, family=SERIF, fill=ACCENT, anchor="middle")
    y += 34
    svg.text(center, y, "permanently retired on behalf of", size=16, fill=MUTED, anchor="middle", style="italic")
    for line in wrap(data.beneficiary_name, 30, inner - 80, 2, bold=True):
        y += 40
        svg.text(center, y, line, size=30, family=SERIF, weight="bold", anchor="middle")
    y += 24
    svg.text(center, y, data.beneficiary, size=13, family=MONO, fill=MUTED, anchor="middle")

    # --- what the retirement says of itself
    y += 44
    label_x, value_x = MARGIN + 10, MARGIN + 190
    facts: list[tuple[str, list[str]]] = [
        ("Reason", wrap(data.reason, 16, inner - 200, 3)),
        ("Jurisdiction", [data.jurisdiction]),
        ("Consumption period", [f"{day(data.period_start)} to {day(data.period_end)}"]),
        ("Retired by", [data.retiring_account]),
    ]
    for label, values in facts:
        svg.text(label_x, y, label.upper(), size=11, fill=MUTED, spacing=1.5, weight="bold")
        for value in values:
            mono = value.startswith("0x")
            svg.text(value_x, y, value, size=14 if mono else 16, family=MONO if mono else SANS)
            y += 24
        y += 4

    # --- the credits
    y += 18
    svg.text(label_x, y, "CREDITS RETIRED", size=11, fill=MUTED, spacing=1.5, weight="bold")
    y += 10
    svg.raw(f'<line x1="{MARGIN}" y1="{y}" x2="{WIDTH - MARGIN}" y2="{y}" stroke="{ACCENT}" stroke-width="1"/>')
    columns = (MARGIN + 10, MARGIN + 420, MARGIN + 650, WIDTH - MARGIN - 10)
    y += 22
    titles = ("Project", "Batch", "Vintage and serial range", "Retired")
    for x, title, anchor in zip(columns, titles, ("start", "start", "start", "end"), strict=True):
        svg.text(x, y, title, size=12, fill=MUTED, weight="bold", anchor=anchor)
    y += 8
    for line in data.lines:
        y = _credit_row(svg, line, columns, y)
    y += 6
    svg.raw(f'<line x1="{MARGIN}" y1="{y}" x2="{WIDTH - MARGIN}" y2="{y}" stroke="{ACCENT}" stroke-width="1"/>')
    y += 22
    note = (
        "Credits of a batch are fungible on-chain: a retirement is a share of its batch's serial range, "
        "not particular serial numbers."
    )
    svg.text(label_x, y, note, size=12, fill=MUTED, style="italic")

    # --- provenance
    y += 42
    svg.text(label_x, y, "ON-CHAIN RECORD", size=11, fill=MUTED, spacing=1.5, weight="bold")
    provenance = [
        f"chain {data.chain_id} · contract {data.retirement_contract} · certificate({data.certificate_id})",
        f"transaction {data.tx_hash}",
        f"block {data.block_number:,} · {utc(data.timestamp)} · retirement reference {_short_ref(data)}",
    ]
    for text in provenance:
        y += 20
        svg.text(label_x, y, fit(text, 12, inner - 20, mono=True), size=12, family=MONO, fill=INK)
    y += 44
    height = y
    seal_x, seal_y = WIDTH - MARGIN - 62, 132
    seal = (
        f'<g transform="translate({seal_x},{seal_y})"><circle r="50" fill="none" stroke="{ACCENT}" stroke-width="2"/>'
        f'<circle r="43" fill="none" stroke="{ACCENT}" stroke-width="0.8"/>'
        f'<text y="-8" font-family="{SANS}" font-size="12" font-weight="bold" fill="{ACCENT}" text-anchor="middle" '
        f'letter-spacing="2">RETIRED</text>'
        f'<text y="8" font-family="{SANS}" font-size="9" fill="{ACCENT}" text-anchor="middle" letter-spacing="1.5">'
        f"LOCKED</text>"
        f'<text y="25" font-family="{SERIF}" font-size="11" fill="{ACCENT}" text-anchor="middle">'
        f"No. {data.certificate_id}</text></g>"
    )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="Retirement certificate {data.certificate_id}: {esc(_tonnes(data.total_units))} t CO2e for '
        f'{esc(data.beneficiary_name)}">'
        f"<title>Retirement certificate #{data.certificate_id}</title>"
        f'<rect width="{WIDTH}" height="{height}" fill="{PAPER}"/>'
        f'<rect x="18" y="18" width="{WIDTH - 36}" height="{height - 36}" fill="none" stroke="{INK}" '
        'stroke-width="3"/>'
        f'<rect x="28" y="28" width="{WIDTH - 56}" height="{height - 56}" fill="none" stroke="{ACCENT}" '
        'stroke-width="1"/>'
    )
    return head + seal + "".join(svg.parts) + "</svg>\n"


def _credit_row(svg: _Svg, line: CreditLine, columns: Sequence[float], y: float) -> float:
    p = line.project
    y += 26
    svg.text(columns[0], y, fit(p.name, 15, 400, bold=True), size=15, weight="bold")
    svg.text(columns[1], y, line.batch_label, size=14)
    svg.text(columns[2], y, f"{day(line.vintage_start)} to {day(line.vintage_end)}", size=14)
    svg.text(columns[3], y, f"{_tonnes(line.units)} t", size=15, weight="bold", anchor="end")
    y += 19
    details = " · ".join(x for x in (f"{p.standard} {p.external_id}", p.country, p.methodology, p.project_type) if x)
    svg.text(columns[0], y, fit(details, 12, 400), size=12, fill=MUTED)
    svg.text(columns[1], y, fit(line.issuance_reference, 12, 220), size=12, fill=MUTED)
    serials = f"serials {line.serial_first:,} to {line.serial_last:,}"
    svg.text(columns[2], y, fit(serials, 12, 250), size=12, fill=MUTED)
    svg.text(columns[3], y, line.share_text(), size=12, fill=MUTED, anchor="end")
    return y + 6


def _short_ref(data: CertificateData) -> str:
    if int(data.retirement_ref, 16) == 0:
        return "none"
    return data.retirement_ref[:10] + "…" + data.retirement_ref[-8:]


# ---------------------------------------------------------------------------------------------------- HTML

_CSS = """
body { margin: 0; background: #eef1ec; color: #1d3b26; font: 15px/1.5 'Helvetica Neue', Arial, 'DejaVu Sans',
  sans-serif; }
main { max-width: 1100px; margin: 24px auto; }
.sheet svg { display: block; width: 100%; height: auto; box-shadow: 0 2px 12px rgba(0,0,0,.12); }
section { background: #fff; margin: 24px 0; padding: 8px 28px 20px; border-radius: 4px; }
h2 { font: 600 13px/1 'Helvetica Neue', Arial, sans-serif; letter-spacing: .12em; text-transform: uppercase;
  color: #2f6b3a; margin: 20px 0 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px 6px 0; border-bottom: 1px solid #e3e8e1; }
th { color: #5b6b60; font-weight: 600; white-space: nowrap; width: 14em; }
thead th { width: auto; }
td.num { text-align: right; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
small code { font-size: 11px; }
code { font: 13px 'DejaVu Sans Mono', Menlo, Consolas, monospace; word-break: break-all; }
p.note { color: #5b6b60; font-size: 13px; }
@media print {
  @page { size: A4 landscape; margin: 10mm; }
  body { background: #fff; }
  main { margin: 0; max-width: none; }
  section { break-inside: avoid; padding: 0; }
  .sheet svg { box-shadow: none; }
  .sheet { break-after: page; }
}
"""


def render_html(data: CertificateData, svg: str | None = None) -> str:
    """A self-contained HTML document: the SVG certificate, then every field in full and how to verify it."""
    svg = svg if svg is not None else render_svg(data)
    facts = [
        ("Certificate", f"#{data.certificate_id} ({data.purpose.lower()} retirement)"),
        ("Amount", f"{_tonnes(data.total_units)} t CO2e ({data.total_units:,} kg)"),
        ("Beneficiary", data.beneficiary_name),
        ("Beneficiary account", _code(data.beneficiary)),
        ("Reason", data.reason),
        ("Jurisdiction", data.jurisdiction),
        ("Consumption period", f"{day(data.period_start)} to {day(data.period_end)}"),
        ("Retired by", _code(data.retiring_account)),
        ("Retired at", utc(data.timestamp)),
    ]
    rows = "".join(
        "<tr>"
        f"<td>{esc(line.project.name)}<br><small>{esc(line.project.standard)} {esc(line.project.external_id)} · "
        f"{esc(line.project.country)}{' · ' + esc(line.project.region) if line.project.region else ''} · "
        f"{esc(line.project.methodology)} · {esc(line.project.project_type)}</small></td>"
        f"<td>{esc(line.batch_label)}<br><small><code>{line.token_id}</code></small><br>"
        f"<small>{esc(line.issuance_reference)}</small></td>"
        f'<td class="nowrap">{esc(day(line.vintage_start))} to<br>{esc(day(line.vintage_end))}</td>'
        f'<td class="nowrap">{line.serial_first:,} to {line.serial_last:,}<br>'
        f"<small>{esc(format_tonnes(line.batch_units))}"
        "</small></td>"
        f'<td class="num">{esc(format_tonnes(line.units))}</td>'
        f'<td class="num">{esc(line.share_text())}</td>'
        "</tr>"
        for line in data.lines
    )
    record = [
        ("Chain id", str(data.chain_id)),
        ("Retirement contract", _code(data.retirement_contract)),
        ("Credit token", _code(data.credit_contract)),
        ("Registry", _code(data.registry_contract)),
        ("Transaction", _code(data.tx_hash)),
        ("Block", f"{data.block_number:,} ({utc(data.timestamp)})"),
        ("Retirement reference", _code(data.retirement_ref)),
    ]
    title = f"Retirement certificate #{data.certificate_id}: {_tonnes(data.total_units)} t CO2e"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<div class="sheet">{svg}</div>'
        f"<section><h2>Retirement</h2><table>{_pairs(facts)}</table></section>"
        "<section><h2>Credits retired</h2><table><thead><tr><th>Project</th><th>Batch (token id)</th>"
        "<th>Vintage</th><th>Serial range</th><th>Retired</th><th>Share of batch</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        '<p class="note">Credits of one batch are fungible on-chain: the token does not assign serial numbers to '
        "units, so this retirement is stated as a share of its batch's serial range, not as particular serials."
        "</p></section>"
        f"<section><h2>On-chain record</h2><table>{_pairs(record)}</table>"
        '<p class="note">Everything on this page was read from the chain: the <code>RetirementRecorded</code> event '
        f"of certificate {data.certificate_id} in the transaction above, <code>certificate({data.certificate_id})"
        "</code> on the retirement contract, and the registry's <code>project</code> and <code>batch</code> views. "
        "The certificate is a locked (ERC-5192), non-transferable ERC-721 token owned by the beneficiary account."
        "</p></section>"
        "</main></body></html>\n"
    )


class _Code(str):
    """Marks a value shown as code (already escaped when rendered)."""


def _code(value: str) -> _Code:
    return _Code(value)


def _pairs(items: Sequence[tuple[str, str]]) -> str:
    out = []
    for label, value in items:
        shown = f"<code>{esc(value)}</code>" if isinstance(value, _Code) else esc(value)
        out.append(f"<tr><th>{esc(label)}</th><td>{shown}</td></tr>")
    return "".join(out)
