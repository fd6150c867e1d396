"""Hostile input to `ape run price_feed`, `ape run admin allow` and `ape run compliance set-obligations` as a new
user types it, against a real deployment: an RPC that is down, a file that is missing or a folder, a deployment
record of a chain that was reset, look-alike digits and Unicode normal forms, the same command twice at once, and a
run that loses its RPC mid-way then is run again. Every refusal is one line per problem, exit status non-zero, no
traceback, and nothing sent (the sender's nonce and the block number do not move); a rerun finishes exactly once.

The parsing of each field on its own is in tests/python/test_hostile_tools_input.py."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from e2e_support import Anvil, CuttableProxy, Deployment, ape_run, deploy
from tonne.core.localchain import plain_anvil

DOWN = "http://127.0.0.1:9"  # the discard port: nothing answers
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
NFC = "Société Générale Zürich"
NFD = unicodedata.normalize("NFD", NFC)
USD = 10**6
_BOILERPLATE = ("Usage: ", "Try 'ape run ", "INFO: ")  # click's usage lines around its one error line; ape's INFO
PRICE_POSTED = "0x" + keccak(text="PricePosted(uint256,uint256,uint256,address)").hex()


@pytest.fixture(scope="module")
def suite(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A permissioned suite with the pledge contracts, of its own: the allowlist, the oracle and the periods."""
    return deploy(anvil, tmp_path_factory.mktemp("deployments-hostile"), "--permissioned", "--pledge")


def _contract(d: Deployment, name: str):
    entry = d.record["contracts"][name]
    return d.w3.eth.contract(address=entry["address"], abi=entry["abi"])


def _mark(d: Deployment, w3: Web3 | None = None) -> tuple[int, int, int]:
    """The block number and the sender's (TEST::0) latest and pending nonces: what a refusal must leave as it is."""
    w3 = w3 or d.w3
    return (
        w3.eth.block_number,
        w3.eth.get_transaction_count(d.admin, "latest"),
        w3.eth.get_transaction_count(d.admin, "pending"),
    )


def _refused(result: subprocess.CompletedProcess, *words: str, lines: int = 3, code: int | None = None) -> str:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    if code is not None:
        assert result.returncode == code, out
    assert "Traceback" not in out and 'File "' not in out, out
    for word in words:
        assert word in out, out
    said = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(_BOILERPLATE)]
    assert len(said) <= lines, out
    return out


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout + result.stderr


def _fresh(n: int, salt: str) -> list[str]:
    return [to_checksum_address(keccak(text=f"{salt}-{i}")[:20]) for i in range(n)]


def _head(d: Deployment) -> int:
    return d.w3.eth.get_block("latest")["timestamp"]


def _open_period(d: Deployment) -> int:
    due = _head(d) + 365 * 86_400
    terms = ("Hostile period", "DE", 1_735_689_600, 1_767_225_599, due, 0, 0, [])
    d.transact(d.compliance.functions.openPeriod(terms))
    return d.compliance.functions.periodCount().call()


def _prices_file(path: Path, rows: list[tuple[str, str, int | str]]) -> Path:
    path.write_text("class,price,observed_at\n" + "".join(f"{c},{p},{t}\n" for c, p, t in rows))
    return path


def _obligations_file(path: Path, entities: list[str], name: str = "Acme", tonnes: str = "10") -> Path:
    path.write_text("entity,name,tonnes\n" + "".join(f"{e},{name} {i},{tonnes}\n" for i, e in enumerate(entities)))
    return path


def _allow_file(path: Path, accounts: list[str]) -> Path:
    path.write_text("account\n" + "\n".join(accounts) + "\n")
    return path


def _commands(d: Deployment, tmp_path: Path) -> dict[str, tuple[str, ...]]:
    """A valid command of each tool (files that would be accepted)."""
    project_id, _ = d.project()
    period = _open_period(d)
    prices = _prices_file(tmp_path / "p.csv", [(f"vintage:{project_id}:2021", "10", _head(d))])
    return {
        "price_feed": ("price_feed", "--source", str(prices)),
        "allow": ("admin", "allow", "--csv", str(_allow_file(tmp_path / "a.csv", _fresh(2, str(tmp_path))))),
        "set-obligations": (
            "compliance",
            "set-obligations",
            "--period",
            str(period),
            "--csv",
            str(_obligations_file(tmp_path / "o.csv", _fresh(2, f"o{tmp_path}"))),
        ),
    }


TOOLS = ["price_feed", "allow", "set-obligations"]


# ---------------------------------------------------------------------------------------------- the node and record


@pytest.mark.parametrize("tool", TOOLS)
def test_tools__rpc_down__one_line_naming_the_node(suite, tmp_path, tool):
    command = _commands(suite, tmp_path)[tool]
    down = Anvil(suite.anvil.process, DOWN, suite.anvil.w3)
    result = ape_run(*command, anvil=down, directory=suite.directory, timeout=120)
    _refused(result, DOWN)


@pytest.mark.parametrize("tool", TOOLS)
def test_tools__record_of_a_chain_that_was_reset__one_line_nothing_sent(suite, tmp_path, tool):
    command = _commands(suite, tmp_path)[tool]
    with plain_anvil() as (url, process):  # the same chain id, none of the contracts: a reset chain
        reset = Anvil(process, url, Web3(Web3.HTTPProvider(url)))
        before = _mark(suite, reset.w3)
        result = ape_run(*command, anvil=reset, directory=suite.directory, timeout=120)
        _refused(result, "no code")
        assert _mark(suite, reset.w3) == before


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("what", ["missing", "folder"])
def test_tools__file_missing_or_a_folder__refused_naming_it_nothing_sent(suite, tmp_path, tool, what):
    command = list(_commands(suite, tmp_path)[tool])
    path = tmp_path / "no-such.csv" if what == "missing" else tmp_path
    command[command.index("--source" if tool == "price_feed" else "--csv") + 1] = str(path)
    before = _mark(suite)
    result = suite.run(*command)
    _refused(result, str(path), "does not exist" if what == "missing" else "directory")
    assert _mark(suite) == before


# ---------------------------------------------------------------------------------------------- price_feed


def test_price_feed__look_alike_digits_or_huge_class__refused_nothing_posted(suite, tmp_path):
    oracle = _contract(suite, "CreditPriceOracle")
    project_id, _ = suite.project()
    token_id, _ = suite.batch(project_id, 1_000)
    now = _head(suite)
    arabic, fullwidth = str(project_id).translate(ARABIC), str(project_id).translate(FULLWIDTH)
    rows = [
        (f"P{arabic}/B١", "10", now),  # line 2: P<project>/B1 in Arabic-Indic digits
        (f"vintage:{fullwidth}:２０２１", "10", now),  # line 3: fullwidth digits
        (str(token_id).translate(ARABIC), "10", now),  # line 4: the credit id in Arabic-Indic digits
        ("9" * 80, "10", now),  # line 5: beyond uint256
        (f"P{project_id}/B1", '"1,5"', now),  # line 6: a decimal comma
        (f"P{project_id}/B1", "1e3", now),  # line 7
        (f"P{project_id}/B1", "1_000", now),  # line 8
        (f"P{project_id}/B1", "-1", now),  # line 9
        (f"P{project_id}/B1", "0", now),  # line 10
        (f"P{project_id}/B1", "9" * 80, now),  # line 11
        (f"P{project_id}/B1", "10", str(now).translate(ARABIC)),  # line 12
        (f"P{project_id}/B1", "10", "1e9"),  # line 13
    ]
    path = _prices_file(tmp_path / "look-alike.csv", rows)
    before = _mark(suite)
    result = suite.run("price_feed", "--source", str(path))
    out = _refused(result, "nothing was sent", lines=len(rows) + 1, code=1)
    for line, field in [(2, "class"), (3, "class"), (4, "class"), (5, "class")] + [(n, "price") for n in range(6, 12)]:
        assert f"{path}:{line}: {field}:" in out, (line, out)
    for line in (12, 13):
        assert f"{path}:{line}: observed_at:" in out, (line, out)
    assert _mark(suite) == before
    assert tuple(oracle.functions.priceOf(token_id).call()) == (0, 0)


def test_price_feed__json_numbers_and_keys__refused_like_the_csv_nothing_posted(suite, tmp_path):
    oracle = _contract(suite, "CreditPriceOracle")
    project_id, _ = suite.project()
    token_id, _ = suite.batch(project_id, 1_000)
    now = _head(suite)
    name = f"P{project_id}/B1"
    path = tmp_path / "prices.json"
    path.write_text(
        "[\n"
        f'{{"class": "{name}", "price": 1e3, "observed_at": {now}}},\n'  # an exponent: the CSV refuses it
        f'{{"class": "{name}", "price": 1234567890123.123456789, "observed_at": {now}}},\n'  # past a float's digits
        f'{{"class": "{name}", "price": "10", "price": "20", "observed_at": {now}}},\n'  # a key twice
        f'{{"class": "{name}", "price": "10", "observed_at": {now}, "currency": "EUR"}}\n'  # an unknown key
        "]\n"
    )
    before = _mark(suite)
    result = suite.run("price_feed", "--source", str(path))
    out = _refused(result, "nothing was sent", lines=6, code=1)
    assert f"{path}:entry 1: price: '1e3' is not a plain decimal number" in out
    assert f"{path}:entry 2: price: 1234567890123.123456789 has more than 6 decimals" in out
    assert f"{path}:entry 3: price: given twice" in out
    assert f"{path}:entry 4: currency: unknown key" in out
    assert _mark(suite) == before
    assert tuple(oracle.functions.priceOf(token_id).call()) == (0, 0)


# ---------------------------------------------------------------------------------------------- admin allow


def test_allow__look_alike_digits_in_accounts_or_chunk_size__refused_nothing_sent(suite):
    fresh = _fresh(2, "allow-look-alike")
    before = _mark(suite)
    arabic = fresh[0][:2] + fresh[0][2:].translate(ARABIC)
    refused = suite.run("admin", "allow", fresh[1], arabic)
    _refused(refused, "ACCOUNTS[2]", "not an address", "look-alike")
    for size in ("١٠", "１０", "1_0", "1e3", "1,5", "-1", "0"):
        result = suite.run("admin", "allow", fresh[1], "--chunk-size", size)
        _refused(result, "--chunk-size", code=2)
    assert _mark(suite) == before
    assert not any(suite.credit.functions.isAllowed(a).call() for a in fresh)


def test_allow__nfd_note__refused_naming_the_line_nothing_sent(suite, tmp_path):
    fresh = _fresh(2, "allow-nfd")
    path = tmp_path / "kyc.csv"
    path.write_text(f"account,note\n{fresh[0]},{NFC}\n{fresh[1]},{NFD}\n")
    before = _mark(suite)
    out = _refused(suite.run("admin", "allow", "--csv", str(path)), code=1)
    assert f"{path}:3: note: not in Unicode normal form NFC" in out
    assert _mark(suite) == before
    assert not any(suite.credit.functions.isAllowed(a).call() for a in fresh)


# ---------------------------------------------------------------------------------------------- set-obligations


def test_set_obligations__hostile_tonnes_and_entities__every_line_named_nothing_sent(suite, tmp_path):
    period = _open_period(suite)
    good = _fresh(12, "oblig-hostile")
    bad_tonnes = ['"1,5"', "1e3", "1_000", "١٢٣", "１２３", "-1", "9" * 80]
    lines = [f"{good[i]},Acme {i},{t}" for i, t in enumerate(bad_tonnes)]  # lines 2-8
    lines += [
        f"{good[7][:2]}{good[7][2:].translate(ARABIC)},Arabic,1",  # line 9
        f"0x{'0' * 40},Zero,1",  # line 10
        f"{good[8]},{NFD},1",  # line 11
        f"{good[9]},Fine,1",  # line 12: good, but not sent with the rest refused
    ]
    path = tmp_path / "hostile.csv"
    path.write_text("\ufeffentity,name,tonnes\r\n" + "\r\n".join(lines) + "\r\n")
    before = _mark(suite)
    result = suite.run("compliance", "set-obligations", "--period", str(period), "--csv", str(path))
    out = _refused(result, "10 problems found, nothing was sent", lines=12, code=1)
    for line in range(2, 9):
        assert f"{path}:{line}: tonnes:" in out, (line, out)
    for line, field in ((9, "entity"), (10, "entity"), (11, "name")):
        assert f"{path}:{line}: {field}:" in out, (line, out)
    assert "normal form NFC" in out
    assert _mark(suite) == before
    assert suite.compliance.functions.status(period, good[9]).call()[0] == 0


def test_set_obligations__nfc_then_nfd_name__refused_never_a_second_name(suite, tmp_path):
    period = _open_period(suite)
    entity = _fresh(1, "oblig-nfc")[0]
    composed = tmp_path / "nfc.csv"
    composed.write_text(f"entity,name,tonnes\n{entity},{NFC},5\n")
    _ok(suite.run("compliance", "set-obligations", "--period", str(period), "--csv", str(composed)))
    decomposed = tmp_path / "nfd.csv"
    decomposed.write_text(f"entity,name,tonnes\n{entity},{NFD},5\n")
    before = _mark(suite)
    out = _refused(suite.run("compliance", "set-obligations", "--period", str(period), "--csv", str(decomposed)))
    assert f"{decomposed}:2: name: not in Unicode normal form NFC" in out
    assert _mark(suite) == before
    assert suite.compliance.functions.entityName(period, entity).call() == NFC
    again = _ok(suite.run("compliance", "set-obligations", "--period", str(period), "--csv", str(composed)))
    assert "nothing to change: all 1 obligation(s) are already on-chain" in again
    assert _mark(suite) == before


@pytest.mark.parametrize("option", ["--period", "--pending-timeout"])
@pytest.mark.parametrize("value", ["١", "１", "1_0", "1,5", "-1"])
def test_set_obligations__hostile_numeric_option__refused_naming_it(suite, tmp_path, option, value):
    path = _obligations_file(tmp_path / "o.csv", _fresh(1, f"opt{value}"))
    args = {"--period": "1", "--pending-timeout": "5", option: value}
    before = _mark(suite)
    result = suite.run("compliance", "set-obligations", "--csv", str(path), *[x for kv in args.items() for x in kv])
    _refused(result, option, code=2)
    assert _mark(suite) == before


# ---------------------------------------------------------------------------------------------- twice at once, rerun


def _many(d: Deployment, tmp_path: Path, tool: str, n: int) -> tuple[tuple[str, ...], callable]:
    """A command of ``tool`` with ``n`` rows (several transactions), and a check that every row is on-chain exactly
    once (returns the count of its events)."""
    salt = f"{tool}-{tmp_path.name}"
    if tool == "price_feed":
        oracle = _contract(d, "CreditPriceOracle")
        project_id, _ = d.project()
        now = _head(d)
        classes = [f"vintage:{project_id}:{2000 + i}" for i in range(n)]
        path = _prices_file(tmp_path / "many.csv", [(c, f"{10 + i}.5", now) for i, c in enumerate(classes)])
        start = d.w3.eth.block_number + 1

        def check() -> int:
            ids = [(1 << 255) | (project_id << 64) | (2000 + i) for i in range(n)]
            assert [tuple(oracle.functions.priceOf(c).call()) for c in ids] == [
                ((10 + i) * USD + USD // 2, now) for i in range(n)
            ]
            logs = d.anvil.rpc(
                "eth_getLogs",
                [{"address": oracle.address, "fromBlock": hex(start), "toBlock": "latest", "topics": [PRICE_POSTED]}],
            )
            return len([log for log in logs if int(log["topics"][1], 16) in set(ids)])

        return ("price_feed", "--source", str(path)), check
    if tool == "allow":
        accounts = _fresh(n, salt)
        path = _allow_file(tmp_path / "many.csv", accounts)
        start = d.w3.eth.block_number + 1

        def check() -> int:
            assert all(d.credit.functions.isAllowed(a).call() for a in accounts)
            logs = d.credit.events.AllowlistSet().get_logs(from_block=start)
            return len([log for log in logs if log["args"]["account"] in set(accounts)])

        return ("admin", "allow", "--csv", str(path), "--chunk-size", "100"), check
    period = _open_period(d)
    entities = _fresh(n, salt)
    path = _obligations_file(tmp_path / "many.csv", entities, tonnes="7.5")
    start = d.w3.eth.block_number + 1

    def check() -> int:
        assert all(d.compliance.functions.status(period, e).call()[0] == 7_500 for e in entities)
        logs = d.compliance.events.ObligationSet().get_logs(from_block=start)
        return len([log for log in logs if log["args"]["entity"] in set(entities)])

    return ("compliance", "set-obligations", "--period", str(period), "--csv", str(path)), check


SIZES = {"price_feed": 120, "allow": 300, "set-obligations": 450}  # 3 transactions each


@pytest.mark.parametrize("tool", TOOLS)
def test_tools__same_command_twice_at_once__every_row_on_chain_exactly_once(suite, tmp_path, tool):
    command, check = _many(suite, tmp_path, tool, SIZES[tool])
    runs = [suite.start(*command, out=tmp_path / f"run{i}.out") for i in (1, 2)]
    codes = [process.wait(timeout=240) for process, _ in runs]
    texts = [(tmp_path / f"run{i}.out").read_text() + err.read_text() for i, (_, err) in zip((1, 2), runs, strict=True)]
    assert all("Traceback" not in t for t in texts), texts
    assert codes == [0, 0], texts
    assert check() == SIZES[tool], texts
    rerun = _ok(suite.run(*command))
    assert re.search(r"nothing to change|\b0 price\(s\) posted", rerun), rerun
    assert check() == SIZES[tool]


@pytest.mark.parametrize("tool", TOOLS)
def test_tools__rpc_lost_after_the_first_transaction__one_line_then_rerun_finishes_exactly_once(suite, tmp_path, tool):
    command, check = _many(suite, tmp_path, tool, SIZES[tool])
    proxy = CuttableProxy(suite.anvil.url, sends_allowed=1)
    try:
        cut = ape_run(*command, anvil=Anvil(suite.anvil.process, proxy.url, suite.w3), directory=suite.directory)
    finally:
        proxy.close()
    out = _refused(cut, lines=len(cut.stderr.splitlines()))  # the plan, on stderr, then one line
    last = cut.stderr.strip().splitlines()[-1]
    assert "lost the connection to the RPC" in last and "run the same command again" in last, out
    rerun = _ok(suite.run(*command))
    assert check() == SIZES[tool], rerun
    assert not re.search(r"nothing to change|\b0 price\(s\) posted", rerun), rerun  # it did resume the rest
