"""Every attack of the bridge issue, on two real Anvil chains (chain ids 7001 home, 7002 remote), shown to fail
with the exact custom error, and each time the cross-chain books checked: home locked = remote supply + retired.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_abi import encode

from tonne.bridge.deploy import deploy_contract, transact
from tonne.bridge.errors import decode_revert
from tonne.bridge.messages import BURN, Message, Transfer, high_s, interop_address, signer_of

OUT, IN = 0, 1


def books(tc, token_id) -> tuple[int, int]:
    mirror = tc.remote.token.functions
    return tc.home.bridge.functions.locked(token_id).call(), mirror.totalSupply(token_id).call() + mirror.totalRetired(
        token_id
    ).call()


def minted(tc, account, token_id) -> int:
    return tc.remote.token.functions.balanceOf(account, token_id).call()


@pytest.fixture
def lock(tc, held):
    """1,000 units of `held` locked at home for the holder on the remote chain, not yet delivered."""
    return tc.lock(held, 1_000)


def test_honest_round_trip__both_chains(tc, held):
    sent = tc.lock(held, 40_000)
    assert sent.destination_chain_id == tc.remote.chain_id and sent.message.source_chain_id == tc.home.chain_id
    tc.deliver(sent)
    assert minted(tc, tc.holder, held) == 40_000
    back = tc.burn(held, 15_000)
    tc.deliver(back)
    assert tc.home.token.functions.balanceOf(tc.holder, held).call() == 75_000
    assert books(tc, held) == (25_000, 25_000)


def test_replayed_message__refused(tc, lock, held):
    tc.deliver(lock)
    assert tc.refused(tc.deliver_call(lock), tc.remote) == ("GatewayMessageAlreadyProcessed", {"messageId": lock.id})
    assert minted(tc, tc.holder, held) == 1_000


def test_fewer_than_m__refused(tc, lock):
    sigs = tc.sign(lock, tc.keys[:1])
    assert tc.refused(tc.deliver_call(lock, sigs), tc.remote) == (
        "GatewayNotEnoughSignatures",
        {"count": 1, "threshold": 2},
    )


def test_same_validator_twice__refused(tc, lock):
    (sig,) = tc.sign(lock, tc.keys[:1])
    signer = signer_of(lock.message.digest(tc.remote.chain_id, tc.remote.gateway.address), sig)
    assert tc.refused(tc.deliver_call(lock, [sig, sig]), tc.remote) == (
        "GatewaySignersNotIncreasing",
        {"index": 1, "signer": signer, "previous": signer},
    )


def test_non_validator__refused(tc, lock):
    outsider = tc.keys[5]
    sigs = tc.sign(lock, [tc.keys[0], outsider])
    digest = lock.message.digest(tc.remote.chain_id, tc.remote.gateway.address)
    signers = [signer_of(digest, s) for s in sigs]
    bad = signers.index(signer_of(digest, tc.sign(lock, [outsider])[0]))
    assert tc.refused(tc.deliver_call(lock, sigs), tc.remote) == (
        "GatewayNotValidator",
        {"index": bad, "signer": signers[bad]},
    )


@pytest.mark.parametrize("what", ["chain", "contract", "nonce"])
def test_signature_for_another_chain_contract_or_nonce__refused(tc, lock, what):
    digest = lock.message.digest(tc.remote.chain_id, tc.remote.gateway.address)
    if what == "chain":
        # Signed for delivery on the home chain's gateway address but chain id of home: another domain.
        sigs = tc.sign(lock, chain_id=tc.home.chain_id)
        message = lock.message
    elif what == "contract":
        sigs = tc.sign(lock, gateway=tc.home.gateway.address)
        message = lock.message
    else:
        sigs = tc.sign(lock)
        message = dataclasses.replace(lock.message, nonce=lock.message.nonce + 1)
        digest = message.digest(tc.remote.chain_id, tc.remote.gateway.address)
    assert tc.refused(tc.deliver_call(lock, sigs, message=message), tc.remote) == (
        "GatewayNotValidator",
        {"index": 0, "signer": signer_of(digest, sigs[0])},
    )


def test_high_s__refused(tc, lock):
    sigs = tc.sign(lock)
    sigs[1] = high_s(sigs[1])
    assert tc.refused(tc.deliver_call(lock, sigs), tc.remote) == (
        "GatewayInvalidSignature",
        {"index": 1, "reason": 3, "detail": sigs[1][32:64]},
    )


def test_tampered_payload__refused_so_no_more_is_minted_than_locked(tc, lock, held):
    sigs = tc.sign(lock)
    payload = lock.message.payload.replace(encode(["uint256"], [1_000]), encode(["uint256"], [10**9]), 1)
    forged = dataclasses.replace(lock.message, payload=payload)
    assert Transfer.decode(payload).amount == 10**9
    digest = forged.digest(tc.remote.chain_id, tc.remote.gateway.address)
    assert tc.refused(tc.deliver_call(lock, sigs, message=forged), tc.remote) == (
        "GatewayNotValidator",
        {"index": 0, "signer": signer_of(digest, sigs[0])},
    )
    tc.deliver(lock)
    assert books(tc, held) == (1_000, 1_000)


def test_unknown_source_contract__refused(tc, held):
    # Anyone can send through the home gateway, and validators attest what was sent: the remote bridge must
    # refuse a lock message that its home bridge did not send.
    payload = Transfer(1, held, 10**6, tc.stranger, tc.stranger).encode()
    receipt = transact(
        tc.home.w3,
        tc.home.gateway.functions.sendMessage(
            interop_address(tc.remote.chain_id, tc.remote.bridge.address), payload, []
        ),
        tc.stranger,
    )
    sent = tc._sent(tc.home, receipt)
    assert tc.refused(tc.deliver_call(sent), tc.remote) == (
        "ERC7786RecipientUnauthorizedGateway",
        {"gateway": tc.remote.gateway.address, "sender": interop_address(tc.home.chain_id, tc.stranger)},
    )


def test_release_more_than_locked__refused_even_with_colluding_validators(tc, lock, held):
    tc.deliver(lock)
    forged = Message(
        tc.remote.chain_id,
        tc.remote.gateway.address,
        tc.remote.bridge.address,
        tc.home.bridge.address,
        999,
        Transfer(BURN, held, 5_000, tc.holder, tc.stranger).encode(),
    )
    fake = dataclasses.replace(lock, message=forged, destination_chain_id=tc.home.chain_id)
    assert tc.refused(tc.deliver_call(fake), tc.home) == (
        "HomeBridgeReleaseExceedsLocked",
        {"id": held, "requested": 5_000, "locked": 1_000},
    )


def test_return_to_other_chain__refused(tc, lock, held):
    tc.deliver(lock)
    call = tc.remote.bridge.functions.send(held, 1_000, interop_address(tc.home.chain_id + 5, tc.holder))
    assert tc.refused(call, tc.remote, tc.holder) == (
        "BridgeWrongDestinationChain",
        {"chainId": tc.home.chain_id + 5, "expected": tc.home.chain_id},
    )
    # And a burn message cannot be delivered to another home: signed for this home gateway, refused elsewhere.
    back = tc.burn(held, 1_000)
    sigs = tc.sign(back)
    assert tc.refused(tc.deliver_call(back, sigs, side=tc.remote), tc.remote) == (
        "GatewayNotValidator",
        {
            "index": 0,
            "signer": signer_of(back.message.digest(tc.remote.chain_id, tc.remote.gateway.address), sigs[0]),
        },
    )


def test_rate_limit__refused_then_waits_for_window(tc, held):
    transact(tc.remote.w3, tc.remote.bridge.functions.setIdLimit(IN, held, 1_500, True), tc.admin)
    first, second = tc.lock(held, 1_000), tc.lock(held, 1_000)
    tc.deliver(first)
    name, args = tc.refused(tc.deliver_call(second), tc.remote)
    assert name == "BridgeRateLimited" and (args["direction"], args["requested"], args["available"]) == (IN, 1_000, 500)
    tc.remote.w3.provider.make_request("evm_increaseTime", [86_400])
    tc.remote.w3.provider.make_request("evm_mine", [])
    tc.deliver(second)
    assert books(tc, held) == (2_000, 2_000)
    # Home outbound: 2,000 units already went out this window; a limit of 2,010 leaves 10.
    transact(tc.home.w3, tc.home.bridge.functions.setIdLimit(OUT, held, 2_010, True), tc.admin)
    name, args = tc.refused(
        tc.home.bridge.functions.send(held, 11, interop_address(tc.remote.chain_id, tc.holder)), tc.home, tc.holder
    )
    assert name == "BridgeRateLimited" and (args["direction"], args["available"]) == (OUT, 10)


def test_sending_while_paused__refused(tc, held):
    transact(tc.home.w3, tc.home.bridge.functions.pause(OUT), tc.pauser)
    transact(tc.home.w3, tc.home.token.functions.setApprovalForAll(tc.home.bridge.address, True), tc.holder)
    call = tc.home.bridge.functions.send(held, 1, interop_address(tc.remote.chain_id, tc.holder))
    assert tc.refused(call, tc.home, tc.holder) == ("BridgeDirectionPaused", {"direction": OUT})
    transact(tc.home.w3, tc.home.bridge.functions.unpause(OUT), tc.pauser)
    sent = tc.lock(held, 1)
    transact(tc.remote.w3, tc.remote.gateway.functions.pause(), tc.pauser)
    assert tc.refused(tc.deliver_call(sent), tc.remote) == ("GatewayPaused", {})


def test_sending_pledged_credits__refused(tc, held):
    """Pledged credits sit in a facility's escrow, not in the borrower's balance: the token refuses to send
    them. An escrow contract holding 60 t of the holder's 100 t stands in for the pledge facility here."""
    escrow, _ = deploy_contract(tc.home.w3, "AcceptingReceiver", [], tc.admin)
    transact(
        tc.home.w3, tc.home.token.functions.safeTransferFrom(tc.holder, escrow.address, held, 60_000, b""), tc.holder
    )
    transact(tc.home.w3, tc.home.token.functions.setApprovalForAll(tc.home.bridge.address, True), tc.holder)
    call = tc.home.bridge.functions.send(held, 40_001, interop_address(tc.remote.chain_id, tc.holder))
    assert tc.refused(call, tc.home, tc.holder) == (
        "ERC1155InsufficientBalance",
        {"sender": tc.holder, "balance": 40_000, "needed": 40_001, "tokenId": held},
    )
    tc.lock(held, 40_000)  # what is still the holder's own can go


def test_sending_credits_of_suspended_project__refused(tc, held):
    project_id = held >> 64
    transact(tc.home.w3, tc.suite.registry.functions.setProjectStatus(project_id, 3, "audit"), tc.admin)
    transact(tc.home.w3, tc.home.token.functions.setApprovalForAll(tc.home.bridge.address, True), tc.holder)
    call = tc.home.bridge.functions.send(held, 1, interop_address(tc.remote.chain_id, tc.holder))
    assert tc.refused(call, tc.home, tc.holder) == ("CreditProjectRestricted", {"id": held, "projectId": project_id})


def test_removed_validator_signature__refused(tc, lock):
    """Ronin: the admin removes a validator whose key leaked; signatures it made, before or after, no longer
    count, even together with an honest validator's."""
    sigs = tc.sign(lock, tc.keys[:2])
    removed = tc.pair.validators[1]
    transact(tc.remote.w3, tc.remote.gateway.functions.removeValidator(removed), tc.admin)
    digest = lock.message.digest(tc.remote.chain_id, tc.remote.gateway.address)
    index = [signer_of(digest, s) for s in sigs].index(removed)
    assert tc.refused(tc.deliver_call(lock, sigs), tc.remote) == (
        "GatewayNotValidator",
        {"index": index, "signer": removed},
    )
    tc.deliver(lock, tc.sign(lock, [tc.keys[0], tc.keys[2]]))


@pytest.mark.parametrize("hook", ["mint", "release"])
def test_reentrancy_through_receiver_hook__replay_refused(tc, held, hook):
    attacker, _ = deploy_contract(tc.home.w3 if hook == "release" else tc.remote.w3, "ReentrantReceiver", [], tc.admin)
    if hook == "mint":
        sent = tc.lock(held, 1_000, to=attacker.address)
        side = tc.remote
    else:
        tc.deliver(tc.lock(held, 1_000))
        sent = tc.burn(held, 1_000, to=attacker.address)
        side = tc.home
    sigs = tc.sign(sent)
    replay = side.gateway.functions.deliver(sent.message.as_tuple(), sigs)._encode_transaction_data()
    transact(side.w3, attacker.functions.arm(side.gateway.address, replay), tc.stranger)
    tc.deliver(sent, sigs)
    assert attacker.functions.attempts().call() == 1
    assert decode_revert(attacker.functions.lastRevertData().call()) == (
        "GatewayMessageAlreadyProcessed",
        {"messageId": sent.id},
    )
    assert books(tc, held) == ((1_000, 1_000) if hook == "mint" else (0, 0))
