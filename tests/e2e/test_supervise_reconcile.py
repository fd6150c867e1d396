"""The reconciliation (tonne.supervise.reconcile) against a real chain: the suite and the pledge module deployed
by `ape run deploy --pledge` on the session's Anvil, a short lifecycle of our own (issue, transfer, retire for a
beneficiary, surrender in a compliance period, cancel, a bilateral pledge released and reclaimed and one left
active), indexed into a real SQLite file and reconciled with the chain.

- the lifecycle reconciles with no alert, having compared values of every kind;
- reads are pinned to the index's cursor: credits moved after the index was read raise nothing, though the
  same ledger compared with the head does;
- a stored event's amount edited in the SQLite file is caught, with the id, the account, both values and the
  block as evidence.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from e2e_support import Anvil, Deployment, deploy
from tonne.supervise.catalog import catalog_of
from tonne.supervise.index import ChainReader, Indexer
from tonne.supervise.ledger import Ledger
from tonne.supervise.reconcile import reconcile, reconcile_index
from tonne.supervise.store import IndexStore

ZERO_REF = b"\x00" * 32
# One value of each kind must have been compared for "no alert" to mean anything.
KINDS = (
    "conservation",
    "reconcile-supply",
    "reconcile-balance",
    "reconcile-certificate",
    "reconcile-beneficiary",
    "reconcile-compliance",
    "reconcile-pledge",
    "reconcile-position",
)


@pytest.fixture(scope="module")
def suite(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy(anvil, tmp_path_factory.mktemp("deployments-reconcile"), "--pledge")


def contract(d: Deployment, name: str):
    entry = d.record["contracts"][name]
    return d.w3.eth.contract(address=entry["address"], abi=entry["abi"])


def send(d: Deployment, call, sender: str | None = None) -> dict:
    receipt = d.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender or d.admin}))
    assert receipt["status"] == 1, f"lifecycle transaction failed: {call}"
    return receipt


def now(d: Deployment) -> int:
    return int(d.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture(scope="module")
def lifecycle(suite: Deployment) -> dict:
    """The lifecycle, once per module; returns its ids and accounts."""
    d = suite
    holder, beneficiary, pledgee = d.w3.eth.accounts[1:4]  # Anvil's unlocked dev accounts
    project_id, _ = d.project()
    first, _ = d.batch(project_id, 1_000)
    second, _ = d.batch(project_id, 500)
    send(d, d.credit.functions.issue(first, d.admin, 600_000, ZERO_REF))
    send(d, d.credit.functions.issue(second, holder, 200_000, ZERO_REF))
    send(d, d.credit.functions.safeTransferFrom(d.admin, holder, first, 150_000, b""))
    retirement_input = (beneficiary, "Acme GmbH", "Scope 1 FY2025", "DE", 1_735_689_600, 1_767_225_599, ZERO_REF)
    send(d, d.retirement.functions.retire([first, second], [40_000, 10_000], retirement_input), holder)
    due = now(d) + 365 * 86_400
    terms = ("Reconcile period", "DE", 1_735_689_600, 1_767_225_599, due, 0, 0, [])
    send(d, d.compliance.functions.openPeriod(terms))
    period_id = d.compliance.functions.periodCount().call()
    send(d, d.compliance.functions.setObligations(period_id, [holder, d.admin], ["Holder", "Admin"], [90_000, 5_000]))
    send(d, d.compliance.functions.surrender(period_id, [first], [30_000], ZERO_REF), holder)
    send(d, d.registry.functions.cancelCredits(second, [holder], [5_000], 7_000, "reversal"))
    pledge = contract(d, "BilateralPledge")
    send(d, d.credit.functions.setApprovalForAll(pledge.address, True), holder)
    at = now(d)
    send(d, pledge.functions.createPledge(pledgee, [first, second], [20_000, 1_000], at + 1_000, at + 2_000), holder)
    send(d, pledge.functions.createPledge(pledgee, [first], [7_000], at + 1_000, at + 2_000), holder)
    released = pledge.functions.pledgeCount().call()
    send(d, pledge.functions.release(released), pledgee)
    send(d, pledge.functions.reclaim(released), holder)
    return dict(first=first, second=second, holder=holder, beneficiary=beneficiary, period=period_id)


def indexed(d: Deployment, path: Path) -> IndexStore:
    store = IndexStore(f"sqlite:///{path}")
    indexer = Indexer(store, ChainReader(d.w3.provider, d.anvil.url), catalog_of(d.record))
    indexer.bind()
    indexer.catch_up()
    return store


def readers(d: Deployment) -> dict[int, ChainReader]:
    return {d.w3.eth.chain_id: ChainReader(d.w3.provider, d.anvil.url)}


def test_reconcile__short_lifecycle__no_alert_and_every_kind_compared(suite, lifecycle, tmp_path):
    store = indexed(suite, tmp_path / "index.sqlite")
    result = reconcile_index(store, readers(suite))
    assert [a.json_line() for a in result.alerts] == []
    assert result.notes == []
    assert result.blocks == {suite.w3.eth.chain_id: suite.w3.eth.block_number}
    for kind in KINDS:
        assert result.compared[kind] > 0, f"nothing compared of {kind}: {result.compared}"
    ledger = Ledger.build(store.events(), store.sources())
    chain = suite.w3.eth.chain_id
    # The ledger's numbers are the lifecycle's, not just whatever the chain says.
    assert ledger.supply[(chain, lifecycle["first"])].retired == 70_000
    assert ledger.supply[(chain, lifecycle["second"])].cancelled == 5_000
    assert ledger.surrendered()[(lifecycle["period"], lifecycle["holder"])] == 30_000
    assert [p.state for p in ledger.pledges.values()][-2:] == ["active", "reclaimed"]


def test_reconcile__credits_moved_after_the_index__no_alert_at_the_cursor_but_alerts_at_the_head(
    suite, lifecycle, tmp_path
):
    store = indexed(suite, tmp_path / "index.sqlite")
    chain = suite.w3.eth.chain_id
    cursor = store.cursor(chain).block_number
    holder, first = lifecycle["holder"], lifecycle["first"]
    send(suite, suite.credit.functions.safeTransferFrom(suite.admin, holder, first, 1_000, b""))
    retirement_input = ("0x" + "00" * 20, "Late", "After the index", "DE", 1_735_689_600, 1_767_225_599, ZERO_REF)
    send(suite, suite.retirement.functions.retire([first], [500], retirement_input), holder)
    assert suite.w3.eth.block_number == cursor + 2

    pinned = reconcile_index(store, readers(suite))
    assert pinned.blocks == {chain: cursor}
    assert [a.json_line() for a in pinned.alerts] == []

    # The same ledger read against the head: the moves are seen, so the pinning is what kept them out.
    ledger = Ledger.build(store.events(), store.sources())
    head = reconcile(ledger, readers(suite), store.sources(), {chain: cursor + 2})
    found = {(a.rule, a.evidence.get("id"), a.evidence.get("account"), a.evidence.get("view")) for a in head.alerts}
    assert ("reconcile-balance", first, holder, None) in found
    assert ("reconcile-balance", first, suite.admin, None) in found
    assert ("reconcile-supply", first, None, "totalRetired") in found
    assert ("reconcile-certificate", None, None, None) in found  # the count: one certificate more on chain


def test_reconcile__a_stored_transfer_amount_edited__alerts_with_the_evidence(suite, lifecycle, tmp_path):
    path = tmp_path / "index.sqlite"
    store = indexed(suite, path)
    chain = suite.w3.eth.chain_id
    cursor = store.cursor(chain).block_number
    first, holder = lifecycle["first"], lifecycle["holder"]
    store.close()
    with sqlite3.connect(path) as db:
        row_id, args = next(
            (row_id, json.loads(args))
            for row_id, args in db.execute(
                "SELECT id, args FROM events WHERE name = 'TransferSingle' ORDER BY block_number, log_index"
            )
            if json.loads(args)["id"] == first and json.loads(args)["to"] == holder
        )
        assert args["value"] == 150_000  # the lifecycle's transfer from the admin
        args["value"] = 150_001
        db.execute("UPDATE events SET args = ? WHERE id = ?", (json.dumps(args), row_id))

    result = reconcile_index(IndexStore(f"sqlite:///{path}"), readers(suite))
    # The edit moved one unit from the admin to the holder in the ledger: the sum, and so the conservation, holds;
    # the two balances do not.
    held = {
        account: suite.credit.functions.balanceOf(account, first).call(block_identifier=cursor)
        for account in (holder, suite.admin)
    }
    assert sorted((a.rule, a.evidence["account"]) for a in result.alerts) == sorted(
        [("reconcile-balance", holder), ("reconcile-balance", suite.admin)]
    ), [a.json_line() for a in result.alerts]
    evidence = {a.evidence["account"]: a.evidence for a in result.alerts}
    assert evidence[holder] == dict(
        block=cursor, id=first, account=holder, events=held[holder] + 1, on_chain=held[holder]
    )
    assert evidence[suite.admin] == dict(
        block=cursor, id=first, account=suite.admin, events=held[suite.admin] - 1, on_chain=held[suite.admin]
    )
    assert all(a.severity == "critical" and a.chain_id == chain for a in result.alerts)
    assert all(a.key.startswith(f"reconcile-balance:{chain}:{first}:") for a in result.alerts)


def test_reconcile__a_stored_issuance_amount_edited__conservation_issued_and_supply_alert(suite, lifecycle, tmp_path):
    path = tmp_path / "index.sqlite"
    store = indexed(suite, path)
    second = lifecycle["second"]
    store.close()
    with sqlite3.connect(path) as db:
        [(row_id, args)] = [
            (row_id, json.loads(args))
            for row_id, args in db.execute("SELECT id, args FROM events WHERE name = 'Issued'")
            if json.loads(args)["id"] == second
        ]
        args["amount"] += 3
        db.execute("UPDATE events SET args = ? WHERE id = ?", (json.dumps(args), row_id))

    result = reconcile_index(IndexStore(f"sqlite:///{path}"), readers(suite))
    found = sorted((a.rule, a.evidence.get("view")) for a in result.alerts)
    assert found == [
        ("conservation", None),
        ("reconcile-supply", "totalIssued"),
        ("reconcile-supply", "totalSupply"),
    ], [a.json_line() for a in result.alerts]
    conservation = next(a for a in result.alerts if a.rule == "conservation")
    assert conservation.evidence["issued"] == 200_003
    assert conservation.evidence["minted"] == 200_000
    assert conservation.evidence["held"] == conservation.evidence["minted"] - conservation.evidence["burned"]
