"""Hostile input to `ape run supervise` (index, watch, reconcile, report), `ape run verify` and `ape run deploy`,
checked without a chain: look-alike numbers in every option and in the config file, a byte order mark, CRLF line
endings, an unterminated quote, identity names in two Unicode normal forms, a database that is not an index, is
corrupt, is a server that is not there or is named by a malformed URL, an --out that cannot be written or is written
twice at once, an "RPC" that answers a web page, and deployment records whose fields are of the wrong type. Every
refusal is one line naming the file and line, or the field, or the option; nothing is written for a refused input.

The cases that need a chain (a stale record, verify against a web page) are in tests/e2e/test_hostile_supervise.py.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import sqlite3
import threading
import traceback
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from web3 import Web3

from tonne.core.database import DatabaseError
from tonne.core.deployments import DeploymentError, read_record_file
from tonne.core.verification import VerificationError, inputs_of, load_input
from tonne.supervise.catalog import CatalogError, catalogs_of_file
from tonne.supervise.config import ConfigError
from tonne.supervise.index import ChainReader, RpcError
from tonne.supervise.ledger import Ledger
from tonne.supervise.report import write_report
from tonne.supervise.rules import load_config
from tonne.supervise.store import IndexStore

SCRIPTS = Path(__file__).parents[2] / "scripts"
NFC = "Société Générale"
NFD = unicodedata.normalize("NFD", NFC)
A1 = "0x00000000000000000000000000000000000000a1"
A2 = "0x00000000000000000000000000000000000000a2"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOWN_PG = "postgresql+psycopg://nobody@127.0.0.1:9/tonne"  # the discard port: no server


def _load(script: str) -> click.Command:
    spec = importlib.util.spec_from_file_location(f"hostile_sv_{script}", SCRIPTS / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli


SUPERVISE = _load("supervise")
DEPLOY = _load("deploy")


def _run(command: click.Command, *args: str) -> tuple[int, str]:
    result = CliRunner(mix_stderr=False).invoke(command, list(args))
    out = result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        out += "".join(traceback.format_exception(result.exception))
        return 1, out
    return result.exit_code, out


def _refused(command: click.Command, *args: str) -> str:
    """Exit non-zero, no trace, and exactly one ``Error`` line (click's usage lines aside): that line."""
    code, out = _run(command, *args)
    assert code != 0, out
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, out
    assert not [line for line in out.splitlines() if line.startswith(("\t", "    "))], out  # no continuation lines
    return errors[0]


def _convert(command: click.Command, option: str, text: str):
    param = next(p for p in command.params if option in p.opts)
    return param.type.convert(text, param, click.Context(command))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def index(tmp_path: Path) -> Path:
    """An empty supervision index (what `supervise index` writes before the first event)."""
    path = tmp_path / "index.sqlite"
    IndexStore(f"sqlite:///{path}").close()
    return path


# ---------------------------------------------------------------------------------------------------- numeric options

NUMERIC = [
    (SUPERVISE.commands["index"], "--interval"),
    (SUPERVISE.commands["watch"], "--interval"),
    *[(SUPERVISE.commands[c], o) for c in ("index", "watch", "reconcile") for o in ("--confirmations", "--max-range")],
    (DEPLOY, "--admin-delay"),
]


@pytest.mark.parametrize(("command", "option"), NUMERIC, ids=[f"{c.name}{o}" for c, o in NUMERIC])
@pytest.mark.parametrize("text", ["1,5", "1e3", "1_000", "\u0661\u0660", "\uff11\uff10", "nan", "0x10", "+5", ""])
def test_numeric_option__comma_exponent_separator_or_other_digits__refused(command, option, text):
    with pytest.raises(click.BadParameter):
        _convert(command, option, text)


def test_deploy_admin_delay__beyond_the_contracts_uint48__refused_at_the_option():
    # Before: eth_abi's ValueOutOfBounds traceback from the first constructor, after compiling (also with --dry-run).
    with pytest.raises(click.BadParameter, match="281474976710655"):
        _convert(DEPLOY, "--admin-delay", str(2**48))
    assert _convert(DEPLOY, "--admin-delay", str(2**48 - 1)) == 2**48 - 1


@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("text", ["1e3", "1_000", "1,5", "\u0661\u0667\u0660\u0660", "-5", "2026-13-01"])
def test_report_period__look_alike_numbers__refused_naming_the_option(index, tmp_path, option, text):
    error = _refused(SUPERVISE, "report", "--db", f"sqlite:///{index}", "--out", str(tmp_path / "r.html"), option, text)
    assert option in error
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("text", ["253402300800", "9999999999999", "99999999999999999999"])
def test_report_period__after_the_year_9999__refused_naming_the_option(index, tmp_path, option, text):
    # Before: OverflowError or "year 10000 is out of range" tracebacks from datetime and SQLite.
    error = _refused(SUPERVISE, "report", "--db", f"sqlite:///{index}", "--out", str(tmp_path / "r.html"), option, text)
    assert option in error and "9999" in error
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "text", [f"{TOKEN}=\u0666", f"{TOKEN}=1e1", f"{TOKEN}=1_0", f"{TOKEN}=6.0", f"{TOKEN}=6,0", f"{TOKEN}=99"]
)
def test_report_decimals__look_alike_or_too_many__refused_naming_the_option(index, tmp_path, text):
    error = _refused(SUPERVISE, "report", "--db", f"sqlite:///{index}", "--out", str(tmp_path / "r.html"),
                     "--decimals", text)  # fmt: skip
    assert "--decimals" in error
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------------------------------------------- the config file


def _config(tmp_path: Path, data: bytes | str) -> Path:
    path = tmp_path / "supervise.toml"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_config__a_byte_order_mark__read_as_without_one(tmp_path):
    # Before: "supervise.toml:1:1: not valid TOML: Invalid statement" for a file Notepad saved.
    plain = load_config(_config(tmp_path, "[round-trip]\nwindow_hours = 12.0\n"))
    assert plain.round_trip.window_hours == 12.0
    assert load_config(_config(tmp_path, "\ufeff[round-trip]\nwindow_hours = 12.0\n")) == plain


def test_config__crlf_line_endings__read_and_errors_at_the_right_line(tmp_path):
    text = '[round-trip]\r\nwindow_hours = 12.0\r\n[identities]\r\nx = ["' + A1 + '"]\r\n'
    assert load_config(_config(tmp_path, text)).round_trip.window_hours == 12.0
    path = _config(tmp_path, "# thresholds\r\n[round-trip]\r\nwindow_hours = -1\r\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3: round-trip.window_hours: must not be negative"):
        load_config(path)


@pytest.mark.parametrize(
    ("value", "where"),
    [("24,5", ":2:18: not valid TOML"), ("\u0662\u0664", ":2:16: not valid TOML"), ("\uff12\uff14", ":2:16: not valid"),
     ('"24"', ":2: round-trip.window_hours: must be a number, not a string")],
)  # fmt: skip
def test_config__a_decimal_comma_other_digits_or_a_string__refused_at_its_line(tmp_path, value, where):
    path = _config(tmp_path, f"[round-trip]\nwindow_hours = {value}\n")
    with pytest.raises(ConfigError, match="^" + str(path) + where):
        load_config(path)


def test_config__toml_exponent_and_separator__are_toml_numbers_but_a_count_must_be_whole(tmp_path):
    # 1e3 and 1_000 are numbers in TOML itself (unlike on the command line); a count given as a float is refused.
    assert load_config(_config(tmp_path, "[round-trip]\nwindow_hours = 1e3\n")).round_trip.window_hours == 1000
    assert load_config(_config(tmp_path, "[price-outlier]\nmin_trades = 1_000\n")).price_outlier.min_trades == 1000
    path = _config(tmp_path, "[price-outlier]\nmin_trades = 1e3\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: price-outlier.min_trades: must be a whole number"):
        load_config(path)


def test_config__an_unterminated_quote__refused_at_its_line_and_column(tmp_path):
    path = _config(tmp_path, f'[identities]\n"Acme = ["{A1}"]\n')
    with pytest.raises(ConfigError, match=rf"^{path}:2:\d+: not valid TOML"):
        load_config(path)


def test_config__not_utf8__refused_naming_the_line(tmp_path):
    # Before: "cannot read the config file: 'utf-8' codec can't decode byte 0xe9 in position 41: ..." (no line).
    path = _config(
        tmp_path, b'[round-trip]\nwindow_hours = 1.0\n[identities]\n"Soci\xe9t\xe9" = ["' + A1.encode() + b'"]\n'
    )
    with pytest.raises(ConfigError, match=rf"^{path}:4: not UTF-8 text"):
        load_config(path)


def test_config__one_identity_name_in_nfc_and_in_nfd__refused_naming_both_lines(tmp_path):
    # Before: two identity groups that print alike ("Société Générale" twice), the accounts of one not linked to the
    # other's: a round trip between them is not flagged, and the alerts name two parties that look like one.
    path = _config(tmp_path, f'[identities]\n"{NFC}" = ["{A1}"]\n"{NFD}" = ["{A2}"]\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:3: identities.{NFD}: the same name as identity {NFC!r} ({path}:2)")
    assert "normal form" in message
    one = load_config(_config(tmp_path, f'[identities]\n"{NFC}" = ["{A1}", "{A2}"]\n'))
    assert one.party(A1) == one.party(A2) == f"identity:{NFC}"


def test_config__an_empty_identity_name__refused(tmp_path):
    path = _config(tmp_path, f'[identities]\n"  " = ["{A1}"]\n')
    with pytest.raises(ConfigError, match=rf"^{path}:2: identities.  : an identity needs a name"):
        load_config(path)


@pytest.mark.parametrize("text", ["# x\nround-trip.window_hours = -1\n", "# x\nround-trip = { window_hours = -1 }\n"])
def test_config__dotted_key_or_inline_table__refused_at_its_line(tmp_path, text):
    # Before: "supervise.toml: round-trip.window_hours: ..." with no line.
    path = _config(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{path}:2: round-trip.window_hours: must not be negative"):
        load_config(path)


def test_watch_and_report__a_bad_config__refused_before_any_connection_or_file(tmp_path, index):
    path = _config(tmp_path, f'[identities]\n"{NFC}" = ["{A1}"]\n"{NFD}" = ["{A2}"]\n')
    error = _refused(SUPERVISE, "watch", "--once", "--rpc", "http://127.0.0.1:9", "--config", str(path))
    assert f"{path}:3: identities." in error
    out = tmp_path / "r.html"
    error = _refused(SUPERVISE, "report", "--db", f"sqlite:///{index}", "--out", str(out), "--config", str(path))
    assert f"{path}:3: identities." in error and not out.exists()


# ---------------------------------------------------------------------------------------------------- report's database


def test_report__a_database_of_another_tool__refused_and_left_byte_for_byte(tmp_path):
    # Before: the report's store created the index's tables in it (and switched it to WAL), then reported 0 events.
    other = tmp_path / "book.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, price TEXT)")
        conn.execute("INSERT INTO orders (price) VALUES ('12.5')")
    conn.close()
    before = _digest(other)
    error = _refused(SUPERVISE, "report", "--db", f"sqlite:///{other}", "--out", str(tmp_path / "r.html"))
    assert "not a supervision index" in error and str(other) in error
    assert _digest(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.sqlite"]  # no -wal, -shm or report


def test_report__a_corrupt_database__refused_and_left_as_it_was(tmp_path):
    corrupt = tmp_path / "index.sqlite"
    corrupt.write_bytes(b"not a database, " * 512)
    before = _digest(corrupt)
    error = _refused(SUPERVISE, "report", "--db", f"sqlite:///{corrupt}", "--out", str(tmp_path / "r.html"))
    assert "not a database" in error
    assert _digest(corrupt) == before and not (tmp_path / "r.html").exists()


def test_report__a_postgresql_server_that_is_not_there__one_line(tmp_path):
    # Before: the driver's two-line message ("... Connection refused\n\tIs the server running on that host ...").
    error = _refused(SUPERVISE, "report", "--db", DOWN_PG, "--out", str(tmp_path / "r.html"))
    assert "Connection refused" in error and "Is the server running" in error
    assert not (tmp_path / "r.html").exists()


def test_report__sqlite_url_with_two_slashes__one_line_naming_the_forms(tmp_path):
    # Before: SQLAlchemy's five-line "Invalid SQLite URL" message.
    error = _refused(SUPERVISE, "report", "--db", "sqlite://index.sqlite", "--out", str(tmp_path / "r.html"))
    assert "sqlite:///relative/path" in error
    with pytest.raises(DatabaseError, match="sqlite:///relative/path"):
        IndexStore("sqlite://index.sqlite")


def test_report__missing_folder_or_a_folder_as_out__refused_naming_out(index, tmp_path):
    assert "--out" in _refused(SUPERVISE, "report", "--db", f"sqlite:///{index}", "--out", str(tmp_path / "no/r.html"))
    assert "--out" in _refused(SUPERVISE, "report", "--db", f"sqlite:///{index}", "--out", str(tmp_path))
    missing = tmp_path / "none.sqlite"
    assert "no such database" in _refused(SUPERVISE, "report", "--db", f"sqlite:///{missing}", "--out", "r.html")
    assert not missing.exists()


def _unwritable(tmp_path: Path) -> Path | None:
    """A folder this process cannot create a file in (a read-only one; /sys when running as root), or None."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        probe = candidate / ".tonne-probe"
        try:
            probe.write_text("x")
        except OSError:
            return candidate
        probe.unlink()
    return None


def test_report__an_out_folder_that_cannot_be_written__one_line_naming_out(index, tmp_path):
    # Before: PermissionError traceback from the temporary file.
    folder = _unwritable(tmp_path)
    if folder is None:
        pytest.skip("no folder here refuses this process a file")
    error = _refused(SUPERVISE, "report", "--db", f"sqlite:///{index}", "--out", str(folder / "r.html"))
    assert f"--out {folder / 'r.html'}: cannot write the report" in error


def test_report__one_out_written_twice_at_once__each_write_whole_no_error(index, tmp_path):
    # Before: both runs wrote one ".r.html.tmp": the second's rename found it gone (FileNotFoundError), or renamed
    # a file the first was still writing.
    store = IndexStore(f"sqlite:///{index}")
    ledger = Ledger.build(store.events(), store.sources())
    out, errors = tmp_path / "r.html", []

    def write(n: int) -> None:
        try:
            for _ in range(15):
                write_report(ledger, [], out, sources=store, generated=1_900_000_000 + n)
        except Exception as exc:  # noqa: BLE001 - the failure under test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert errors == []
    text = out.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</html>") and text.count("</html>") == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# ---------------------------------------------------------------------------------------------------- an RPC of garbage


class _Answers(http.server.BaseHTTPRequestHandler):
    body = b""
    kind = "text/html"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", self.kind)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(params=["html", "json", "chain-id"])
def garbage_rpc(request) -> Iterator[str]:
    """A URL that answers, but not as a node: a web page, another service's JSON, or a chain id that is no number."""
    body, kind = {
        "html": (b"<html><body>Welcome to nginx!</body></html>", "text/html"),
        "json": (b'{"status": "ok"}', "application/json"),
        "chain-id": (b'{"jsonrpc": "2.0", "id": 0, "result": "mainnet"}', "application/json"),
    }[request.param]
    handler = type("Handler", (_Answers,), {"body": body, "kind": kind})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_reader__an_url_that_answers_garbage__rpc_error_saying_so(garbage_rpc):
    # Before: "no node answers (line 1 column 1 (char 0))" for a web page; KeyError 'result' or ValueError
    # tracebacks for JSON that is not JSON-RPC.
    reader = ChainReader(Web3.HTTPProvider(garbage_rpc), garbage_rpc)
    with pytest.raises(RpcError, match="the answer is not JSON-RPC"):
        reader.chain_id()


@pytest.mark.parametrize("command", ["index", "watch", "reconcile"])
def test_supervise__an_rpc_that_answers_garbage__one_line_and_no_database(garbage_rpc, tmp_path, command):
    db = tmp_path / "index.sqlite"
    error = _refused(SUPERVISE, command, "--rpc", garbage_rpc, "--db", f"sqlite:///{db}")
    assert f"--rpc {garbage_rpc}: the answer is not JSON-RPC" in error
    assert not db.exists()


# ---------------------------------------------------------------------------------------------------- records


def _record(**contract_fields) -> dict:
    entry = {"address": TOKEN, "abi": [], "blockNumber": 3, **contract_fields}
    return {"schema": "tonne.deployment/1", "chainId": 31337, "contracts": {"CarbonRegistry": entry}}


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_record(abi="nope"), "contracts.CarbonRegistry.abi"),
        (_record(abi=["x"]), "contracts.CarbonRegistry.abi"),
        (_record(abi=[{"type": "event", "inputs": []}]), "contracts.CarbonRegistry.abi"),  # no name
        (_record(blockNumber="\u0665"), "contracts.CarbonRegistry.blockNumber"),
        (_record(blockNumber=1e3), "contracts.CarbonRegistry.blockNumber"),
        (_record(blockNumber=True), "contracts.CarbonRegistry.blockNumber"),
        ({**_record(), "chainId": "31337"}, "chainId"),
        ({**_record(), "startBlock": "7"}, "startBlock"),
        ({"chainId": 1, "contracts": ["CarbonRegistry"]}, "not a Tonne deployment record"),
        ([1, 2], "not a Tonne deployment record"),
    ],
)
def test_catalog__record_fields_of_the_wrong_type__refused_naming_the_field(record, field):
    # Before: AttributeError / KeyError tracebacks (an abi that is not a list of objects), and '٥', 1e3 or True taken
    # as block 5, 1000 or 1 by int().
    with pytest.raises(CatalogError, match=f"^deployments/31337.json: {field}"):
        catalogs_of_file(record, "deployments/31337.json")


def test_record__a_byte_order_mark_and_crlf__read_as_the_plain_file(tmp_path):
    # Before: verify refused "Unexpected UTF-8 BOM" while supervise read the same record.
    contracts = {name: {"address": TOKEN, "abi": [{"type": "event"}]} for name in
                 ("CarbonRegistry", "CarbonCredit", "CarbonRetirement", "CompliancePeriods")}  # fmt: skip
    record = {"schema": "tonne.deployment/1", "chainId": 31337, "contracts": contracts}
    path = tmp_path / "31337.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(record, indent=2).replace("\n", "\r\n").encode())
    assert read_record_file(path, 31337) == record
    path.write_text(json.dumps({**record, "contracts": list(contracts)}))
    with pytest.raises(DeploymentError, match=rf"^{path}: contracts: expected an object"):
        read_record_file(path, 31337)  # before: AttributeError: 'list' object has no attribute 'get'


def test_standard_json_input__a_byte_order_mark__read(tmp_path):
    path = tmp_path / "CarbonRegistry.input.json"
    data = {"language": "Solidity", "sources": {"a.sol": {"content": ""}}, "settings": {"outputSelection": {}}}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(data, indent=1).replace("\n", "\r\n").encode())
    assert load_input(path) == data


VERIFY_RECORD = {
    "compiler": {"version": "0.8.28+commit.7893614a"},
    "contracts": {"CarbonRegistry": {"address": TOKEN, "standardJsonInput": "31337/CarbonRegistry.input.json",
                                     "transactionHash": "0x" + "ab" * 32, "constructorArguments": "0x"}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"compiler": {"version": 5}}, "compiler.version"),
        ({"compiler": None}, "compiler.version"),
        ({"standardJsonInput": 5}, "contracts.CarbonRegistry.standardJsonInput"),
        ({"transactionHash": "0x12"}, "contracts.CarbonRegistry.transactionHash"),
        ({"constructorArguments": "0xzz"}, "contracts.CarbonRegistry.constructorArguments"),
        ({"constructorArguments": "0xabc"}, "contracts.CarbonRegistry.constructorArguments"),
        ({"constructorArguments": 7}, "contracts.CarbonRegistry.constructorArguments"),
    ],
)
def test_verify_inputs__record_fields_of_the_wrong_type__refused_before_compiling(tmp_path, change, field):
    # Before: AttributeError/TypeError/ValueError tracebacks, the last two after compiling the contract.
    record = json.loads(json.dumps(VERIFY_RECORD))
    if "compiler" in change:
        record.update(change)
    else:
        record["contracts"]["CarbonRegistry"].update(change)
    with pytest.raises(VerificationError, match=f"^{field}: "):
        inputs_of(record, tmp_path)
    assert inputs_of(VERIFY_RECORD, tmp_path) == {"CarbonRegistry": tmp_path / "31337/CarbonRegistry.input.json"}
