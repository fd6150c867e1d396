"""The pledge scripts run as a user runs them, against our own Anvil: deploy --pledge, the price feed (bad file
refused with nothing sent, re-runs idempotent), open/borrow/show/repay/withdraw/history, and the keeper finding
and liquidating an unhealthy position, then finding nothing more to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3 import Web3

from e2e_support import Anvil, Deployment, deploy
from tonne.core.ids import encode_id

USD = 10**6


@pytest.fixture(scope="module")
def pledge_deployment(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy(anvil, tmp_path_factory.mktemp("deployments-pledge"), "--pledge")


def contract(d: Deployment, name: str):
    entry = d.record["contracts"][name]
    return d.w3.eth.contract(address=entry["address"], abi=entry["abi"])


def head_time(d: Deployment) -> int:
    return d.w3.eth.get_block("latest")["timestamp"]


def advance(d: Deployment, seconds: int) -> int:
    d.anvil.rpc("evm_increaseTime", [seconds])
    d.anvil.rpc("evm_mine")
    return head_time(d)


def ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def write_prices(path: Path, rows: list[tuple[str, str, int | str]]) -> Path:
    path.write_text("class,price,observed_at\n" + "".join(f"{c},{p},{t}\n" for c, p, t in rows))
    return path


def test_pledge_supply__right_after_deploy__refused_with_balance_shortfall_and_the_faucet(pledge_deployment):
    """Runs first in this module: the deployer holds no tUSD yet."""
    d = pledge_deployment
    usd, facility = contract(d, "TestStablecoin"), contract(d, "CreditFacility")
    assert usd.functions.balanceOf(d.admin).call() == 0
    block = d.w3.eth.block_number
    refused = d.run("pledge", "supply", "100000")
    assert refused.returncode == 1
    assert "holds 0 tUSD, needs 100,000 tUSD (100,000 tUSD short)" in refused.stderr
    assert "ape run pledge faucet 100000" in refused.stderr
    assert "0xe450d38c" not in refused.stdout + refused.stderr and "tx.origin" not in refused.stdout
    assert d.w3.eth.block_number == block and facility.functions.cash().call() == 0

    holder = Web3.to_checksum_address("0x" + "5a" * 20)
    minted = ok(d.run("pledge", "faucet", "2500.5", "--to", holder))
    assert "minted 2,500.5 tUSD" in minted and usd.functions.balanceOf(holder).call() == 2_500_500_000
    bad = d.run("pledge", "faucet", "1", "--to", "0xabc")
    assert bad.returncode == 1 and "--to '0xabc'" in bad.stderr and "ConversionError" not in bad.stderr


def test_pledge_scripts__whole_loan__feed_borrow_keeper_liquidates_once(pledge_deployment: Deployment, tmp_path):
    d = pledge_deployment
    oracle, facility, usd = (
        contract(d, "CreditPriceOracle"),
        contract(d, "CreditFacility"),
        contract(d, "TestStablecoin"),
    )
    assert d.record["config"]["pledge"]["testLoanToken"] is True
    project_id, _ = d.project()
    token_id, _ = d.batch(project_id, 10_000)
    d.transact(d.credit.functions.issue(token_id, d.admin, 1_000_000, b"\x00" * 32))
    d.transact(usd.functions.mint(d.admin, 1_000_000 * USD))
    credit_name = f"P{project_id}/B1"

    ok(d.run("pledge", "set-class", credit_name, "--ltv", "50", "--threshold", "70", "--max-age", "86400"))
    assert tuple(facility.functions.classParams(token_id).call()) == (5_000, 7_000, 86_400)

    # A file with a bad price, an unknown class form and a future time: all reported, nothing posted.
    now = advance(d, 10)
    bad = write_prices(
        tmp_path / "bad.csv", [(credit_name, "twenty", now), ("Q9", "20", now), (credit_name, "20", now + 9_999)]
    )
    result = d.run("price_feed", "--source", str(bad))
    assert result.returncode == 1
    assert f"{bad}:2: price:" in result.stderr
    assert f"{bad}:3: class:" in result.stderr
    assert "in the future" in result.stderr and "nothing was sent" in result.stderr
    assert tuple(oracle.functions.priceOf(token_id).call()) == (0, 0)

    good = write_prices(tmp_path / "prices.csv", [(credit_name, "20", now)])
    assert "1 price(s) posted" in ok(d.run("price_feed", "--source", str(good)))
    assert tuple(oracle.functions.priceOf(token_id).call()) == (20 * USD, now)
    assert "0 price(s) posted, 1 already on-chain" in ok(d.run("price_feed", "--source", str(good)))
    # The stored time with another price: a conflict, exit 1, nothing sent. An older row: superseded, not "already".
    conflict = d.run("price_feed", "--source", str(write_prices(tmp_path / "conflict.csv", [(credit_name, "21", now)])))
    assert conflict.returncode == 1
    assert f"on-chain price for {credit_name} at {now} is 20 tUSD, the file says 21 tUSD" in conflict.stderr
    assert "1 of them conflict(s) with the on-chain price; nothing was sent" in conflict.stderr
    older = ok(
        d.run("price_feed", "--source", str(write_prices(tmp_path / "older.csv", [(credit_name, "19", now - 5)])))
    )
    assert f"superseded (older than the on-chain price at {now})" in older
    assert "0 price(s) posted, 0 already on-chain (same time and price), 1 superseded" in older
    assert tuple(oracle.functions.priceOf(token_id).call()) == (20 * USD, now)

    ok(d.run("pledge", "supply", "100000"))
    out = ok(d.run("pledge", "open", "--collateral", f"{credit_name}:100", "--maturity", "+30d"))
    assert "position 1 opened" in out
    refused = d.run("pledge", "borrow", "1", "5000")
    assert refused.returncode != 0 and "above the borrow limit" in refused.stderr
    assert facility.functions.debtOf(1).call() == 0
    comma = d.run("pledge", "borrow", "1", "1,5")  # a decimal comma: refused, not read as 15
    assert comma.returncode != 0 and "AMOUNT '1,5'" in comma.stderr
    assert facility.functions.debtOf(1).call() == 0
    assert "borrowed 900 tUSD" in ok(d.run("pledge", "borrow", "1", "900"))
    shown = ok(d.run("pledge", "show", "1", account=None))  # read-only: no account needed
    assert "health factor" in shown and "liquidatable if prices fall" in shown

    assert "0 liquidated" in ok(d.run("keeper"))
    for price in ("16", "12.8"):  # two falls of 20 %, the most one update may move
        at = advance(d, 60)
        ok(d.run("price_feed", "--source", str(write_prices(tmp_path / f"p{price}.csv", [(credit_name, price, at)]))))
    dry = ok(d.run("keeper", "--dry-run"))
    assert "would liquidate position 1" in dry
    assert len(facility.functions.position(1).call()[4]) == 1 and list(facility.functions.position(1).call()[5]) == [
        100_000
    ]

    out = ok(d.run("keeper"))
    assert "liquidated position 1" in out and "1 liquidated" in out
    amounts_after = facility.functions.position(1).call()[5]
    assert amounts_after[0] < 100_000
    again = ok(d.run("keeper"))
    assert "0 liquidated" in again  # healthy again: nothing to do, nothing sent
    assert list(facility.functions.position(1).call()[5]) == list(amounts_after)

    # Too little tUSD to repay: refused before sending, with the balance and the shortfall (not a raw 0xe450d38c).
    balance = usd.functions.balanceOf(d.admin).call()
    d.transact(usd.functions.transfer(Web3.to_checksum_address("0x" + "5b" * 20), balance - 1))
    short = d.run("pledge", "repay", "1", "all")
    assert short.returncode == 1, short.stdout + short.stderr
    assert "holds 0.000001 tUSD, needs" in short.stderr and "tUSD short)" in short.stderr
    assert "ape run pledge faucet" in short.stderr and "0xe450d38c" not in short.stdout + short.stderr
    assert facility.functions.debtOf(1).call() > 0
    d.transact(usd.functions.mint(d.admin, balance))

    ok(d.run("pledge", "repay", "1", "all"))
    assert facility.functions.debtOf(1).call() == 0
    rest = amounts_after[0] / 1000
    ok(d.run("pledge", "withdraw", "1", credit_name, f"{rest:g}"))
    history = ok(d.run("pledge", "history", "1", account=None))
    for event in ("PositionOpened", "Pledged", "Borrowed", "Liquidated", "Repaid", "Withdrawn"):
        assert event in history
    assert "collateral none; scaled debt 0" in history


def test_price_feed__json_source_and_move_past_bound__refused_naming_the_entry(pledge_deployment: Deployment, tmp_path):
    d = pledge_deployment
    oracle = contract(d, "CreditPriceOracle")
    project_id, _ = d.project()
    d.batch(project_id, 1_000)
    token_id = encode_id(project_id, 1)
    now = advance(d, 5)
    source = tmp_path / "prices.json"
    source.write_text(json.dumps({"prices": [{"class": str(token_id), "price": "10.5", "observed_at": now}]}))
    assert "1 price(s) posted" in ok(d.run("price_feed", "--source", str(source)))
    later = advance(d, 5)
    source.write_text(json.dumps([{"class": f"P{project_id}/B1", "price": "30", "observed_at": later}]))
    result = d.run("price_feed", "--source", str(source))
    assert result.returncode == 1
    assert f"{source}:entry 1: price:" in result.stderr and "PriceMoveTooLarge" in result.stderr
    assert tuple(oracle.functions.priceOf(token_id).call()) == (10_500_000, now)
    assert Web3.is_address(d.record["contracts"]["CreditFacility"]["address"])
