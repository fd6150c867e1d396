"""Certificate documents without a chain: every required field is in the SVG and in the HTML, user text cannot
inject markup, long texts are wrapped or cut (in the SVG) and kept whole (in the HTML), and files are written."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from tonne.certificate import CertificateData, CreditLine, ProjectFacts, clean, render_html, render_svg, write_documents

SVG_NS = "{http://www.w3.org/2000/svg}"
KASIGAU = ProjectFacts(1, "VCS", "VCS-1748", "Kasigau Corridor REDD+", "VM0009", "REDD+", "KE", "Taita-Taveta")
ASHANTI = ProjectFacts(2, "GS", "GS-5678", "Efficient Cookstoves Ashanti", "GS-TPDDTEC", "Cookstoves", "GH", "Ashanti")
LINE_1 = CreditLine((1 << 64) | 2, 12_500, KASIGAU, 50_001, 120_000, 1609459200, 1640995199, "VCS-VCU-1748-2021")
LINE_2 = CreditLine((2 << 64) | 1, 3_000_250, ASHANTI, 1, 20_000, 1640995200, 1672531199, "GS-VER-5678-2022")
TX = "0x" + "5c" * 32
DATA = CertificateData(
    certificate_id=12,
    chain_id=31337,
    retirement_contract="0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    registry_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    credit_contract="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    tx_hash=TX,
    block_number=4321,
    timestamp=1763692560,  # 2025-11-21 02:36:00 UTC
    beneficiary="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    retiring_account="0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    beneficiary_name="Acme GmbH",
    reason="Scope 1 emissions FY2025",
    jurisdiction="DE-BY",
    period_start=1735689600,
    period_end=1767225599,
    purpose="Voluntary",
    retirement_ref="0x" + "12" * 32,
    lines=(LINE_1,),
)


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG_NS}svg"
    return ["".join(e.itertext()) for e in root.iter(f"{SVG_NS}text")]


class _Html(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse_html(document: str) -> _Html:
    parser = _Html()
    parser.feed(document)
    parser.close()
    return parser


REQUIRED_SVG = [
    "Certificate of Retirement",
    "No. 12 · Voluntary retirement · 2025-11-21 02:36:00 UTC",
    "12.5 t CO₂e",
    "Acme GmbH",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",  # beneficiary account
    "Scope 1 emissions FY2025",
    "DE-BY",
    "2025-01-01 to 2025-12-31",  # consumption period
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",  # retiring account
    "Kasigau Corridor REDD+",
    "VCS VCS-1748 · KE · VM0009 · REDD+",
    "P1/B2",
    "VCS-VCU-1748-2021",
    "2021-01-01 to 2021-12-31",  # vintage
    "serials 50,001 to 120,000",
    "0.0179 % of 70,000 t",  # the share of the batch: 12.5 of 70,000 t
    "chain 31337 · contract 0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0 · certificate(12)",
    f"transaction {TX}",
    "block 4,321 · 2025-11-21 02:36:00 UTC · retirement reference 0x12121212…12121212",
]


@pytest.mark.parametrize("expected", REQUIRED_SVG)
def test_render_svg__certificate__shows_every_required_field(expected):
    assert expected in svg_texts(render_svg(DATA))


def test_render_svg__serials__stated_as_a_share_of_the_batch_not_as_particular_serials():
    texts = svg_texts(render_svg(DATA))
    assert any("a share of its batch's serial range, not particular serial numbers" in t for t in texts)


def test_render_svg__several_batches__one_row_each_total_amount_and_a_taller_page():
    two = replace(DATA, lines=(LINE_1, LINE_2))
    texts = svg_texts(render_svg(two))
    assert "3,012.75 t CO₂e" in texts
    for expected in ("Efficient Cookstoves Ashanti", "P2/B1", "3,000.25 t", "15.00 % of 20,000 t", "12.5 t"):
        assert expected in texts
    height = int(ET.fromstring(render_svg(two)).get("height"))
    assert height > int(ET.fromstring(render_svg(DATA)).get("height"))


REQUIRED_HTML = [
    "#12 (voluntary retirement)",
    "12.5 t CO2e (12,500 kg)",
    "Acme GmbH",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "Scope 1 emissions FY2025",
    "DE-BY",
    "2025-01-01 to 2025-12-31",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "Kasigau Corridor REDD+",
    str((1 << 64) | 2),  # the full token id
    "VCS-VCU-1748-2021",
    "50,001 to 120,000",
    "0.0179 % of 70,000 t",
    "31337",
    "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    TX,
    "4,321 (2025-11-21 02:36:00 UTC)",
    "0x" + "12" * 32,
]


@pytest.mark.parametrize("expected", REQUIRED_HTML)
def test_render_html__document__shows_every_field_in_full(expected):
    assert expected in parse_html(render_html(DATA)).text


def test_render_html__document__embeds_the_svg_and_forbids_scripts_and_remote_loads():
    parsed = parse_html(render_html(DATA))
    csp = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    assert [t for t, _ in parsed.tags].count("svg") == 1


# ---------------------------------------------------------------------------------------------- injection

HOSTILE_NAME = '</text><script>alert("name")</script><text x="0">'
HOSTILE_REASON = "\"><img src=x onerror=alert(1)><foreignObject><iframe src='javascript:alert(2)'/></foreignObject>"
HOSTILE_PROJECT = "<style>*{display:none}</style>Evil & Co"


def hostile() -> CertificateData:
    project = replace(KASIGAU, name=HOSTILE_PROJECT, methodology="<b>VM</b>")
    return replace(
        DATA,
        beneficiary_name=HOSTILE_NAME,
        reason=HOSTILE_REASON,
        lines=(replace(LINE_1, project=project, issuance_reference="ISS'\"<>&"),),
    )


def test_render_svg__markup_in_user_text__shown_as_text_never_as_elements():
    svg = render_svg(hostile())
    root = ET.fromstring(svg)
    tags = {element.tag.removeprefix(SVG_NS) for element in root.iter()}
    assert tags <= {"svg", "title", "rect", "g", "circle", "text", "line"}
    assert not any(name.startswith("on") for element in root.iter() for name in element.attrib)
    texts = svg_texts(svg)
    assert any(HOSTILE_NAME[:30] in t for t in texts)  # wrapped over two lines, but there, verbatim
    assert any(t.startswith('"><img src=x onerror=alert(1)>') for t in texts)
    assert any(t.startswith("<style>*{display:none}</style>Evil") for t in texts)


def test_render_html__markup_in_user_text__escaped_no_script_img_iframe_or_handlers():
    document = render_html(hostile())
    parsed = parse_html(document)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "img", "iframe", "foreignobject", "object", "embed", "link"}
    assert [tag for tag, _ in parsed.tags].count("style") == 1  # ours, in the head
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    text = "".join(parsed.text)
    for hostile_text in (HOSTILE_NAME, HOSTILE_REASON, HOSTILE_PROJECT, "ISS'\"<>&"):
        assert hostile_text in text


def test_render__control_and_bidi_characters__dropped_and_the_document_stays_valid():
    data = replace(DATA, beneficiary_name="Acme\x00\x1b[31m\u202eGmbH\u2066", reason="line one\nline\ttwo\x07")
    texts = svg_texts(render_svg(data))
    assert "Acme[31mGmbH" in texts and "line one line two" in texts
    assert "Acme[31mGmbH" in parse_html(render_html(data)).text
    assert clean("a\u200fb\u061cc  d") == "abc d"
    assert "Acme[31mGmbH" in data.describe() and "\x1b" not in data.describe()


def test_render__long_texts__wrapped_and_cut_in_the_svg_kept_whole_in_the_html():
    name, reason = "Very Long Company Name " * 12, "because " * 80
    data = replace(DATA, beneficiary_name=name.strip(), reason=reason.strip())
    texts = svg_texts(render_svg(data))
    start = texts.index("permanently retired on behalf of") + 1
    name_lines = texts[start : texts.index(DATA.beneficiary)]
    assert len(name_lines) == 2 and name_lines[-1].endswith("…")
    reason_lines = [t for t in texts if t.startswith("because")]
    assert len(reason_lines) == 3 and reason_lines[-1].endswith("…")
    text = parse_html(render_html(data)).text
    assert name.strip() in text and reason.strip() in text


# ---------------------------------------------------------------------------------------------- files


def test_write_documents__folder__svg_html_and_json_named_by_chain_and_id(tmp_path):
    paths = write_documents(replace(DATA, lines=(LINE_1, LINE_2)), tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "svg": "certificate-31337-12.svg",
        "html": "certificate-31337-12.html",
        "json": "certificate-31337-12.json",
    }
    assert "3,012.75 t CO₂e" in svg_texts(paths["svg"].read_text(encoding="utf-8"))
    assert paths["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert (data["certificate_id"], data["total_units"], data["total_tonnes"]) == (12, 3_012_750, "3,012.75")
    assert [line["token_id"] for line in data["lines"]] == [str((1 << 64) | 2), str((2 << 64) | 1)]
    assert data["lines"][1]["share_of_batch"] == "0.1500125"
