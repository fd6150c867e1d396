"""`supervise report` (tonne.supervise.report) over a real chain: a short lifecycle on the session's Anvil (issue,
retire under hostile beneficiary names, cancel, pledge, a compliance period with a surrender, a fill and a match on
the exchange, an oracle price), indexed into SQLite, folded by the ledger, and written as HTML. The report is
parsed back (it is well-formed XML) and its figures compared with the chain: its own views (totalSupply,
balanceOf, the compliance status) and the raw RetirementRecorded logs decoded independently of the indexer."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from e2e_support import Anvil, Deployment, deploy, recorded
from tonne.core.ids import describe
from tonne.core.units import format_tonnes
from tonne.market.orders import BUY, SELL, Domain, Order, sign_order
from tonne.supervise.alerts import Alert
from tonne.supervise.catalog import catalogs_of_file, merged
from tonne.supervise.index import ChainReader, Indexer
from tonne.supervise.ledger import Ledger
from tonne.supervise.report import write_report
from tonne.supervise.store import IndexStore

ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Anvil's TEST::0, the deployer
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BUYER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
MATCHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
USD = 10**6
ZERO_REF = b"\x00" * 32
FAR = 4_102_444_799
HOSTILE = "<script>alert(1)</script>"
HOSTILE_TOO = 'Bob "quoted" & <b>bold</b> $x^2$'


def fresh_address() -> str:
    return to_checksum_address(keccak(random.randbytes(32))[:20])


def contract(d: Deployment, name: str):
    entry = d.record["contracts"][name]
    return d.w3.eth.contract(address=entry["address"], abi=entry["abi"])


def head_time(d: Deployment) -> int:
    return d.w3.eth.get_block("latest")["timestamp"]


def advance(d: Deployment, seconds: int) -> int:
    d.anvil.rpc("evm_increaseTime", [seconds])
    d.anvil.rpc("evm_mine")
    return head_time(d)


def send(d: Deployment, call, sender: str) -> dict:
    receipt = d.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
    assert receipt["status"] == 1, f"setup transaction failed: {call}"
    return receipt


@dataclass
class Lifecycle:
    d: Deployment
    b1: int
    b2: int
    period_id: int
    deadline: int
    late_holder: str
    middle: int  # a timestamp between the first part of the lifecycle and its late retirement
    end: int
    txs: dict[str, str]


def retire(d: Deployment, ids, amounts, beneficiary: str, name: str, jurisdiction: str) -> str:
    retirement = d.retirement.functions.retire(
        ids, amounts, (beneficiary, name, "report test", jurisdiction, 1_735_689_600, 1_767_225_599, ZERO_REF)
    )
    return d.transact(retirement)["transactionHash"].to_0x_hex()


@pytest.fixture(scope="module")
def lifecycle(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    d = deploy(anvil, tmp_path_factory.mktemp("deployments-report"), "--market", "--pledge")
    usd, exchange = contract(d, "TestStablecoin"), contract(d, "CreditExchange")
    facility, oracle = contract(d, "CreditFacility"), contract(d, "CreditPriceOracle")
    project_id, _ = d.project()
    b1, _ = d.batch(project_id, 20_000)
    b2, _ = d.batch(project_id, 20_000)
    d.transact(d.credit.functions.issue(b1, d.admin, 8_000_000, ZERO_REF))
    d.transact(d.credit.functions.issue(b2, d.admin, 5_000_000, ZERO_REF))
    txs: dict[str, str] = {}
    alice, bob = fresh_address(), fresh_address()
    txs["alice"] = retire(d, [b1], [100_000], alice, HOSTILE, "DE")
    retire(d, [b2], [50_000], alice, "Alice & Sons", "DE")
    retire(d, [b1, b2], [70_000, 5_000], bob, HOSTILE_TOO, "GB-ENG")
    # The registrar cancels 12.5 t of b2 from the admin's holding (a reversal).
    d.transact(d.registry.functions.cancelCredits(b2, [d.admin], [12_500], 12_500, "reversal <i>fire</i>"))

    # Pledged: 300 t of b1 in a credit facility position, priced by the oracle.
    now = head_time(d)
    d.transact(oracle.functions.postPrices([b1], [20 * USD], [now]))
    d.transact(facility.functions.setClassParams(b1, 5_000, 7_000, 86_400))
    d.transact(d.credit.functions.setApprovalForAll(facility.address, True))
    d.transact(facility.functions.openPosition(now + 30 * 86_400, [b1], [300_000]))

    # The exchange: a fill of 10 t at 12.5 tUSD/t, then a match of 5 t at 13 (two OrderFilled, one deal).
    domain = Domain(d.w3.eth.chain_id, exchange.address)
    d.transact(d.credit.functions.setApprovalForAll(exchange.address, True))
    d.transact(usd.functions.mint(BUYER, 10_000 * USD))
    send(d, usd.functions.approve(exchange.address, 2**256 - 1), BUYER)

    def order(maker: str, side: int, amount: int, price: int, nonce: int) -> Order:
        counter = exchange.functions.counterOf(maker).call()
        return Order(maker=maker, side=side, token_id=b1, amount=amount, price_per_unit=price,
                     payment_token=usd.address, expiry=FAR, nonce=nonce, counter=counter)  # fmt: skip

    sell = order(d.admin, SELL, 20_000, 12_500, 1)
    txs["fill"] = send(
        d, exchange.functions.fill(sell.as_tuple(), sign_order(sell, domain, ADMIN_KEY), 10_000, b1), BUYER
    )["transactionHash"].to_0x_hex()
    ask, bid = order(d.admin, SELL, 5_000, 13_000, 2), order(BUYER, BUY, 5_000, 13_000, 3)
    txs["match"] = send(
        d,
        exchange.functions.matchOrders(
            ask.as_tuple(), sign_order(ask, domain, ADMIN_KEY), bid.as_tuple(), sign_order(bid, domain, BUYER_KEY),
            5_000, b1,
        ),
        MATCHER,
    )["transactionHash"].to_0x_hex()  # fmt: skip

    # A compliance period whose deadline falls in a day: the admin owes 40 t and surrenders 25 t; another owes 10.
    deadline = head_time(d) + 86_400
    d.transact(d.compliance.functions.openPeriod(("Report period", "DE", 1_735_689_600, 1_767_225_599, deadline,
                                                  0, 0, [])))  # fmt: skip
    period_id = d.compliance.functions.periodCount().call()
    other = fresh_address()
    d.transact(
        d.compliance.functions.setObligations(period_id, [d.admin, other], ["Admin <GmbH>", "Other AG"],
                                              [40_000, 10_000])
    )  # fmt: skip
    txs["surrender"] = d.transact(d.compliance.functions.surrender(period_id, [b1], [25_000], ZERO_REF))[
        "transactionHash"
    ].to_0x_hex()

    # Two days later (past the deadline): a late retirement by a third beneficiary.
    middle = advance(d, 2 * 86_400) - 3_600
    late_holder = fresh_address()
    txs["late"] = retire(d, [b1], [30_000], late_holder, "Late Ltd", "FR")
    return Lifecycle(d, b1, b2, period_id, deadline, late_holder, middle, head_time(d), txs)


@dataclass
class Built:
    ledger: Ledger
    store: IndexStore
    alerts: list[Alert]


@pytest.fixture(scope="module")
def built(lifecycle: Lifecycle, tmp_path_factory: pytest.TempPathFactory) -> Built:
    d = lifecycle.d
    folder = tmp_path_factory.mktemp("report-index")
    catalog = merged(catalogs_of_file(d.record, "the record"))[d.w3.eth.chain_id]
    store = IndexStore(f"sqlite:///{folder}/index.sqlite")
    indexer = Indexer(store, ChainReader(d.w3.provider), catalog)
    indexer.bind()
    indexer.catch_up()
    ledger = Ledger.build(store.events(), store.sources())
    chain_id = d.w3.eth.chain_id
    tx = lifecycle.txs
    alerts = [
        Alert("wash-trade", "warning", "wash:1", "buyer <img src=x onerror=alert(2)> is seller", lifecycle.middle - 10,
              chain_id, {"txs": [tx["fill"], tx["match"]], "accounts": [d.admin, BUYER], "units": 15_000}),
        Alert("compliance-shortfall", "critical", "short:1", "Admin <GmbH> is 15 t short", lifecycle.end, chain_id,
              {"txs": [tx["surrender"]], "entity": d.admin, "shortfall": 15_000}),
        Alert("concentration", "info", "conc:1", "one holder", lifecycle.middle - 20, chain_id,
              {"id": hex(lifecycle.b1)}),
    ]  # fmt: skip
    return Built(ledger, store, alerts)


# ---------------------------------------------------------------------------------------------- reading it back


def parse(path: Path) -> ET.Element:
    text = path.read_text(encoding="utf-8")
    return ET.fromstring(text.split("\n", 1)[1])  # the markup after <!DOCTYPE html>


def text_of(element: ET.Element) -> str:
    return "".join(element.itertext()).strip()


def table(root: ET.Element, table_id: str) -> list[list[str]]:
    found = [t for t in root.iter("table") if t.get("id") == table_id]
    assert len(found) == 1, f"table {table_id}: {len(found)} found"
    return [[text_of(cell) for cell in row] for row in found[0].find("tbody")]


def tonnes(units: int) -> str:
    return format_tonnes(units)[:-2]


def report(built: Built, path: Path, **period) -> ET.Element:
    """The report, with the test stablecoin's decimals given (prices in tUSD, not in its base units)."""
    usd = next(a for (_, a), name in built.ledger.names.items() if name == "TestStablecoin")
    write_report(built.ledger, built.alerts, path, sources=built.store, generated=1_900_000_000,
                 decimals={usd: 6}, oracle_token=usd, **period)  # fmt: skip
    return parse(path)


# ---------------------------------------------------------------------------------------------- the tests


def test_report__lifecycle__figures_equal_the_chain_and_every_alert_listed(lifecycle, built, tmp_path):
    d = lifecycle.d
    path = tmp_path / "report.html"
    root = report(built, path)
    raw = path.read_text(encoding="utf-8")
    facility = contract(d, "CreditFacility").address

    # Supply per batch at the end: the chain's own views, and the ledger's figures.
    rows = {row[1]: row for row in table(root, "supply")}
    for token_id in (lifecycle.b1, lifecycle.b2):
        row = rows[describe(token_id)]
        issued, free, pledged, exchange, bridged, retired, cancelled = row[4:11]
        supply = built.ledger.supply[(d.w3.eth.chain_id, token_id)]
        assert issued == tonnes(d.credit.functions.totalIssued(token_id).call()) == tonnes(supply.issued)
        assert retired == tonnes(d.credit.functions.totalRetired(token_id).call()) == tonnes(supply.retired)
        assert cancelled == tonnes(d.credit.functions.totalCancelled(token_id).call()) == tonnes(supply.cancelled)
        assert pledged == tonnes(d.credit.functions.balanceOf(facility, token_id).call())
        held = d.credit.functions.totalSupply(token_id).call()
        assert free == tonnes(held - d.credit.functions.balanceOf(facility, token_id).call())
        assert (exchange, bridged) == ("0", "0")
    b1 = rows[describe(lifecycle.b1)]
    assert b1[4:11] == ["8,000", "7,475", "300", "0", "0", "225", "0"]  # retired: 100 + 70 + 25 surrendered + 30
    assert rows[describe(lifecycle.b2)][4:11] == ["5,000", "4,932.5", "0", "0", "0", "55", "12.5"]

    # Retirements per beneficiary and jurisdiction: the raw logs, decoded apart from the indexer.
    logs = [r for r in recorded(d, d.start_block)]
    per_beneficiary, per_jurisdiction = defaultdict(int), defaultdict(int)
    for log in logs:
        per_beneficiary[log["beneficiary"]] += sum(log["amounts"])
        per_jurisdiction[log["jurisdiction"]] += sum(log["amounts"])
    beneficiaries = table(root, "beneficiaries")
    assert {row[0]: row[3] for row in beneficiaries[:-1]} == {b: tonnes(u) for b, u in per_beneficiary.items()}
    assert beneficiaries[-1] == ["all", "", str(len(logs)), tonnes(sum(per_beneficiary.values()))]
    jurisdictions = table(root, "jurisdictions")
    assert {row[0]: row[3] for row in jurisdictions[:-1]} == {j: tonnes(u) for j, u in per_jurisdiction.items()}
    assert {row[0]: row[3] for row in jurisdictions[:-1]} == {"DE": "175", "GB-ENG": "75", "FR": "30"}

    # Escaping: the hostile names are text in their cells, never markup.
    by_name = {row[1]: row for row in beneficiaries}
    assert by_name[f"{HOSTILE}; Alice & Sons"][3] == "150"
    assert by_name[HOSTILE_TOO][3] == "75"
    assert HOSTILE not in raw and "<b>bold</b>" not in raw and "<img src=x" not in raw and "<i>fire" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert not list(root.iter("script")) and not [e for e in root.iter("b") if e.text == "bold"]
    assert all(img.get("src").startswith("data:image/png;base64,") for img in root.iter("img"))
    certificates = {row[2] for row in table(root, "certificates")}
    assert {HOSTILE, "Alice & Sons", HOSTILE_TOO, "Late Ltd"} <= certificates

    # Compliance: the contract's own status view, after the deadline.
    compliance = {row[0]: row for row in table(root, f"compliance-{lifecycle.period_id}")}
    obligation, surrendered, passed, *_ = d.compliance.functions.status(lifecycle.period_id, d.admin).call()
    assert passed and (obligation, surrendered) == (40_000, 25_000)
    assert compliance[d.admin][1:6] == ["Admin <GmbH>", "40", "25", "15", "shortfall"]
    assert [row for key, row in compliance.items() if key not in (d.admin, "all")][0][2:6] == [
        "10", "0", "10", "shortfall"
    ]  # fmt: skip

    # Deals: the fill and the match, once each; 15 t of b1.
    deals = table(root, "deals")
    assert [(row[4], row[5]) for row in deals] == [("5", "13.00"), ("10", "12.50")]
    markets = {row[0]: row for row in table(root, "markets")}
    # 10 t at 12.5 and 5 t at 13: 12.666... a tonne, shown to the cent; the oracle's 20 tUSD last.
    assert markets[describe(lifecycle.b1)][1:] == ["2", "15", "12.67", "12.50", "13.00", "13.00", "20.00"]
    assert all(tx.startswith("0x") and len(tx) == 66 for tx in lifecycle.txs.values())

    # Every alert, with its evidence's transaction hashes in full.
    alerts = table(root, "alerts")
    assert [row[1] for row in alerts] == ["compliance-shortfall", "wash-trade", "concentration"]
    assert lifecycle.txs["fill"] in alerts[1][5] and lifecycle.txs["match"] in alerts[1][5]
    assert lifecycle.txs["surrender"] in alerts[0][5]
    assert "<img" not in raw.replace('<img class="chart" alt="chart" src="data:image/png;base64,', "")


def test_report__period__flows_inside_it_and_stocks_at_its_end(lifecycle, built, tmp_path):
    d = lifecycle.d
    early = report(built, tmp_path / "early.html", until=lifecycle.middle)
    beneficiaries = {row[0] for row in table(early, "beneficiaries")[:-1]}
    assert lifecycle.late_holder not in beneficiaries and len(beneficiaries) == 3
    assert {row[0] for row in table(early, "jurisdictions")[:-1]} == {"DE", "GB-ENG"}
    # The late 30 t are not retired yet at the period's end; the deadline has passed: a shortfall.
    b1 = {row[1]: row for row in table(early, "supply")}[describe(lifecycle.b1)]
    assert b1[9] == "195" and b1[5] == "7,505"
    compliance = {row[0]: row for row in table(early, f"compliance-{lifecycle.period_id}")}
    assert compliance[d.admin][5] == "shortfall"
    # Up to the deadline itself (the period excludes its end), the status is still open.
    due = report(built, tmp_path / "due.html", until=lifecycle.deadline)
    compliance = {row[0]: row for row in table(due, f"compliance-{lifecycle.period_id}")}
    assert compliance[d.admin][1:6] == ["Admin <GmbH>", "40", "25", "15", "open"]
    # Alerts after the period are left out, and counted.
    assert [row[1] for row in table(early, "alerts")] == ["wash-trade", "concentration"]
    assert "1 alerts fall outside the period" in "".join(early.itertext())

    late = report(built, tmp_path / "late.html", since=lifecycle.middle)
    assert [row[0] for row in table(late, "beneficiaries")[:-1]] == [lifecycle.late_holder]
    assert table(late, "jurisdictions")[:-1] == [["FR", "1", "1", "30"]]
    assert {row[1]: row for row in table(late, "supply")}[describe(lifecycle.b1)][9] == "225"
    assert not [t for t in late.iter("table") if t.get("id") == "deals"]  # the deals were before
    assert [row[1] for row in table(late, "alerts")] == ["compliance-shortfall"]


def test_report__empty_index__clear_and_still_valid(tmp_path):
    store = IndexStore(f"sqlite:///{tmp_path}/empty.sqlite")
    ledger = Ledger.build(store.events(), store.sources())
    path = write_report(ledger, [], tmp_path / "empty.html", sources=store, generated=1_900_000_000)
    root = parse(path)
    text = " ".join(root.itertext())
    said = ("The index holds no events", "No chain is followed", "No batch and no issuance",
            "No retirement in the period", "No compliance period", "No deal", "No alert in the period")  # fmt: skip
    for sentence in said:
        assert sentence in text, sentence
    assert root.find(".//title").text == "Tonne supervision report"


def test_report__bad_period__refused_naming_it(built, tmp_path):
    with pytest.raises(ValueError, match="the period is empty"):
        write_report(built.ledger, [], tmp_path / "x.html", since=2_000, until=1_000)
    assert not (tmp_path / "x.html").exists()
    from datetime import datetime

    with pytest.raises(ValueError, match="no time zone"):
        write_report(built.ledger, [], tmp_path / "x.html", since=datetime(2026, 1, 1))
