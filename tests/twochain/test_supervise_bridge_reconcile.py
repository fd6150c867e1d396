"""The reconciliation of a bridge (tonne.supervise.reconcile, check 6) on two real Anvil chains: both sides of the
bridge record indexed into one SQLite file, the home bridge's locked credits against the mirror's supply and
remote retirements, with the messages not yet delivered counted as in flight (a note, not an alert)."""

from __future__ import annotations

import json
import sqlite3

from tonne.supervise.catalog import catalogs_of_file
from tonne.supervise.index import ChainReader, Indexer
from tonne.supervise.reconcile import reconcile_index
from tonne.supervise.store import IndexStore


def index(tc, store: IndexStore) -> dict[int, ChainReader]:
    """Both sides of the bridge indexed (again) up to their heads; the readers by chain."""
    readers = {}
    for catalog in catalogs_of_file(tc.pair.record(), "the bridge record"):
        side = tc.home if catalog.chain_id == tc.home.chain_id else tc.remote
        reader = ChainReader(side.w3.provider, f"chain {catalog.chain_id}")
        indexer = Indexer(store, reader, catalog)
        indexer.bind()
        indexer.catch_up()
        readers[catalog.chain_id] = reader
    return readers


def test_bridge_reconcile__messages_in_flight_then_delivered__notes_then_nothing(tc, tmp_path):
    token_id = tc.issue(100)
    tc.deliver(tc.lock(token_id, 30_000))
    remote_retire = tc.remote.token.functions.retire(token_id, 1_000, "Acme", "Scope 1")
    tc.remote.w3.eth.wait_for_transaction_receipt(remote_retire.transact({"from": tc.holder}))
    back = tc.burn(token_id, 5_000)  # burned remotely, not yet released at home
    out = tc.lock(token_id, 7_000)  # locked at home, not yet minted remotely

    store = IndexStore(f"sqlite:///{tmp_path / 'index.sqlite'}")
    readers = index(tc, store)
    result = reconcile_index(store, readers)
    assert [a.json_line() for a in result.alerts] == []
    assert result.compared["reconcile-bridge"] == 1
    assert len(result.notes) == 1 and "12000 units in flight" in result.notes[0], result.notes
    assert tc.home.bridge.functions.locked(token_id).call() == 37_000  # 30,000 + 7,000: the burn is not home yet

    tc.deliver(back)
    tc.deliver(out)
    readers = index(tc, store)
    delivered = reconcile_index(store, readers)
    assert [a.json_line() for a in delivered.alerts] == []
    assert delivered.notes == []
    assert delivered.compared["reconcile-bridge"] == 1
    assert tc.remote.token.functions.totalSupply(token_id).call() == 31_000  # 30,000 - 1,000 - 5,000 + 7,000


def test_bridge_reconcile__a_stored_mint_edited__bridge_alert_with_both_sides(tc, tmp_path):
    token_id = tc.issue(100)
    tc.deliver(tc.lock(token_id, 30_000))
    path = tmp_path / "index.sqlite"
    store = IndexStore(f"sqlite:///{path}")
    readers = index(tc, store)
    assert reconcile_index(store, readers).alerts == []
    store.close()
    with sqlite3.connect(path) as db:
        [(row_id, args)] = [
            (row_id, json.loads(args))
            for row_id, args in db.execute("SELECT id, args FROM events WHERE name = 'CreditsMinted'")
        ]
        args["amount"] -= 2
        db.execute("UPDATE events SET args = ? WHERE id = ?", (json.dumps(args), row_id))

    result = reconcile_index(IndexStore(f"sqlite:///{path}"), readers)
    [alert] = result.alerts
    assert alert.rule == "reconcile-bridge" and alert.chain_id == tc.home.chain_id
    assert {k: alert.evidence[k] for k in ("id", "locked", "remote_supply", "remote_retired", "in_flight")} == dict(
        id=token_id, locked=30_000, remote_supply=30_000, remote_retired=0, in_flight=2
    )
    assert alert.evidence["remote_chain"] == tc.remote.chain_id
