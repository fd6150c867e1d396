"""The market tools run as a user runs them, against our own Anvil and the real CreditExchange (`deploy --market`):
sell -> book -> buy; a criteria bid matched; cancel and cancel-all; trades and the day's CSV export; the book
service restarted while orders stream in (SQLite, and PostgreSQL through tests/python/conftest.py's server),
answering bad requests with a clear error; hostile amounts refused with nothing sent; every command's --help."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from e2e_support import ROOT, Deployment, ape_run, contract, deploy, ok, refused, stocked
from postgres_support import fresh_schema, postgres_server  # noqa: F401 - a fixture
from tonne.core.localchain import free_port
from tonne.market.book.schema import order_to_json
from tonne.market.orders import SELL, Domain, Order, order_hash, sign_order

# Anvil's (and ape's) dev accounts: TEST::0 is the deployer.
SELLER, SELLER_KEY = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    ("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
)
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
KEEPER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
USD = 10**6
HASH = re.compile(r"0x[0-9a-f]{64}")


@pytest.fixture(scope="module")
def market(anvil, tmp_path_factory) -> Deployment:
    return deploy(anvil, tmp_path_factory.mktemp("deployments-market"), "--market")


def test_deploy_market__permissioned__exchange_allowlisted_and_said(anvil, tmp_path):
    result = ape_run("deploy", "--dev-roles", "--permissioned", "--market", anvil=anvil, directory=tmp_path)
    out = ok(result)
    record = json.loads((tmp_path / f"{anvil.w3.eth.chain_id}.json").read_text())
    entries = record["contracts"]
    exchange = anvil.w3.eth.contract(address=entries["CreditExchange"]["address"], abi=entries["CreditExchange"]["abi"])
    credit = anvil.w3.eth.contract(address=entries["CarbonCredit"]["address"], abi=entries["CarbonCredit"]["abi"])
    assert credit.functions.isAllowed(exchange.address).call() is True
    assert f"note: permissioned mode: the exchange {exchange.address} was allowlisted on {credit.address}" in out
    assert f"CreditExchange    {exchange.address}" in out
    config = record["config"]["market"]
    assert config["allowlisted"] is True and config["testPaymentToken"] is True
    assert config["paymentToken"] == entries["TestStablecoin"]["address"]
    assert exchange.functions.retirement().call() == entries["CarbonRetirement"]["address"]
    assert exchange.functions.credit().call() == credit.address
    assert tuple(exchange.functions.fee().call()) == (0, "0x" + "00" * 20)
    assert exchange.functions.owner().call() == record["deployer"]


def hashes(text: str) -> list[str]:
    return HASH.findall(text)


def posted_hash(out: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith("order 0x"))
    return line.split()[1]


def fund(d: Deployment, who: str, usd: int) -> None:
    d.transact(contract(d, "TestStablecoin").functions.mint(who, usd * USD))


def test_market__sell_book_buy__best_price_first_exact_settlement(market):
    d = market
    usd, credit = contract(d, "TestStablecoin"), d.credit
    [(pid, _, token_id, _), _] = stocked(d)
    cid = f"P{pid}/B1"
    fund(d, BUYER, 1_000)
    dear = posted_hash(ok(d.run("market", "sell", cid, "10", "--price", "12.5")))
    cheap = posted_hash(ok(d.run("market", "sell", cid, "5", "--price", "12", "--min-fill", "1")))
    shown = ok(d.run("market", "book", cid, "--side", "sell", account=None))
    assert hashes(shown) == [cheap, dear], shown
    assert "5 t at 12 tUSD/t; fillable now 5 t" in shown and "10 t at 12.5 tUSD/t; fillable now 10 t" in shown

    seller_cash = usd.functions.balanceOf(SELLER).call()
    bought = ok(d.run("market", "buy", cid, "7.5", "--max-price", "12.5", account="TEST::1"))
    assert "bought 7.5 t of" in bought and "for 91.25 tUSD" in bought, bought
    assert credit.functions.balanceOf(BUYER, token_id).call() == 7_500
    # 5 t at 12 tUSD/t + 2.5 t at 12.5 tUSD/t, no fee: 60 + 31.25 tUSD, to the unit.
    assert usd.functions.balanceOf(SELLER).call() - seller_cash == 5_000 * 12_000 + 2_500 * 12_500

    after = ok(d.run("market", "book", cid, "--side", "sell", account=None))
    assert hashes(after) == [dear] and "fillable now 7.5 t" in after, after  # the filled order left the book

    block = d.w3.eth.block_number
    short = d.run("market", "buy", cid, "8", "--max-price", "12.5", account="TEST::1")
    refused(short, "only 7.5 t of", "at or below 12.5 tUSD/t", "nothing was sent")
    cheap_only = d.run("market", "buy", cid, "1", "--max-price", "12.4", account="TEST::1")
    refused(cheap_only, "only 0 t")
    assert d.w3.eth.block_number == block


def test_market__criteria_bid__shown_for_the_id_and_matched_at_the_resting_price(market):
    d = market
    usd, credit = contract(d, "TestStablecoin"), d.credit
    [(pid, _, token_id, _), _] = stocked(d)  # VCS, country ID, monitoring period 2021
    cid = f"P{pid}/B1"
    fund(d, BUYER, 1_000)
    ok(d.run("market", "sell", cid, "4", "--price", "10"))
    wrong = ok(d.run("market", "bid", "any", "2", "--price", "11", "--project", str(pid), "--country", "BR",
                     account="TEST::1"))  # fmt: skip
    bid = ok(d.run("market", "bid", "any", "3", "--price", "11", "--project", str(pid), "--standard", "VCS",
                   "--vintage-from", "2021", "--vintage-to", "2021", "--country", "ID", account="TEST::1"))  # fmt: skip
    assert f"bid 3 t of project {pid}, standard" in bid and "vintage 2021-2021, country ID" in bid, bid
    shown = ok(d.run("market", "book", cid, "--side", "buy", account=None))
    assert posted_hash(bid) in shown and posted_hash(wrong) not in shown, shown  # BR: not this batch's country
    assert "fillable now 3 t" in shown
    by_criteria = ok(d.run("market", "book", "any", "--side", "buy", "--country", "ID", "--project", str(pid),
                           account=None))  # fmt: skip
    assert posted_hash(bid) in by_criteria and posted_hash(wrong) not in by_criteria

    seller_cash, buyer_held = usd.functions.balanceOf(SELLER).call(), credit.functions.balanceOf(BUYER, token_id).call()
    keeper_cash = usd.functions.balanceOf(KEEPER).call()
    matched = ok(d.run("market", "match", cid, account="TEST::2"))
    assert "matched 3 t of" in matched and "at 10 tUSD/t" in matched, matched  # the sell rested first
    assert credit.functions.balanceOf(BUYER, token_id).call() - buyer_held == 3_000
    assert usd.functions.balanceOf(SELLER).call() - seller_cash == 3_000 * 10_000
    assert usd.functions.balanceOf(KEEPER).call() == keeper_cash  # the matcher receives nothing
    block = d.w3.eth.block_number
    refused(d.run("market", "match", cid, account="TEST::2"), "no crossing sell and buy orders")
    assert d.w3.eth.block_number == block


def test_market__cancel_and_cancel_all__orders_leave_the_book(market):
    d = market
    exchange = contract(d, "CreditExchange")
    [(pid, _, _, _), _] = stocked(d)
    cid = f"P{pid}/B1"
    one = posted_hash(ok(d.run("market", "sell", cid, "1", "--price", "20")))
    two = posted_hash(ok(d.run("market", "sell", cid, "2", "--price", "21")))
    refused(d.run("market", "cancel", one, account="TEST::1"), "an order of", SELLER)
    out = ok(d.run("market", "cancel", one))
    assert f"cancelled {one}" in out and exchange.functions.cancelled(one).call() is True
    assert hashes(ok(d.run("market", "book", cid, account=None))) == [two]
    refused(d.run("market", "cancel", one), "already cancelled")
    refused(d.run("market", "cancel", "0x" + "ab" * 31), "HASH", "64 hex digits")

    counter = exchange.functions.counterOf(SELLER).call()
    out = ok(d.run("market", "cancel-all"))
    raised = exchange.functions.counterOf(SELLER).call()
    assert raised != counter and f"counter now {raised}" in out  # the step is unpredictable (AUDIT-3), not +1
    assert hashes(ok(d.run("market", "book", cid, account=None))) == []
    fresh = posted_hash(ok(d.run("market", "sell", cid, "1", "--price", "22")))  # signed with the new counter
    assert hashes(ok(d.run("market", "book", cid, account=None))) == [fresh]


def test_market__trades_and_export__every_fill_once_match_once(market, tmp_path):
    d = market
    [(pid, _, token_id, _), _] = stocked(d)
    cid = f"P{pid}/B1"
    fund(d, BUYER, 1_000)
    ok(d.run("market", "sell", cid, "2", "--price", "30"))
    ok(d.run("market", "buy", cid, "0.5", "--max-price", "30", account="TEST::1"))
    ok(d.run("market", "bid", cid, "1", "--price", "31", account="TEST::1"))
    ok(d.run("market", "match", cid, account="TEST::2"))
    out = ok(d.run("market", "trades", "--id", cid, account=None))
    assert "\n2 trades\n" in out, out
    assert "0.5 t of" in out and "bought from sell order" in out and "1 t of" in out and "match" in out
    assert f"seller {SELLER}, buyer {BUYER}" in out

    day = datetime.fromtimestamp(d.w3.eth.get_block("latest")["timestamp"], tz=timezone.utc).date().isoformat()
    out = ok(d.run("market", "export", "--day", day, "--out", str(tmp_path), account=None))
    trades = list(csv.DictReader(io.StringIO((tmp_path / f"trades-{day}.csv").read_text())))
    mine = [t for t in trades if int(t["token_id"]) == token_id]
    assert [(t["units"], t["tonnes"], t["price_per_unit"], t["matched"]) for t in mine] == [
        ("500", "0.5", "30000", "no"),
        ("1000", "1", "30000", "yes"),  # the resting sell's price; one row for the match, not two
    ]
    assert sum(int(t["cost"]) for t in mine) == 1_500 * 30_000
    assert f"trades -> {tmp_path / f'trades-{day}.csv'}" in out
    # The book dates an order by when it first saw it (the clock), the chain a trade by its block: on a chain whose
    # time was moved ahead (other tests' evm_increaseTime) the two days differ.
    wall = datetime.now(timezone.utc).date().isoformat()
    if wall != day:
        ok(d.run("market", "export", "--day", wall, "--out", str(tmp_path), account=None))
    orders = list(csv.DictReader(io.StringIO((tmp_path / f"orders-{wall}.csv").read_text())))
    mine = [o for o in orders if int(o["token_id"]) in (token_id, 0)]
    assert sorted((o["side"], o["amount"], o["price_per_unit"]) for o in mine if o["token_id"] != "0") == [
        ("0", "2000", "30000"),
        ("1", "1000", "31000"),
    ]
    refused(d.run("market", "export", "--day", "2026-13-01", account=None), "--day", "YYYY-MM-DD")


# ------------------------------------------------------------------------------------------- the book service


class Service:
    def __init__(self, d: Deployment, out: Path, *args: str):
        self.d, self.out, self.args = d, out, args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> None:
        self.process, _ = self.d.start("market", "serve", "--port", str(self.port), "--confirmations", "0",
                                       "--poll", "0.2", *self.args, out=self.out, account=None)  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.out.read_text() + self.out.with_suffix(".err").read_text()
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise AssertionError("the book service did not start: " + self.out.with_suffix(".err").read_text())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def presigned(d: Deployment, token_id: int, n: int, price: int) -> list[dict]:
    exchange = contract(d, "CreditExchange")
    domain = Domain(d.w3.eth.chain_id, exchange.address)
    now = d.w3.eth.get_block("latest")["timestamp"]
    bodies = []
    for i in range(n):
        order = Order(
            maker=SELLER,
            side=SELL,
            token_id=token_id,
            amount=1_000,
            price_per_unit=price + i,
            payment_token=d.record["config"]["market"]["paymentToken"],
            expiry=now + 86_400,
            listed_at=now - 10,
            nonce=10**9 + i,
            counter=exchange.functions.counterOf(SELLER).call(),
        )
        bodies.append(
            {
                "order": order_to_json(order),
                "signature": "0x" + sign_order(order, domain, SELLER_KEY).hex(),
                "chainId": str(domain.chain_id),
                "exchange": domain.verifying_contract,
                "hash": "0x" + order_hash(order, domain).hex(),
            }
        )
    return bodies


def stream_through_restart(service: Service, bodies: list[dict]) -> list[int]:
    """POST every body while the service is restarted once, mid-stream; a refused connection is retried (as a
    client would), so every order is offered at least once; returns the statuses of the answers."""
    statuses: list[int] = []

    def post_all():
        for body in bodies:
            payload = {k: v for k, v in body.items() if k != "hash"}
            for _ in range(600):
                try:
                    statuses.append(requests.post(service.url + "/orders", json=payload, timeout=10).status_code)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            time.sleep(0.05)

    poster = threading.Thread(target=post_all)
    poster.start()
    while len(statuses) < len(bodies) // 3:
        time.sleep(0.05)
    service.stop()
    service.start()
    poster.join(180)
    return statuses


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_market_serve__restarted_mid_stream__no_order_lost_or_doubled_bad_requests_answered(
    market, tmp_path, request, database
):
    d = market
    [(pid, _, token_id, _), _] = stocked(d)
    d.transact(d.credit.functions.setApprovalForAll(d.record["contracts"]["CreditExchange"]["address"], True))
    if database == "sqlite":
        args = ("--db", str(tmp_path / "book.sqlite"))
    else:
        args = ("--database", fresh_schema(request.getfixturevalue("postgres_server"), "market_e2e"))
    service = Service(d, tmp_path / "serve.out", *args)
    service.start()
    try:
        # A sell through the script, then a stream of pre-signed orders across a restart of the service.
        first = posted_hash(ok(d.run("market", "sell", f"P{pid}/B1", "1", "--price", "9", "--book", service.url)))
        bodies = presigned(d, token_id, 12, 9_001)
        statuses = stream_through_restart(service, bodies)
        assert len(statuses) == len(bodies) and set(statuses) <= {200, 201}, statuses
        book = requests.get(service.url + "/orders", params={"side": "sell", "token_id": str(token_id),
                                                             "limit": "500"}, timeout=10).json()["orders"]  # fmt: skip
        listed = [o["hash"] for o in book]
        assert sorted(listed) == sorted([first] + [b["hash"] for b in bodies]), "an order lost or doubled"
        # The same order again: the one stored (200), not a second.
        again = requests.post(service.url + "/orders", json={k: v for k, v in bodies[0].items() if k != "hash"})
        assert again.status_code == 200 and again.json()["hash"] == bodies[0]["hash"]
        assert requests.get(service.url + "/health", timeout=10).json()["openOrders"] == len(bodies) + 1
        shown = ok(d.run("market", "book", f"P{pid}/B1", "--side", "sell", "--book", service.url, account=None))
        assert hashes(shown) == [first] + [b["hash"] for b in bodies]  # 9 tUSD/t, then 9.001, 9.002, ...

        good = {k: v for k, v in presigned(d, token_id, 1, 50_000)[0].items() if k != "hash"}
        malformed = requests.post(service.url + "/orders", data=b'{"order": {', timeout=10)
        assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["error"]["message"]
        missing = requests.post(service.url + "/orders", json={**good, "order": {**good["order"], "amount": 5}})
        assert missing.status_code == 400 and missing.json()["error"]["field"] == "order.amount"
        forged = {**good, "signature": "0x" + sign_order(Order.from_struct({**_struct(good), "amount": 1}),
                                                          Domain(d.w3.eth.chain_id, good["exchange"]),
                                                          SELLER_KEY).hex()}  # fmt: skip
        bad_sig = requests.post(service.url + "/orders", json=forged, timeout=10)
        assert bad_sig.status_code == 422 and bad_sig.json()["error"]["code"] == "bad_signature"
        other_chain = requests.post(service.url + "/orders", json={**good, "chainId": "1"}, timeout=10)
        assert other_chain.status_code == 422 and other_chain.json()["error"]["code"] == "wrong_chain"
        assert "this book serves chain" in other_chain.json()["error"]["message"]
        via_script = d.run("market", "sell", f"P{pid}/B1", "1", "--price", "9", "--book", service.url + "/nowhere")
        refused(via_script, "--book")
    finally:
        service.stop()
    down = d.run("market", "sell", f"P{pid}/B1", "1", "--price", "9", "--book", service.url)
    refused(down, "--book", "unreachable", "ape run market serve")


def _struct(body: dict) -> dict:
    """An API order (decimal strings, hex) back to Order.from_struct's values."""
    out = {}
    for name, value in body["order"].items():
        if name in ("maker", "paymentToken", "taker"):
            out[name] = value
        elif name in ("standardHash", "country"):
            out[name] = bytes.fromhex(value[2:])
        else:
            out[name] = int(value)
    return out


# ------------------------------------------------------------------------------------------- refusals and help


@pytest.mark.parametrize("amount", ["1,5", "1e3", "1_000", "\u0661\u0665"])
def test_market_sell__hostile_amount__refused_naming_it_nothing_sent(market, amount):
    d = market
    block = d.w3.eth.block_number
    line = refused(d.run("market", "sell", "P1/B1", amount, "--price", "10"), "TONNES", repr(amount))
    assert "plain decimal" in line
    assert d.w3.eth.block_number == block


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["bid", "P1/B1", "1", "--price", "1,5"], ["--price '1,5'", "tUSD per tonne"]),
        (["bid", "P1/B1", "1", "--price", "0.0001"], ["--price '0.0001'", "multiple of 0.001 tUSD"]),
        (["buy", "P1/B1", "1", "--max-price", "1e3"], ["--max-price '1e3'"]),
        (["sell", "P\u0661/B1", "1", "--price", "1"], ["ID", "not a credit id"]),
        (["bid", "any", "1", "--price", "1", "--vintage-from", "21"], ["--vintage-from '21'", "four digits"]),
        (["bid", "any", "1", "--price", "1", "--country", "br"], ["--country 'br'", "two capital letters"]),
        (["sell", "P1/B1", "1", "--price", "1", "--expiry", "tomorrow"], ["--expiry 'tomorrow'", "+DAYSd"]),
    ],
)
def test_market__bad_options__one_line_naming_option_and_value(market, args, words):
    d = market
    block = d.w3.eth.block_number
    refused(d.run("market", *args, account="TEST::1"), *words)
    assert d.w3.eth.block_number == block


def test_market_help__every_command__an_example_and_units():
    spec = importlib.util.spec_from_file_location("market_script", ROOT / "scripts/market.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = {
        "sell",
        "bid",
        "book",
        "buy",
        "buy-and-retire",
        "match",
        "cancel",
        "cancel-all",
        "trades",
        "export",
        "serve",
    }
    assert set(module.cli.commands) == expected
    for name in expected:
        result = CliRunner().invoke(module.cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert f"ape run market {name}" in text, (name, text)
    for name in ("sell", "bid", "buy", "buy-and-retire"):
        text = " ".join(CliRunner().invoke(module.cli, [name, "--help"]).output.split())
        assert "t CO2e" in text and "per tonne" in text, (name, text)


def test_market__buy_and_retire__one_certificate_once_bad_field_sends_nothing(market):
    d = market
    credit, retirement = d.credit, contract(d, "CarbonRetirement")
    [(pid, _, token_id, _), _] = stocked(d)
    cid = f"P{pid}/B1"
    fund(d, BUYER, 1_000)
    ok(d.run("market", "sell", cid, "5", "--price", "10"))
    args = ("market", "buy-and-retire", cid, "2", "--max-price", "10", "--name", "Hamburg Port GmbH",
            "--reason", "Scope 1 FY2025", "--jurisdiction", "DE-HH", "--period", "2025")  # fmt: skip
    held, retired = credit.functions.balanceOf(BUYER, token_id).call(), credit.functions.totalRetired(token_id).call()
    out = ok(d.run(*args, account="TEST::1"))
    certificate = int(re.search(r"certificate #(\d+)", out).group(1))
    assert "bought 2 t of" in out and "for 20 tUSD and retired them" in out, out
    assert credit.functions.totalRetired(token_id).call() - retired == 2_000
    assert credit.functions.balanceOf(BUYER, token_id).call() == held  # bought and burnt in one call
    assert retirement.functions.ownerOf(certificate).call() == BUYER

    block = d.w3.eth.block_number
    refused(d.run(*args, account="TEST::1"), f"used by certificate #{certificate}", "nothing was sent")  # once
    bad = list(args)
    bad[bad.index("DE-HH")] = "Germany"
    refused(d.run(*bad, account="TEST::1"), "--jurisdiction")
    refused(d.run(*args[:4], "1e3", *args[5:], account="TEST::1"), "--max-price")
    assert d.w3.eth.block_number == block
