"""Compliance tooling without a chain: the obligations CSV, a period's terms, surrender credits, and the report's
assembly, table and CSV."""

from __future__ import annotations

import calendar
import csv
import io

import pytest
from eth_utils import keccak

from tonne.compliance import (
    CSV_COLUMNS,
    FileError,
    InputError,
    PeriodTerms,
    ReportError,
    auto_reference,
    build_report,
    format_report,
    pair_credits,
    parse_deadline,
    parse_text,
    parse_vintages,
    period_input,
    read_obligations,
    reference_key,
    to_csv,
    tonnes_text,
)
from tonne.core.ids import encode_id

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CAROL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
HEADER = "entity,name,tonnes\n"


def ts(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second))


def problems_of(body: str, header: str = HEADER) -> list[str]:
    return [str(p) for p in parse_text(header + body, "o.csv")[1]]


# ---------------------------------------------------------------------------------------------- obligations CSV


def test_obligations__name_in_nfd_or_tonnes_beyond_28_digits__refused_not_rewritten():
    problems = problems_of(f"{ALICE},Jose\u0301 Cement,10\n{BOB},Borealis,10.0000000000000000000000000001\n")
    assert problems == [
        "o.csv:2: name: not in Unicode normal form NFC (the registry compares exact bytes); write it composed, e.g. "
        '"\u00c9" not "E"+U+0301',
        "o.csv:3: tonnes: 10.0000000000000000000000000001 has more than 3 decimals (the smallest unit is 0.001 t = "
        "1 kg)",
    ]


def test_obligations__valid_rows__parsed_to_units_and_checksummed():
    rows, problems = parse_text(
        HEADER + f'{ALICE},Acme Steel AG,120000\n{BOB.lower()},"Borealis Cement, SA",7500.25\n{CAROL},Corvid,0\n',
        "o.csv",
    )
    assert problems == []
    assert [(r.line, r.entity, r.name, r.units) for r in rows] == [
        (2, ALICE, "Acme Steel AG", 120_000_000),
        (3, BOB, "Borealis Cement, SA", 7_500_250),
        (4, CAROL, "Corvid", 0),
    ]


def test_obligations__columns_in_any_order_bom_blank_lines_and_spaces__accepted():
    text = "\ufeff tonnes , ENTITY ,name\n\n 1.5 , " + ALICE + " , Acme \n,,\n"
    rows, problems = parse_text(text, "o.csv")
    assert problems == []
    assert [(r.line, r.entity, r.name, r.units) for r in rows] == [(3, ALICE, "Acme", 1_500)]


def test_obligations__every_bad_field__reported_with_file_line_and_field():
    body = (
        f"{ALICE},,1\n"  # line 2: empty name
        f"{ALICE[:-1]}c,Borealis,1.2345\n"  # line 3: bad checksum, 4 decimals
        f"0x{'0' * 40},Zero,1\n"  # line 4: zero address
        f"{BOB},Borealis,-1\n"  # line 5: negative
        f"{ALICE},Again,2\n"  # line 6: entity repeats line 2 (whose name was bad)
        f"{CAROL},Corvid\n"  # line 7: a field short
        f"nope,Nope,1e3\n"  # line 8: not an address, not a plain decimal
        f"{CAROL},Corvid,{2**128}\n"  # line 9: more than an obligation holds
        f"{BOB},Bell\u202eicode,1\n"  # line 10: a bidi control in a name printed on certificates
    )
    assert problems_of(body) == [
        "o.csv:2: name: empty: the certificate needs a beneficiary name",
        f"o.csv:3: entity: {ALICE[:-1]}c fails its EIP-55 checksum: a character is probably mistyped",
        "o.csv:3: tonnes: 1.2345 has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)",
        "o.csv:4: entity: the zero address cannot have an obligation",
        "o.csv:5: tonnes: '-1' is not a decimal number of tonnes (e.g. 120000.5)",
        f"o.csv:6: entity: '{ALICE}' is already used on line 2",
        "o.csv:7: row: 2 fields, expected 3 (entity,name,tonnes)",
        "o.csv:8: entity: 'nope' is not an address (0x followed by 40 hex digits)",
        "o.csv:8: tonnes: '1e3' is not a decimal number of tonnes (e.g. 120000.5)",
        f"o.csv:9: tonnes: {2**128} t is more than an obligation can hold",
        "o.csv:10: name: contains the control character U+202E; certificates take plain text",
        f"o.csv:10: entity: '{BOB}' is already used on line 5",
    ]


def test_obligations__same_entity_in_other_case__repeat_detected():
    rows, problems = parse_text(HEADER + f"{ALICE},A,1\n{ALICE.lower()},B,2\n", "o.csv")
    assert [str(p) for p in problems] == [f"o.csv:3: entity: {ALICE} is already on line 2"]
    assert [r.line for r in rows] == [2]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("entity,name\n", ["o.csv:1: header: missing column tonnes"]),
        ("entity,name,tonnes,extra\n", ["o.csv:1: header: unknown column extra"]),
        ("entity,name,name\n", ["o.csv:1: header: missing column tonnes", "o.csv:1: header: repeated column name"]),
    ],
)
def test_obligations__bad_header__reported_and_nothing_parsed(header, expected):
    assert problems_of(f"{ALICE},A,1\n", header) == [
        *expected,
        "o.csv:1: header: expected exactly: entity,name,tonnes (any order)",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "o.csv:1: header: the file is empty; expected the header entity,name,tonnes"),
     (HEADER, "o.csv:1: file: the file has a header but no data rows")],
    ids=["empty", "header-only"],
)  # fmt: skip
def test_obligations__no_rows__reported(text, problem):
    assert [str(p) for p in parse_text(text, "o.csv")[1]] == [problem]


def test_read_obligations__not_utf8__reported_with_line(tmp_path):
    path = tmp_path / "o.csv"
    good = HEADER.encode() + f"{ALICE},Acme,1\n".encode()
    path.write_bytes(good + b"\xff\xfe,Bad,1\n")
    with pytest.raises(FileError) as info:
        read_obligations(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: file: not UTF-8 text (byte {len(good)}); save the CSV as UTF-8"
    ]
    assert info.value.summary == f"{path}: 1 problem found, nothing was sent"


def test_read_obligations__problems__raise_with_every_problem(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(HEADER + f"{ALICE},,1\n{BOB},Bob,x\n")
    with pytest.raises(FileError) as info:
        read_obligations(path)
    assert info.value.report().splitlines() == [
        f"{path}: 2 problems found, nothing was sent",
        f"{path}:2: name: empty: the certificate needs a beneficiary name",
        f"{path}:3: tonnes: 'x' is not a decimal number of tonnes (e.g. 120000.5)",
    ]


# ---------------------------------------------------------------------------------------------- period terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-30", ts(2026, 9, 30, 23, 59, 59)),
        ("2026-09-30T12:00:00Z", ts(2026, 9, 30, 12)),
        ("2026-09-30T14:00:00+02:00", ts(2026, 9, 30, 12)),
        ("1790812800", 1_790_812_800),
    ],
)
def test_parse_deadline__forms__unix_seconds(text, expected):
    assert parse_deadline(text) == expected


@pytest.mark.parametrize("text", ["2026-02-30", "2026-09-30T12:00:00", "next week", "0", str(2**40)])
def test_parse_deadline__bad__input_error_naming_it(text):
    with pytest.raises(InputError, match="deadline"):
        parse_deadline(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, (0, 0)), ("", (0, 0)), ("2016:2025", (2016, 2025)), ("2021:", (2021, 0)), (":2025", (0, 2025)),
     (" 2021 : 2021 ", (2021, 2021))],
)  # fmt: skip
def test_parse_vintages__forms__years_with_open_sides_zero(text, expected):
    assert parse_vintages(text) == expected


@pytest.mark.parametrize("text", [":", "2025:2016", "21:25", "2016-2025", "abc"])
def test_parse_vintages__bad__input_error(text):
    with pytest.raises(InputError, match="vintages"):
        parse_vintages(text)


def terms(**overrides):
    fields = dict(
        name="EU ETS 2025 surrender",
        jurisdiction="DE",
        period="2025-01-01:2025-12-31",
        deadline="2026-09-30",
        vintages="2016:2025",
        standards=("VCS", "GS"),
        now=ts(2026, 1, 15),
    )
    fields.update(overrides)
    return period_input(**fields)


def test_period_input__valid__contract_input():
    assert terms().as_input() == dict(
        name="EU ETS 2025 surrender",
        jurisdiction="DE",
        periodStart=ts(2025),
        periodEnd=ts(2026) - 1,
        deadline=ts(2026, 9, 30, 23, 59, 59),
        vintageFrom=2016,
        vintageTo=2025,
        eligibleStandards=["VCS", "GS"],
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(name="  "), "--name: empty: the certificate needs a reason"),
        (dict(name="x" * 501), "--name: 501 characters; at most 500"),
        (dict(jurisdiction="de"), "--jurisdiction 'de'"),
        (dict(jurisdiction="US-CALI"), "--jurisdiction 'US-CALI'"),
        (dict(period="2025-12-31:2025-01-01"), "ends before it starts"),
        (dict(deadline="2025-12-30"), "is before the end of the period"),
        (dict(now=ts(2026, 10, 1)), "is already past"),
        (dict(standards=("VCS", "")), "--standard number 2 is empty"),
        (dict(standards=("VCS", "VCS")), "--standard 'VCS' is given twice"),
        (dict(standards=tuple(f"S{i}" for i in range(33))), "33 standards given"),
    ],
)
def test_period_input__invalid__input_error_naming_the_option(overrides, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        terms(**overrides)


def test_period_input__deadline_equal_to_period_end_and_now__accepted():
    end = ts(2026) - 1
    accepted = terms(period="2025-01-01:2025-12-31", deadline=str(end), now=end)
    assert accepted.deadline == accepted.period_end == end


# ---------------------------------------------------------------------------------------------- surrender input


def test_pair_credits__ids_and_amounts__units_in_order():
    ids = [encode_id(3, 2), encode_id(7, 1), encode_id(3, 2)]
    assert pair_credits(ids, ["12.5", "0.001", "3"]) == [(ids[0], 12_500), (ids[1], 1), (ids[2], 3_000)]
    assert pair_credits([encode_id(1, 1)] * 100, ["1"] * 100) == [(encode_id(1, 1), 1_000)] * 100


@pytest.mark.parametrize(
    ("ids", "amounts", "message"),
    [
        ([], [], "name the credits: --id TOKEN_ID, or --project and --batch"),
        ([encode_id(3, 2)], ["1", "2"], "2 --amount value(s) for 1 batch(es): give one each, in order"),
        ([encode_id(3, 2)] * 2, ["1"], "1 --amount value(s) for 2 batch(es)"),
        ([12], ["1"], "--id 12 is not a credit token id"),
        ([encode_id(3, 2) & ~((1 << 64) - 1)], ["1"], "is not a credit token id"),
        ([1 << 128 | encode_id(3, 2)], ["1"], "is not a credit token id"),
        ([encode_id(1, 1)] * 101, ["1"] * 101, "101 batches; one surrender lists at most 100"),
        ([encode_id(3, 2)], ["1.0005"], "--amount '1.0005': 1.0005 has more than 3 decimals"),
        ([encode_id(3, 2)], ["0"], "--amount '0': 0: must be more than 0"),
        ([encode_id(3, 2)], ["ten"], "--amount 'ten': 'ten' is not a decimal number of tonnes"),
    ],
)
def test_pair_credits__bad__input_error_naming_the_option(ids, amounts, message):
    with pytest.raises(InputError) as info:
        pair_credits(ids, amounts)
    assert message in str(info.value)


def test_auto_reference__same_command_same_reference_any_change_another():
    base = dict(sender=ALICE, entity=BOB, period_id=3, credits=[(encode_id(1, 2), 1_500)])
    reference = auto_reference(**base)
    assert reference.startswith("auto:") and len(reference) == 5 + 32
    assert auto_reference(**dict(base, sender=ALICE.lower(), entity=BOB.upper().replace("0X", "0x"))) == reference
    for change in (
        dict(sender=CAROL),
        dict(entity=CAROL),
        dict(period_id=4),
        dict(credits=[(encode_id(1, 2), 1_501)]),
        dict(credits=[(encode_id(1, 3), 1_500)]),
        dict(credits=[(encode_id(1, 2), 1_500)] * 2),
    ):
        assert auto_reference(**dict(base, **change)) != reference, change


def test_reference_key__keccak_of_text_or_zero():
    assert reference_key(None) == b"\x00" * 32
    # The documented rule (docs/compliance.md): keccak256 of the reference's UTF-8 bytes.
    assert reference_key("S-1") == keccak(b"S-1")
    assert reference_key("Ünïcode") == keccak("Ünïcode".encode()) != keccak("Ünïcode".encode("latin-1"))
    with pytest.raises(InputError, match="--reference is empty"):
        reference_key("  ")


# ---------------------------------------------------------------------------------------------- the report

TERMS = PeriodTerms(
    1, "EU ETS 2025 surrender", "DE", ts(2025), ts(2026) - 1, ts(2026, 9, 30, 23, 59, 59), 2016, 0, ("VCS",)
)


def report(timestamp: int, passed: bool):
    a, b, c = ALICE.lower(), BOB.lower(), CAROL.lower()
    return build_report(
        TERMS,
        block=99,
        timestamp=timestamp,
        obligation_events=[dict(entity=a), dict(entity=b), dict(entity=a), dict(entity=c)],
        surrender_events=[
            dict(entity=a, certificateId=4, amount=600_000),
            dict(entity=b, certificateId=5, amount=1_500),
            dict(entity=a, certificateId=9, amount=600_000),
        ],
        statuses={a: (1_200_000, 1_200_000, passed), b: (7_500_250, 1_500, passed), c: (0, 0, passed)},
        names={a: "Acme Steel AG", b: "Borealis Cement, SA", c: "Corvid Ltd"},
    )


@pytest.mark.parametrize(("passed", "status_b"), [(False, "open"), (True, "shortfall")])
def test_report__entities_in_first_obligation_order_with_status(passed, status_b):
    r = report(ts(2026, 10, 1) if passed else ts(2026, 5, 1), passed)
    assert [(x.entity, x.status, x.certificates, x.shortfall) for x in r.lines] == [
        (ALICE.lower(), "compliant", [4, 9], 0),
        (BOB.lower(), status_b, [5], 7_498_750),
        (CAROL.lower(), "no obligation", [], 0),
    ]
    assert r.totals == (8_700_250, 1_201_500, 7_498_750)
    assert r.deadline_passed is passed
    assert r.inconsistent == []


def test_report__csv__one_row_per_entity_exact_tonnes():
    rows = list(csv.reader(io.StringIO(to_csv(report(ts(2026, 10, 1), True)))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1:] == [
        ["1", "EU ETS 2025 surrender", ALICE, "Acme Steel AG", "1200", "1200", "0", "compliant", "true", "2", "4 9"],
        ["1", "EU ETS 2025 surrender", BOB, "Borealis Cement, SA", "7500.25", "1.5", "7498.75", "shortfall", "true",
         "1", "5"],
        ["1", "EU ETS 2025 surrender", CAROL, "Corvid Ltd", "0", "0", "0", "no obligation", "true", "0", ""],
    ]  # fmt: skip


def test_report__table__terms_rows_and_totals():
    text = format_report(report(ts(2026, 10, 1), True))
    lines = text.splitlines()
    assert lines[0] == "Compliance period 1: EU ETS 2025 surrender (DE)"
    assert "deadline 2026-09-30 23:59:59 UTC (passed: statuses are final)" in text
    assert "eligible vintages from 2016; standards VCS" in text
    assert "read at block 99 (2026-10-01 00:00:00 UTC)" in text
    row_b = next(line for line in lines if line.startswith(BOB))
    assert row_b.split() == [
        BOB,
        "Borealis",
        "Cement,",
        "SA",
        "7,500.25",
        "t",
        "1.5",
        "t",
        "7,498.75",
        "t",
        "shortfall",
        "1",
    ]
    total = next(line for line in lines if line.startswith("total"))
    assert "8,700.25 t" in total and "1,201.5 t" in total and "1 compliant, 1 shortfall, 1 no obligation" in total
    assert "WARNING" not in text


def test_report__events_disagree_with_status__flagged():
    r = report(ts(2026, 5, 1), False)
    r.lines[0].logged -= 1
    assert [x.entity for x in r.inconsistent] == [ALICE.lower()]
    assert f"WARNING: {ALICE.lower()}: status says 1,200 t surrendered, its Surrendered events sum to 1,199.999 t" in (
        format_report(r)
    )


def test_report__surrender_without_obligation_event__report_error():
    with pytest.raises(ReportError, match="has no ObligationSet before it"):
        build_report(
            TERMS,
            block=1,
            timestamp=1,
            obligation_events=[],
            surrender_events=[dict(entity=ALICE, certificateId=1, amount=1)],
            statuses={},
            names={},
        )


@pytest.mark.parametrize(("units", "text"), [(0, "0"), (1, "0.001"), (1_500, "1.5"), (7_000, "7"), (12_340, "12.34")])
def test_tonnes_text__exact_without_trailing_zeros(units, text):
    assert tonnes_text(units) == text


@pytest.mark.parametrize("bad", ["12,50", "1_000", "1e3", "\u0661\u0662", " 12", ""])
def test_pair_credits__amount_not_plain_decimal__refused_naming_amount(bad):
    with pytest.raises(InputError, match=r"^--amount "):
        pair_credits([encode_id(1, 1)], [bad])


def test_period_input__period_before_1970__refused_clearly():
    with pytest.raises(InputError, match="before 1970"):
        period_input(name="EU ETS 1969", jurisdiction="DE", period="1969-01-01:1969-12-31", deadline="1970-06-30")
