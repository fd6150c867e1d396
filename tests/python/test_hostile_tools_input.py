"""Hostile input to the files of `ape run price_feed`, `ape run admin allow --csv` and `ape run compliance
set-obligations`, checked in-process (no chain): every field with a decimal comma, an exponent, a digit separator,
other scripts' digits, a sign, zero and a huge value; the file's shape (BOM, CRLF, empty, header only, repeated and
unknown columns, an unterminated quote); a JSON price file's numbers and keys; Unicode normal forms. Each refusal is
``file:line: field: message``. The same tools run against a chain: tests/e2e/test_hostile_tools.py."""

from __future__ import annotations

import json
import unicodedata

import pytest

from tonne.compliance import FileError, read_obligations
from tonne.pledge.ids import parse_class
from tonne.pledge.prices import PriceFileError, read_price_file
from tonne.registry.admin import AdminError, read_allowlist

ENTITY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ARABIC_123 = "\u0661\u0662\u0663"  # ١٢٣
FULLWIDTH_123 = "\uff11\uff12\uff13"  # １２３
NFC = "Société Générale"
NFD = unicodedata.normalize("NFD", NFC)
HOSTILE_NUMBERS = ['"1,5"', "1e3", "1_000", ARABIC_123, FULLWIDTH_123, "-1", "+5", "0x10", "NaN", "9" * 80]


def _prices(path):
    return read_price_file(path, 6)


READERS = {
    # tool: (reader, its error, header, a good row)
    "price_feed": (_prices, PriceFileError, "class,price,observed_at", "P1/B1,12.5,1700000000"),
    "allow": (read_allowlist, AdminError, "account,note", f"{ENTITY},kyc 2026"),
    "set-obligations": (read_obligations, FileError, "entity,name,tonnes", f"{ENTITY},Acme,10"),
}


def _report(tool, path) -> str:
    reader, error, *_ = READERS[tool]
    with pytest.raises(error) as caught:
        reader(path)
    report = caught.value.report()
    assert "Traceback" not in report
    return report


def _row(tool: str, column: str, value: str) -> str:
    header, row = READERS[tool][2:]
    values = row.split(",")
    values[header.split(",").index(column)] = value
    return f"{header}\n{','.join(values)}\n"


# ---------------------------------------------------------------------------------------------------- fields

FIELDS = [
    ("price_feed", "class"),
    ("price_feed", "price"),
    ("price_feed", "observed_at"),
    ("allow", "account"),
    ("set-obligations", "entity"),
    ("set-obligations", "tonnes"),
]


@pytest.mark.parametrize(("tool", "column"), FIELDS, ids=[f"{t}-{c}" for t, c in FIELDS])
@pytest.mark.parametrize("value", HOSTILE_NUMBERS, ids=["comma", "exp", "underscore", "arabic", "fullwidth", "neg",
                                                        "plus", "hex", "nan", "huge"])  # fmt: skip
def test_field__hostile_number__refused_naming_file_line_and_field(tmp_path, tool, column, value):
    path = tmp_path / "f.csv"
    path.write_text(_row(tool, column, value))
    assert f"{path}:2: {column}:" in _report(tool, path)


@pytest.mark.parametrize(("tool", "column"), [("price_feed", "class"), ("price_feed", "price"),
                                              ("price_feed", "observed_at"), ("allow", "account"),
                                              ("set-obligations", "entity")])  # fmt: skip
def test_field__zero__refused(tmp_path, tool, column):
    path = tmp_path / "f.csv"
    path.write_text(_row(tool, column, "0"))
    assert f"{path}:2: {column}:" in _report(tool, path)


def test_obligations__zero_tonnes__accepted_it_removes_an_obligation(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(_row("set-obligations", "tonnes", "0"))
    assert [row.units for row in read_obligations(path)] == [0]


@pytest.mark.parametrize(
    "text",
    [ARABIC_123, FULLWIDTH_123, f"P{ARABIC_123}/B1", f"P1/B{FULLWIDTH_123}", "vintage:1:\u0662\u0660\u0662\u0661",
     f"vintage:{FULLWIDTH_123}:2021"],
)  # fmt: skip
def test_price_class__other_scripts_digits__refused_naming_the_character(text):
    # int() reads '١٢٣' as 123 and re's \d matches it: the feed posted to credit 123 (or P1/B1) without a word.
    with pytest.raises(ValueError, match=r"character \d+ is .*DIGIT.* \(U\+[0-9A-F]{4}\), not one of the digits 0-9"):
        parse_class(text)


@pytest.mark.parametrize("text", [str(2**256), "9" * 80, "9" * 5000])
def test_price_class__credit_id_beyond_uint256__refused_as_out_of_range(text):
    # It reached the chain read, which cannot encode it as a uint256.
    with pytest.raises(ValueError, match=r"out of range \(1\.\.2\^256-1\)"):
        parse_class(text)


def test_price_class__plain_forms__still_read():
    assert parse_class("P1/B2") == (1 << 64) | 2
    assert parse_class(" 18446744073709551618 ") == (1 << 64) | 2
    assert parse_class(str(2**256 - 1)) == 2**256 - 1
    assert parse_class("vintage:1:2021") == (1 << 255) | (1 << 64) | 2021


# ---------------------------------------------------------------------------------------------------- the file

SHAPES = [
    ("empty", "", 1, "the file is empty"),
    ("bom-only", "\ufeff", 1, "the file is empty"),
    ("header-only", "{header}\n", 1, "header but no data rows"),
    ("header-crlf-blank", "{header}\r\n\r\n", 2, "header but no data rows"),
    ("unterminated-quote", '{header}\n"{row}\n{row}\n', 2, "quoted field is not closed"),
    ("repeated-column", "{header},{first}\n{row},x\n", 1, "repeated column"),
    ("unknown-column", "{header},extra\n{row},x\n", 1, "unknown column extra"),
    ("extra-field", "{header}\n{row},x\n", 2, "fields, expected"),
]


@pytest.mark.parametrize("tool", list(READERS))
@pytest.mark.parametrize(("shape", "text", "line", "words"), SHAPES, ids=[s[0] for s in SHAPES])
def test_file__hostile_shape__one_line_naming_file_and_line(tmp_path, tool, shape, text, line, words):
    header, row = READERS[tool][2:]
    path = tmp_path / "f.csv"
    path.write_text(text.format(header=header, row=row, first=header.split(",")[0]), newline="")
    report = _report(tool, path)
    assert f"{path}:{line}:" in report and words in report, report


@pytest.mark.parametrize("tool", list(READERS))
def test_file__bom_and_crlf__read_like_a_plain_file(tmp_path, tool):
    reader, _, header, row = READERS[tool]
    path = tmp_path / "f.csv"
    path.write_bytes(f"\ufeff{header}\r\n{row}\r\n".encode())
    assert len(reader(path)) == 1


@pytest.mark.parametrize("tool", list(READERS))
def test_file__missing_or_a_folder__named_with_the_reason(tmp_path, tool):
    for path, why in ((tmp_path / "nope.csv", "No such file"), (tmp_path, "Is a directory")):
        report = _report(tool, path)
        assert str(path) in report and why in report, report


@pytest.mark.parametrize(("tool", "column"), [("allow", "note"), ("set-obligations", "name")])
def test_file__nfd_text__refused_never_a_second_spelling(tmp_path, tool, column):
    # The NFC and NFD spellings print alike; the chain would hold them as two names.
    path = tmp_path / "f.csv"
    path.write_text(_row(tool, column, NFD))
    assert f"{path}:2: {column}: not in Unicode normal form NFC" in _report(tool, path)
    path.write_text(_row(tool, column, NFC))
    assert len(READERS[tool][0](path)) == 1


# ---------------------------------------------------------------------------------------------------- JSON prices


def _json(tmp_path, text: str):
    path = tmp_path / "p.json"
    path.write_text(text)
    return path


def _json_report(path) -> str:
    with pytest.raises(PriceFileError) as caught:
        read_price_file(path, 6)
    return caught.value.report()


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("1e3", "'1e3' is not a plain decimal number"),  # was read as 1000.0 and posted as 1,000
        ("1E2", "'1E2' is not a plain decimal number"),
        ("1234567890123.123456789", "1234567890123.123456789 has more than 6 decimals"),  # was rounded to .1235
        ("NaN", "'NaN' is not a plain decimal number"),
        ("-1", "'-1' is not a plain decimal number"),
    ],
)
def test_price_json__number_judged_as_written__like_the_csv(tmp_path, number, message):
    path = _json(tmp_path, f'[{{"class": "P1/B1", "price": {number}, "observed_at": 1700000000}}]')
    assert f"{path}:entry 1: price: {message}" in _json_report(path)


def test_price_json__plain_numbers__read_exactly(tmp_path):
    path = _json(tmp_path, '[{"class": 18446744073709551617, "price": 12.345678, "observed_at": 1700000000}]')
    (row,) = read_price_file(path, 6)
    assert (row.class_id, row.price, row.observed_at) == ((1 << 64) | 1, 12_345_678, 1_700_000_000)


def test_price_json__key_given_twice__refused_not_the_last_one_silently(tmp_path):
    path = _json(tmp_path, '[{"class": "P1/B1", "price": "10", "price": "20", "observed_at": 1700000000}]')
    assert f"{path}:entry 1: price: given twice in this entry" in _json_report(path)


def test_price_json__unknown_key__refused_like_an_unknown_column(tmp_path):
    path = _json(tmp_path, json.dumps([{"class": "P1/B1", "price": "10", "observed_at": 1, "currency": "EUR"}]))
    assert f"{path}:entry 1: currency: unknown key (expected class, price, observed_at)" in _json_report(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [("", ":1: json: Expecting value"), ("[]", ": no prices"),
     ("{}", ': json: expected a list of prices, or {"prices"'), ('[{"class": "P1/B1"', ":1: json:")],
)  # fmt: skip
def test_price_json__empty_or_broken__one_line(tmp_path, text, words):
    path = _json(tmp_path, text)
    assert f"{path}{words}" in _json_report(path)
