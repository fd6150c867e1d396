"""Audit of batched delivery (`deliverBatch`, relayer --batch): proof-of-concept tests, each asserting the safe
behaviour, so a failing test is a confirmed finding (audit/relay-batch.md). All four findings are fixed (finding 4, the
griefer's choice of gas against the old 1/16 guard, by the bridges' fixed RECIPIENT_GAS). A
stranger may call `deliverBatch` with any gas per message and any messages; the questions are what it gains by doing
so first, with too little gas, twice, or from inside a hook, and whether the relayer's bookkeeping can be misled."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from tonne.bridge.attest import attest_once, key_signer
from tonne.bridge.deploy import deploy_contract, transact
from tonne.bridge.errors import decode_revert
from tonne.bridge.messages import interop_address
from tonne.bridge.relay import Relayer
from tonne.bridge.store import Store

IN = 1
ALREADY_SELECTOR = keccak(text="GatewayMessageAlreadyProcessed(bytes32)")[:4]


def _batch(tc, sents, gas_per_message, signatures=None):
    signatures = signatures or [tc.sign(s) for s in sents]
    return tc.remote.gateway.functions.deliverBatch([s.message.as_tuple() for s in sents], signatures, gas_per_message)


def _send(tc, call, sender):
    """Sends ``call`` with ample transaction gas; returns (delivered ids, skipped id -> reason name)."""
    tx_hash = call.transact({"from": sender, "gas": 12_000_000})
    receipt = tc.remote.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    events = tc.remote.gateway.events
    delivered = [bytes(e["args"]["messageId"]) for e in events.MessageDelivered().process_receipt(receipt)]
    skipped = {}
    for e in events.MessageSkipped().process_receipt(receipt):
        decoded = decode_revert(bytes(e["args"]["reason"]))
        skipped[bytes(e["args"]["messageId"])] = decoded[0] if decoded else "undecodable"
    return delivered, skipped


def _processed(side, sent) -> bool:
    return side.gateway.functions.isProcessed(sent.id).call()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "attestations.sqlite")
    yield s
    s.close()


# ---------------------------------------------------------------- griefer's gas choice


@pytest.mark.parametrize(("depth", "burn"), [(depth, burn) for burn in (120_000, 1_500_000) for depth in (0, 2, 4)])
def test_audit__griefer_sweeps_gas_per_message__one_outcome_whatever_the_gas(tc, held, depth, burn):
    """A stranger front-runs the relayer with `deliverBatch([m], sigs, G)` for every G: whenever m is processed,
    the outcome must be the same (the recipient's, not the caller's choice): minted for a hook that fits the
    bridge's fixed RECIPIENT_GAS, returned for one that never can. The recipient is a contract wallet whose hook
    runs `depth` nested calls below it (proxy, implementation, handler...)."""
    w3 = tc.remote.w3
    wallet, _ = deploy_contract(w3, "AuditHookReceiver", [], tc.admin)
    transact(w3, wallet.functions.setShape(depth, burn), tc.admin)
    m = tc.lock(held, 100, to=wallet.address)
    processed_outcomes = set()
    unprocessed = set()
    for gas in range(burn // 3, 2 * burn + 800_000, (2 * burn + 800_000) // 60):
        snap = w3.provider.make_request("evm_snapshot", [])["result"]
        delivered, skipped = _send(tc, _batch(tc, [m], gas), tc.stranger)
        if _processed(tc.remote, m):
            processed_outcomes.add("minted" if wallet.functions.received().call() == 100 else "returned")
        else:
            unprocessed.add(skipped.get(m.id, "?"))
        assert w3.provider.make_request("evm_revert", [snap])["result"] is True
    expected = "minted" if burn < 1_000_000 else "returned"
    assert processed_outcomes == {expected}, f"depth {depth}, burn {burn}: outcomes {processed_outcomes}"
    # Below the budget the delivery is refused as the caller's shortfall and waits, never anything else.
    assert unprocessed <= {"BridgeDeliveryGasTooLow", "GatewayRecipientFailed"}, unprocessed


def test_audit__zero_gas_per_message__valid_message_skipped_and_still_deliverable(tc, held):
    a = tc.lock(held, 100)
    delivered, skipped = _send(tc, _batch(tc, [a], 0), tc.stranger)
    assert delivered == [] and skipped == {a.id: "GatewayRecipientFailed"}
    assert not _processed(tc.remote, a)
    tc.deliver(a)
    assert tc.remote.token.functions.balanceOf(tc.holder, held).call() == 100


# ---------------------------------------------------------------- replay, self-call, reentrancy


def test_audit__replay_with_other_signer_subsets_and_across_paths__once(tc, held):
    a, b = tc.lock(held, 100), tc.lock(held, 200)
    sig_01, sig_12 = tc.sign(a, tc.keys[0:2]), tc.sign(a, tc.keys[1:3])
    delivered, skipped = _send(tc, _batch(tc, [a, a, b], 600_000, [sig_01, sig_12, tc.sign(b)]), tc.stranger)
    assert delivered == [a.id, b.id] and skipped == {a.id: "GatewayMessageAlreadyProcessed"}
    assert tc.refused(tc.deliver_call(a, tc.sign(a, tc.keys[0:3:2])), tc.remote)[0] == "GatewayMessageAlreadyProcessed"
    assert tc.remote.token.functions.balanceOf(tc.holder, held).call() == 300


def test_audit__hook_calls_deliver_from_batch_directly__refused(tc, held):
    attacker, _ = deploy_contract(tc.remote.w3, "ReentrantReceiver", [], tc.admin)
    a, b = tc.lock(held, 100, to=attacker.address), tc.lock(held, 200)
    # b's recipient is the bridge; the hook tries to skip the signature check through the item entry point.
    inner = tc.remote.gateway.functions.deliverFromBatch(b.message.as_tuple(), b.id, attacker.address)
    transact(
        tc.remote.w3, attacker.functions.arm(tc.remote.gateway.address, inner._encode_transaction_data()), tc.admin
    )
    delivered, _ = _send(tc, _batch(tc, [a], 2_000_000), tc.stranger)
    assert delivered == [a.id] and attacker.functions.attempts().call() == 1
    assert not attacker.functions.lastSucceeded().call()
    assert decode_revert(bytes(attacker.functions.lastRevertData().call()))[0] == "GatewayOnlySelf"
    assert not _processed(tc.remote, b)


# ---------------------------------------------------------------- the token's rules in a batch


def test_audit__freeze_in_the_batch_holds_for_batched_credits(tc, held):
    """Two locks to X, then X frozen at home and synced: one batch [lock, rules, lock] in nonce order. The mint
    is exempt by design (X was checked at home when locking), but the freeze must hold on the mirror: the second
    lock's older rules must not undo it, and X cannot move the credits."""
    credit, w3 = tc.home.token, tc.home.w3
    transact(w3, credit.functions.grantRole(credit.functions.REGULATOR_ROLE().call(), tc.admin), tc.admin)
    target = tc.stranger
    a, b = tc.lock(held, 100, to=target), tc.lock(held, 200, to=target)
    transact(w3, credit.functions.setFrozen(target, True, "audit"), tc.admin)
    rules = tc._sent(tc.home, transact(w3, tc.home.bridge.functions.syncRules(False, [target], []), tc.admin))
    delivered, skipped = _send(tc, _batch(tc, [a, rules, b], 600_000), tc.relayer)
    assert delivered == [a.id, rules.id, b.id] and skipped == {}
    mirror = tc.remote.token.functions
    assert mirror.balanceOf(target, held).call() == 300
    assert mirror.isFrozen(target).call()
    move = mirror.safeTransferFrom(target, tc.holder, held, 1, b"")
    assert tc.refused(move, tc.remote, target)[0] == "MirrorAccountFrozen"


def test_audit__bridge_inbound_paused__batch_skips_and_messages_stay_deliverable(tc, held):
    a = tc.lock(held, 100)
    transact(tc.remote.w3, tc.remote.bridge.functions.pause(IN), tc.pauser)
    delivered, skipped = _send(tc, _batch(tc, [a], 600_000), tc.stranger)
    assert delivered == [] and skipped == {a.id: "BridgeDirectionPaused"}
    assert not _processed(tc.remote, a)


# ---------------------------------------------------------------- relayer bookkeeping


@pytest.mark.parametrize("batch", [1, 4])
def test_audit__spoofed_already_processed_reason__relayer_does_not_record_unprocessed_message(tc, store, held, batch):
    """A recipient's hook controls the revert data of a RETURN delivery (no catch there): it reverts with the
    bytes of GatewayMessageAlreadyProcessed. The batch reports the message as skipped for that reason; the
    relayer must not take an unprocessed message for delivered."""
    wallet, returned = _return_to_wallet(tc, held)
    spoof = ALREADY_SELECTOR + returned.id
    transact(tc.remote.w3, wallet.functions.setRevertData(spoof), tc.admin)
    for key in tc.keys[:2]:
        attest_once(tc.pair, key_signer(key), store)
    Relayer(tc.pair, store, tc.relayer, batch=batch).relay_once()
    delivered = store.delivered()
    assert not _processed(tc.remote, returned)
    assert "0x" + returned.id.hex() not in delivered, "relayer recorded an unprocessed message as delivered"


def test_audit__spoofed_already_processed_reason__gateway_event_claims_processed(tc, held):
    """MessageSkipped(reason = GatewayMessageAlreadyProcessed) must mean the message is processed (the interface
    says so); a recipient can make the gateway say it about an unprocessed one."""
    wallet, returned = _return_to_wallet(tc, held)
    transact(tc.remote.w3, wallet.functions.setRevertData(ALREADY_SELECTOR + returned.id), tc.admin)
    _, skipped = _send(tc, _batch(tc, [returned], 600_000), tc.stranger)
    assert not _processed(tc.remote, returned)
    # The recipient's bytes come wrapped, never as the gateway's own word.
    assert skipped == {returned.id: "GatewayRecipientReverted"}
    # The gateway says AlreadyProcessed itself when it is: a second copy of a delivered message in one batch.
    a = tc.lock(held, 100)
    _, skipped = _send(tc, _batch(tc, [a, a], 600_000), tc.stranger)
    assert skipped == {a.id: "GatewayMessageAlreadyProcessed"} and _processed(tc.remote, a)


def test_audit__relayer_reads_processed_flags_in_one_batch(tc, store, held):
    """The relayer's check behind every "already processed" claim, for several ids at once (a JSON-RPC batch)."""
    a, b, c = tc.lock(held, 100), tc.lock(held, 200), tc.lock(held, 300)
    tc.deliver(a)
    tc.deliver(c)
    relayer = Relayer(tc.pair, store, tc.relayer, batch=4)
    assert relayer._processed(tc.remote, [a.id, b.id, c.id]) == {a.id, c.id}
    assert relayer._processed(tc.remote, [b.id]) == set()


def _frame(exc: BaseException) -> str:
    """The relayer function the exception escaped from (the innermost frame of tonne/bridge/relay.py)."""
    tb, name = exc.__traceback__, "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith("tonne/bridge/relay.py"):
            name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return name


def _return_to_wallet(tc, held):
    """A contract wallet on the remote chain whose burn home is refused there: the RETURN message minting back to
    the wallet (its hook controls that delivery's revert data, uncaught by the bridge)."""
    wallet, _ = deploy_contract(tc.remote.w3, "AuditHookReceiver", [], tc.admin)
    refuser, _ = deploy_contract(tc.home.w3, "RejectingReceiver", [], tc.admin)
    tc.deliver(tc.lock(held, 100, to=wallet.address))
    burn_call = tc.remote.bridge.functions.send(held, 100, interop_address(tc.home.chain_id, refuser.address))
    receipt = transact(
        tc.remote.w3, wallet.functions.execute(tc.remote.bridge.address, burn_call._encode_transaction_data()), tc.admin
    )
    returned = tc._sent(tc.home, tc.deliver(tc._sent(tc.remote, receipt)))
    return wallet, returned


@pytest.mark.parametrize("batch", [1, 4])
def test_audit__malformed_refusal_reason__relayer_survives_and_delivers_the_others(tc, store, held, batch):
    """The wallet's hook reverts with a known selector and no arguments (4 bytes). One such message in the queue
    must not stop the relayer: the honest lock queued after it must still be delivered."""
    wallet, returned = _return_to_wallet(tc, held)
    transact(tc.remote.w3, wallet.functions.setRevertData(ALREADY_SELECTOR), tc.admin)
    honest = tc.lock(held, 300)
    for key in tc.keys[:2]:
        attest_once(tc.pair, key_signer(key), store)
    relayer = Relayer(tc.pair, store, tc.relayer, batch=batch)
    crashes = []
    for _ in range(2):
        try:
            relayer.relay_once()
        except Exception as exc:  # noqa: BLE001 - the finding is that it raises at all
            crashes.append(type(exc).__name__)
    assert crashes == [], f"relay_once raised {crashes}"
    assert _processed(tc.remote, honest)


def test_audit__griefer_picks_transaction_gas_for_single_deliver__same_return(tc, held):
    """The same griefing through the single `deliver`: the caller's transaction gas plays the part of
    gasPerMessage. A hook that can never fit the fixed RECIPIENT_GAS is returned at every gas that processes it."""
    w3 = tc.remote.w3
    wallet, _ = deploy_contract(w3, "AuditHookReceiver", [], tc.admin)
    transact(w3, wallet.functions.setShape(4, 1_500_000), tc.admin)
    m = tc.lock(held, 100, to=wallet.address)
    outcomes = []
    for gas in range(500_000, 3_800_001, 100_000):
        snap = w3.provider.make_request("evm_snapshot", [])["result"]
        tx_hash = tc.deliver_call(m).transact({"from": tc.stranger, "gas": gas})
        w3.eth.wait_for_transaction_receipt(tx_hash)
        if _processed(tc.remote, m):
            outcomes.append("minted" if wallet.functions.received().call() == 100 else "returned")
        assert w3.provider.make_request("evm_revert", [snap])["result"] is True
    assert outcomes and set(outcomes) == {"returned"}, outcomes


def test_audit__front_run_malformed_reason_in_own_receipt__relayer_restarts_and_delivers(tc, store, held):
    """The wallet's hook accepts while the relayer simulates; the wallet's owner front-runs the batch (higher
    priority fee) with setRevertData(4-byte selector). The batch's receipt then holds a MessageSkipped whose
    reason does not decode. The relayer (and every restart of it, which first settles its write-ahead notes from
    that receipt) must survive and deliver the honest message queued after it."""
    w3 = tc.remote.w3
    wallet, returned = _return_to_wallet(tc, held)
    honest_1 = tc.lock(held, 300)
    for key in tc.keys[:2]:
        attest_once(tc.pair, key_signer(key), store)
    front_run = wallet.functions.setRevertData(ALREADY_SELECTOR)
    fees = {"maxPriorityFeePerGas": 100 * 10**9, "maxFeePerGas": 1_000 * 10**9}

    def attacker(_):
        if getattr(attacker, "done", False):
            return
        attacker.done = True
        front_run.transact({"from": tc.admin, **fees})
        w3.provider.make_request("evm_mine", [])

    crashes = []
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        try:
            Relayer(tc.pair, store, tc.relayer, batch=4, on_sent=attacker).relay_once()
        except Exception as exc:  # noqa: BLE001 - the finding is that it raises at all
            crashes.append(type(exc).__name__ + " in " + _frame(exc))
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    assert getattr(attacker, "done", False)
    # The attacker stops: its hook accepts again, so only the relayer's own write-ahead notes remain in the way.
    transact(w3, wallet.functions.setRevertData(b""), tc.admin)
    honest_2 = tc.lock(held, 400)
    for key in tc.keys[:2]:
        attest_once(tc.pair, key_signer(key), store)
    try:
        Relayer(tc.pair, store, tc.relayer, batch=4).relay_once()  # the restart
    except Exception as exc:  # noqa: BLE001
        crashes.append("restart: " + type(exc).__name__ + " in " + _frame(exc))
    assert crashes == [], f"relay_once raised {crashes} (write-ahead notes left: {len(store.pending())})"
    assert _processed(tc.remote, honest_1) and _processed(tc.remote, honest_2)


def test_audit__decode_revert_never_raises_on_malformed_data():
    """Revert data is anyone's: a known selector with no, truncated or garbage arguments decodes to None."""
    from tonne.bridge.errors import describe_revert

    full = ALREADY_SELECTOR + b"\x11" * 32
    assert decode_revert(full) == ("GatewayMessageAlreadyProcessed", {"messageId": b"\x11" * 32})
    for data in (ALREADY_SELECTOR, ALREADY_SELECTOR + b"\x11" * 31, "0x" + ALREADY_SELECTOR.hex() + "zz", b"\x01\x02"):
        assert decode_revert(data) is None
    assert describe_revert(ALREADY_SELECTOR) == "undecodable refusal 0x" + ALREADY_SELECTOR.hex()
    assert describe_revert(b"") == "refused" and describe_revert(full) == "GatewayMessageAlreadyProcessed"
    # A bytes argument whose length points past the end of the data.
    recipient_reverted = keccak(text="GatewayRecipientReverted(address,bytes)")[:4]
    assert decode_revert(recipient_reverted + bytes(31) + b"\x01" + bytes(31) + b"\x40" + bytes(31) + b"\xff") is None
