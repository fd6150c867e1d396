"""Hostile input to the new options and the CSV readers, checked in-process (no chain): the relay's --batch,
--gas-per-message, --poll and --until-idle, retire csv's --batch-size, issue's --chunk-size, admin allow's
--chunk-size, set-obligations' --period, every --pending-timeout, the tonnes field, the streamed issuance reader and
the retirement reader, and Unicode normal forms on the command line and in files (the price, allowlist and
obligation files: test_hostile_tools_input.py).

Findings are listed in audit/hostile-new-options.md; a test marked ``xfail(strict=True)`` asserts the correct
behaviour of a finding that is not fixed yet (it starts failing, i.e. passing, once it is fixed)."""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tonne.bridge.cli import read_key, sending_account, validator_signer
from tonne.chain.errors import ToolError
from tonne.core.csvinput import FieldError, parse_tonnes
from tonne.issuance.stream import scan
from tonne.retirement.rows import command_request, read_requests

SCRIPTS = Path(__file__).parents[2] / "scripts"
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
NFC = "Café Zürich"
NFD = unicodedata.normalize("NFD", NFC)
ARABIC_50 = "\u0665\u0660"  # ٥٠
FULLWIDTH_50 = "\uff15\uff10"  # ５０


def _load(script: str) -> click.Command:
    spec = importlib.util.spec_from_file_location(f"hostile_{script}", SCRIPTS / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli


RELAY = _load("relay")
RETIRE_CSV = _load("retire").commands["csv"]
ISSUE = _load("issue")
ALLOW = _load("admin").commands["allow"]
SET_OBLIGATIONS = _load("compliance").commands["set-obligations"]
PRICE_FEED = _load("price_feed")

# (command, option name as typed, a valid value written with ASCII digits)
INT_OPTIONS = [
    (RELAY, "--batch", "50"),
    (RELAY, "--gas-per-message", "400000"),
    (RETIRE_CSV, "--batch-size", "50"),
    (RETIRE_CSV, "--window", "16"),
    (ISSUE, "--chunk-size", "50"),
    (ALLOW, "--chunk-size", "200"),
    (SET_OBLIGATIONS, "--period", "12"),
]
FLOAT_OPTIONS = [
    (RELAY, "--poll"),
    (RELAY, "--until-idle"),
    (RETIRE_CSV, "--pending-timeout"),
    (ISSUE, "--pending-timeout"),
    (SET_OBLIGATIONS, "--pending-timeout"),
    (PRICE_FEED, "--pending-timeout"),
]


def _convert(command: click.Command, option: str, text: str):
    """``text`` as the option parses it (raises click.BadParameter when refused): the click step that runs before
    any connection is made, so a value it accepts is what the tool then works with."""
    param = next(p for p in command.params if option in p.opts)
    return param.type.convert(text, param, click.Context(command))


def _ids(options):
    return [f"{c.name if c.name != 'cli' else ''}{o}" for c, o, *_ in options]


# ---------------------------------------------------------------------------------------------------- numeric options


@pytest.mark.parametrize(("command", "option", "valid"), INT_OPTIONS, ids=_ids(INT_OPTIONS))
@pytest.mark.parametrize("text", ["1,5", "1.5", "1e3", "-1", "0", "", "five", "0x10"])
def test_int_option__malformed_negative_or_zero__refused(command, option, valid, text):
    with pytest.raises(click.BadParameter):
        _convert(command, option, text)


@pytest.mark.parametrize(("command", "option", "valid"), INT_OPTIONS, ids=_ids(INT_OPTIONS))
def test_int_option__plain_ascii_value__accepted(command, option, valid):
    assert _convert(command, option, valid) == int(valid)


@pytest.mark.parametrize(("command", "option", "valid"), INT_OPTIONS, ids=_ids(INT_OPTIONS))
@pytest.mark.parametrize("script", ["arabic", "fullwidth"])
def test_int_option__non_ascii_digits__refused_like_the_csv_amounts(command, option, valid, script):
    # The CSV readers refuse '٥٠' and '５٠' in an amount; the options take them as 50 without a word.
    digits = valid.translate(
        str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩" if script == "arabic" else "０１２３４５６７８９")
    )
    with pytest.raises(click.BadParameter):
        _convert(command, option, digits)


@pytest.mark.parametrize(("command", "option", "valid"), INT_OPTIONS, ids=_ids(INT_OPTIONS))
def test_int_option__underscore_separator__refused(command, option, valid):
    with pytest.raises(click.BadParameter):
        _convert(command, option, valid[0] + "_" + valid[1:])


def test_retire_batch_size__above_200__refused_naming_the_range():
    with pytest.raises(click.BadParameter, match="1<=x<=200"):
        _convert(RETIRE_CSV, "--batch-size", "201")


def test_relay_gas_per_message__below_the_floor__refused():
    with pytest.raises(click.BadParameter, match="100000"):
        _convert(RELAY, "--gas-per-message", "99999")


@pytest.mark.parametrize("text", [str(2**256), "9" * 80])
def test_relay_gas_per_message__beyond_uint256__refused_at_the_option(text):
    with pytest.raises(click.BadParameter):
        _convert(RELAY, "--gas-per-message", text)


@pytest.mark.parametrize("option", ["--poll", "--until-idle"])
@pytest.mark.parametrize("text", ["-1", "nan", "-inf"])
def test_relay_seconds__negative_or_nan__refused_at_the_option(option, text):
    # --poll -1 reaches time.sleep(-1) on the first idle pass: ValueError traceback; --until-idle nan never exits.
    with pytest.raises(click.BadParameter):
        _convert(RELAY, option, text)


@pytest.mark.parametrize(("command", "option"), FLOAT_OPTIONS[2:], ids=_ids(FLOAT_OPTIONS[2:]))
def test_pending_timeout__nan__refused(command, option):
    with pytest.raises(click.BadParameter):
        _convert(command, option, "nan")


@pytest.mark.parametrize(("command", "option"), FLOAT_OPTIONS[2:], ids=_ids(FLOAT_OPTIONS[2:]))
def test_pending_timeout__negative__refused(command, option):
    with pytest.raises(click.BadParameter):
        _convert(command, option, "-1")


@pytest.mark.parametrize(("command", "option"), FLOAT_OPTIONS, ids=_ids(FLOAT_OPTIONS))
@pytest.mark.parametrize("text", ["1_000", "1e3", "\u0661\u0662\u0660", "\uff11\uff12\uff10", "1,5", "0x10", "+5"])
def test_seconds_option__what_float_would_quietly_read__refused(command, option, text):
    # float() reads '1_000', '1e3', '١٢٠' and '１２０'; the amounts and the whole-number options refuse them.
    with pytest.raises(click.BadParameter, match="plain decimal|not a valid"):
        _convert(command, option, text)


@pytest.mark.parametrize(("command", "option"), FLOAT_OPTIONS, ids=_ids(FLOAT_OPTIONS))
@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("2.5", 2.5), (" 30 ", 30.0), ("600", 600.0)])
def test_seconds_option__plain_decimal__accepted(command, option, text, value):
    assert _convert(command, option, text) == value


def test_relay_batch__huge__accepted_then_capped_by_the_block_gas_limit():
    # No upper bound on --batch by design: Relayer.batch_size caps it to what fits a block (see tests/twochain).
    assert _convert(RELAY, "--batch", "9" * 30) == int("9" * 30)


# ---------------------------------------------------------------------------------------------------- tonnes


@pytest.mark.parametrize(
    "text",
    ["1,5", "1e3", "1_000", "+5", "-1", "0", "0.000", "9" * 80, ARABIC_50, FULLWIDTH_50, "0x10", "1.", ".5", "1.0001"],
)
def test_tonnes_field__hostile_amounts__refused_with_a_message(text):
    with pytest.raises(FieldError) as caught:
        parse_tonnes(text)
    assert str(caught.value) and "Traceback" not in str(caught.value)


def test_tonnes_field__exact_amounts__parsed_to_kg():
    assert parse_tonnes("1000000000000") == 10**15  # the largest row, exactly
    assert parse_tonnes("0.001") == 1


# ---------------------------------------------------------------------------------------------------- CSV files

ISSUE_HEADER = "project,batch,recipient,tonnes,reference"
ISSUE_ROW = f"VCS:1,VCU-1,{SENDER},1,REF-1"
RETIRE_HEADER = "project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference"
RETIRE_ROW = "VCS:1,VCU-1,1,Acme GmbH,Scope 1,DE,2025,RET-1"


def _readers():
    return [("issue", scan, ISSUE_HEADER, ISSUE_ROW), ("retire", read_requests, RETIRE_HEADER, RETIRE_ROW)]


def _count(reader, path) -> int:
    got = reader(path)
    if hasattr(got, "rows"):
        got.close()
        return got.rows
    return len(got)


def _refusal(reader, path) -> str:
    with pytest.raises(ToolError) as caught:
        reader(path)
    return caught.value.report()


@pytest.mark.parametrize(("tool", "reader", "header", "row"), _readers(), ids=["issue", "retire"])
def test_csv__bom_and_crlf__read_like_a_plain_file(tmp_path, tool, reader, header, row):
    path = tmp_path / "f.csv"
    path.write_bytes(("\ufeff" + header + "\r\n" + row + "\r\n").encode())
    assert _count(reader, path) == 1


@pytest.mark.parametrize(("tool", "reader", "header", "row"), _readers(), ids=["issue", "retire"])
@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("", 1, "the file is empty"),
        ("{header}\n", 1, "header but no data rows"),
        ("{header}\n\n\n", 3, "header but no data rows"),  # reported at the end of the file
        ('{header}\n"{row}\n{row}\n', 2, "quoted field is not closed"),
        ("{header}\n{amount_comma}\n", 2, "tonnes"),
        ("{header}\n{amount_arabic}\n", 2, "tonnes"),
        ("{header}\n{row}\n{row}\n", 3, "already used on line 2"),
    ],
    ids=["empty", "header-only", "header-and-blank-lines", "unterminated-quote", "decimal-comma", "arabic", "dup"],
)
def test_csv__hostile_file__one_line_naming_file_and_line(tmp_path, tool, reader, header, row, content, line, words):
    path = tmp_path / "f.csv"
    first = row.split(",")
    amount = 3 if tool == "issue" else 2
    comma, arabic = list(first), list(first)
    comma[amount], arabic[amount] = '"1,5"', ARABIC_50
    path.write_text(
        content.format(header=header, row=row, amount_comma=",".join(comma), amount_arabic=",".join(arabic))
    )
    report = _refusal(reader, path)
    assert f"{path}:{line}:" in report and words in report, report
    assert "Traceback" not in report


@pytest.mark.parametrize(("tool", "reader", "header", "row"), _readers(), ids=["issue", "retire"])
def test_csv__missing_file_or_directory__one_line_naming_it(tmp_path, tool, reader, header, row):
    for path, why in ((tmp_path / "nope" / "f.csv", "No such file"), (tmp_path, "Is a directory")):
        report = _refusal(reader, path)
        assert str(path) in report and why in report, report


@pytest.mark.parametrize(("tool", "reader", "header", "row"), _readers(), ids=["issue", "retire"])
def test_csv__bad_byte_after_good_rows__named_by_its_line(tmp_path, tool, reader, header, row):
    path = tmp_path / "f.csv"
    path.write_bytes(f"{header}\n{row}\n".encode() + row.replace("-1", "-\xff").encode("latin-1") + b"\n")
    report = _refusal(reader, path)
    assert f"{path}:3: file: not UTF-8" in report, report


@pytest.mark.parametrize(("tool", "reader", "header", "row"), _readers(), ids=["issue", "retire"])
def test_csv__nfd_reference__refused_never_normalized(tmp_path, tool, reader, header, row):
    # The NFD twin of a reference is other bytes on chain: refused (not silently taken as a second reference).
    path = tmp_path / "f.csv"
    path.write_text(f"{header}\n{row}\n{row.replace('-1', '-' + NFD)}\n")
    report = _refusal(reader, path)
    assert f"{path}:3: reference: not in Unicode normal form NFC" in report, report


def test_retire_csv__nfd_beneficiary_name__refused(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(f"{RETIRE_HEADER}\n{RETIRE_ROW.replace('Acme GmbH', NFD)}\n")
    assert f"{path}:2: beneficiary_name: not in Unicode normal form NFC" in _refusal(read_requests, path)


# ---------------------------------------------------------------------------------------------------- retire one

ONE = dict(project="VCS:1", batches=["VCU-1"], ids=[], amounts=["1"], beneficiary=None, reason="Scope 1",
           jurisdiction="DE", period="2025", holder=None, sender=SENDER)  # fmt: skip


def test_retire_one__nfd_reference__refused_naming_the_option():
    with pytest.raises(ToolError) as caught:
        command_request(name="Acme", reference=NFD, **ONE)
    assert "--reference: not in Unicode normal form NFC" in caught.value.report()


@pytest.mark.parametrize("option", ["name", "reason"])
def test_retire_one__nfd_name_or_reason__refused_like_the_csv(option):
    # Typed once composed and once decomposed (a macOS terminal, a copy from a PDF), the same command derives two
    # auto: references, so it retires twice; the CSV refuses the same text in any column.
    values = {"name": "Acme", **ONE, option: NFD}
    with pytest.raises(ToolError):
        command_request(reference=None, **values)


def test_retire_one__auto_reference__same_text_same_reference():
    first = command_request(name=NFC, reference=None, **ONE).reference
    assert command_request(name=NFC, reference=None, **ONE).reference == first


# ---------------------------------------------------------------------------------------------------- relay keys


def test_relay_key_file__binary_file__one_line_error_naming_it(tmp_path):
    path = tmp_path / "relayer.key"
    path.write_bytes(b"\xff\xfe\x00 not a key")
    with pytest.raises(click.ClickException, match=str(path)):
        read_key(str(path))


def test_relay_key_file__not_hex__one_line_error_naming_it(tmp_path):
    path = tmp_path / "relayer.key"
    path.write_text("٥٠" * 32)
    with pytest.raises(click.ClickException, match="not a hex private key"):
        read_key(str(path))


@pytest.mark.parametrize("sender", ["0xZZZ", "hello", "0x" + "٥" * 40])
def test_relay_sender__not_an_address__one_line_error_naming_the_option(sender):
    with pytest.raises(click.ClickException, match="--sender"):
        sending_account([], sender, None)


@pytest.mark.parametrize("alias", ["TEST::x", "TEST::", "TEST::\u0665"])
def test_attest_ape_account__test_alias_without_a_number__one_line_error_naming_the_option(alias):
    with pytest.raises(click.ClickException, match="--ape-account"):
        validator_signer(None, alias)


@pytest.mark.parametrize(("key_file", "alias"), [(None, None), ("validator.key", "TEST::1")])
def test_attest_signer__neither_or_both__one_line_error(key_file, alias):
    with pytest.raises(click.ClickException, match="exactly one of --key-file and --ape-account"):
        validator_signer(key_file, alias)


# ---------------------------------------------------------------------------------------------------- --help


def _help(command: click.Command) -> str:
    result = CliRunner().invoke(command, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("command", "option", "unit"),
    [
        (RELAY, "--batch", "Messages"),
        (RELAY, "--gas-per-message", "Gas (units)"),
        (RELAY, "--poll", "Seconds"),
        (RETIRE_CSV, "--batch-size", "rows"),
        (ISSUE, "--chunk-size", "Orders"),
    ],  # fmt: skip
    ids=["relay-batch", "relay-gas", "relay-poll", "retire-batch-size", "issue-chunk-size"],
)
def test_help__new_numeric_options__name_their_unit(command, option, unit):
    text = _help(command)
    assert option in text and unit in text


@pytest.mark.parametrize(
    ("command", "option"), [(RELAY, "--batch"), (RELAY, "--gas-per-message"), (RETIRE_CSV, "--batch-size")]
)
def test_help__new_numeric_options__show_an_example_value(command, option):
    text = _help(command)
    assert f"e.g. {option} " in text or f"Example: {option} " in text or f"{option} 1 " in text or "e.g. 600000" in text


def test_help__issue_chunk_size__shows_an_example_value():
    text = _help(ISSUE)
    assert "--chunk-size 50" in text or "e.g. --chunk-size" in text or "Example: --chunk-size" in text


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (PRICE_FEED, ["ape run price_feed --source prices.csv", "per tonne in the loan currency", "unix seconds"]),
        (SET_OBLIGATIONS, ["ape run compliance set-obligations --period 1", "obligation in tonnes", "Seconds"]),
        (ALLOW, ["ape run admin allow --csv kyc.csv", "Accounts per transaction", "e.g. --chunk-size 100"]),
    ],
    ids=["price_feed", "set-obligations", "allow"],
)
def test_help__feed_obligations_allow__show_an_example_and_units(command, words):
    text = _help(command)
    for word in words:
        assert word in text, (word, text)
