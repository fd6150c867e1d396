"""attest, relay and bridge-audit as library calls on two chains: validators publish into a SQLite store, the
relayer delivers each message once (even when killed mid-batch, or beaten by another relayer), the audit
balances the books per id."""

from __future__ import annotations

import pytest

from tonne.bridge.attest import attest_once, key_signer
from tonne.bridge.audit import audit
from tonne.bridge.deploy import transact
from tonne.bridge.messages import interop_address
from tonne.bridge.relay import Relayer
from tonne.bridge.store import Store

IN = 1


class Killed(Exception):
    """Stands in for SIGKILL: raised from the relayer's hook right after a delivery was sent."""


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "attestations.sqlite")
    yield s
    s.close()


def attest_all(tc, store, keys=None):
    for key in keys if keys is not None else tc.keys[:2]:
        attest_once(tc.pair, key_signer(key), store)


def delivered_counts(tc) -> dict[bytes, int]:
    counts: dict[bytes, int] = {}
    for side in (tc.home, tc.remote):
        for log in side.gateway.events.MessageDelivered.get_logs(from_block=side.start_block):
            mid = bytes(log["args"]["messageId"])
            counts[mid] = counts.get(mid, 0) + 1
    return counts


def test_attest_relay_audit__round_trip(tc, store, held):
    sends = [tc.lock(held, 1_000 * (i + 1)) for i in range(4)]
    attest_all(tc, store)
    assert all(len(store.attestations(s.id)) == 2 for s in sends)
    relayer = Relayer(tc.pair, store, tc.relayer)
    result = relayer.relay_once()
    assert result.sent == 4 and result.backlog == 0
    back = tc.burn(held, 2_500)
    report = audit(tc.pair, store)
    assert report.ok and [b.in_flight_back for b in report.ids] == [2_500]
    assert [m.delivered for m in report.messages] == [True] * 4 + [False]
    attest_all(tc, store)
    relayer.relay_once()
    report = audit(tc.pair, store)
    assert report.ok and report.ids[0].locked == 10_000 - 2_500 == report.ids[0].remote_supply
    assert all(m.delivered for m in report.messages)
    assert set(delivered_counts(tc).values()) == {1} and back.id in delivered_counts(tc)
    assert "books balance for every id" in report.render()


def test_relay__too_few_attestations__waits(tc, store, held):
    sent = tc.lock(held, 1_000)
    attest_all(tc, store, tc.keys[:1])
    result = Relayer(tc.pair, store, tc.relayer).relay_once()
    (route, _) = result.routes
    assert result.sent == 0 and route.waiting == {"attestations 1/2": 1}
    assert not tc.remote.gateway.functions.isProcessed(sent.id).call()
    attest_all(tc, store, tc.keys[1:2])
    assert Relayer(tc.pair, store, tc.relayer).relay_once().sent == 1


def test_relay__non_validator_attestations__not_counted(tc, store, held):
    tc.lock(held, 1_000)
    attest_all(tc, store, [tc.keys[0], tc.keys[5]])  # key 5 is not a validator
    (route, _) = Relayer(tc.pair, store, tc.relayer).relay_once().routes
    assert route.waiting == {"attestations 1/2": 1}


@pytest.mark.parametrize(("batch", "kill_at", "pending", "after"), [(1, 4, 1, 6), (4, 5, 4, 2)])
def test_relay__killed_mid_batch__each_message_delivered_once(tc, store, held, batch, kill_at, pending, after):
    # batch 1: the 4th single delivery is sent and mined, never recorded; batch 4: the second batch (messages
    # 5-8) is sent and mined, never recorded, and its write-ahead note holds all four.
    sends = [tc.lock(held, 100) for _ in range(10)]
    attest_all(tc, store)
    count = 0

    def kill(_):
        nonlocal count
        count += 1
        if count == kill_at:
            raise Killed

    with pytest.raises(Killed):
        Relayer(tc.pair, store, tc.relayer, on_sent=kill, batch=batch).relay_once()
    assert len(store.pending()) == pending
    result = Relayer(tc.pair, store, tc.relayer, batch=batch).relay_once()
    assert result.sent == after and result.backlog == 0
    counts = delivered_counts(tc)
    assert [counts.get(s.id) for s in sends] == [1] * 10
    assert store.pending() == {}
    assert audit(tc.pair, store).ok


def test_relay__batch_with_a_rate_limited_message__others_delivered_it_waits(tc, store, held):
    transact(tc.remote.w3, tc.remote.bridge.functions.setIdLimit(IN, held, 1_500, True), tc.admin)
    sends = [tc.lock(held, 1_000), tc.lock(held, 1_000), tc.lock(held, 100), tc.lock(held, 100)]
    attest_all(tc, store)
    relayer = Relayer(tc.pair, store, tc.relayer, batch=10)
    result = relayer.relay_once()
    assert result.sent == 3 and result.routes[0].waiting == {"BridgeRateLimited": 1}
    assert store.pending() == {}
    tc.remote.w3.provider.make_request("evm_increaseTime", [86_400])
    tc.remote.w3.provider.make_request("evm_mine", [])
    assert relayer.relay_once().sent == 1
    assert [delivered_counts(tc).get(s.id) for s in sends] == [1] * 4
    assert audit(tc.pair, store).ok


def test_relay__delivered_by_someone_else__counted_done(tc, store, held):
    sent = tc.lock(held, 1_000)
    attest_all(tc, store)
    tc.deliver(sent)  # another relayer was faster
    result = Relayer(tc.pair, store, tc.relayer).relay_once()
    assert result.sent == 0 and result.already == 1 and result.backlog == 0
    assert delivered_counts(tc)[sent.id] == 1


def test_relay__rate_limited__waits_then_delivers(tc, store, held):
    transact(tc.remote.w3, tc.remote.bridge.functions.setIdLimit(IN, held, 1_000, True), tc.admin)
    tc.lock(held, 1_000)
    tc.lock(held, 1_000)
    attest_all(tc, store)
    relayer = Relayer(tc.pair, store, tc.relayer)
    result = relayer.relay_once()
    assert result.sent == 1 and result.routes[0].waiting == {"BridgeRateLimited": 1}
    assert audit(tc.pair, store).ids[0].in_flight_out == 1_000
    tc.remote.w3.provider.make_request("evm_increaseTime", [86_400])
    tc.remote.w3.provider.make_request("evm_mine", [])
    assert relayer.relay_once().sent == 1
    assert audit(tc.pair, store).ok


def test_attest__foreign_message__refused_not_signed(tc, store, held):
    payload = b"\x00" * 64
    transact(
        tc.home.w3,
        tc.home.gateway.functions.sendMessage(
            interop_address(tc.remote.chain_id, tc.remote.bridge.address), payload, []
        ),
        tc.stranger,
    )
    attest_all(tc, store, tc.keys[:1])
    rows = store.db.execute("SELECT reason FROM refusals").fetchall()
    assert len(rows) == 1 and "not from bridge" in rows[0][0]
    assert store.messages() == []
    report = audit(tc.pair, store)
    assert report.ok and [m.foreign for m in report.messages] == [True]


def test_attest__resumes_from_its_cursor(tc, store, held):
    tc.lock(held, 1)
    signer = key_signer(tc.keys[0])
    assert attest_once(tc.pair, signer, store) == 1
    assert attest_once(tc.pair, signer, store) == 0  # nothing new
    tc.lock(held, 1)
    assert attest_once(tc.pair, signer, store) == 1
