"""TonneGateway on one chain: what `deliver` accepts and refuses, and its administration.

A delivery here is a home bridge lock, relabelled as coming from the virtual home chain, delivered to the remote
gateway (see tests/bridge_support.py).
"""

from __future__ import annotations

import dataclasses

import ape
import pytest
from eth_abi import encode

from bridge_support import address_of, validator_keys
from support import events, reverts
from tonne.bridge.messages import Message, high_s, message_id, ordered, sign_digest, signer_of

pytestmark = pytest.mark.usefixtures("bridges")

ECDSA_INVALID_SIGNATURE = 1
ECDSA_INVALID_LENGTH = 2
ECDSA_INVALID_S = 3


@pytest.fixture
def locked(bridges, held, holder) -> Message:
    """A real lock of 1,000 units of `held`, not yet delivered."""
    _, message = bridges.lock(holder, held, 1_000)
    return message


def test_python_digest__matches_contract(bridges, locked):
    gateway = bridges.remote_gateway
    assert gateway.attestationDigest(locked.as_tuple()) == locked.digest(bridges.chain_id, gateway.address)
    assert gateway.messageIdOf(locked.source_chain_id, locked.source_gateway, locked.nonce) == locked.id


def test_send_message__numbers_messages_and_emits_id(bridges, held, holder):
    gateway = bridges.home_gateway
    before = gateway.outboundNonce()
    receipt, message = bridges.lock(holder, held, 1)
    assert message.nonce == before + 1 == gateway.outboundNonce()
    (sent,) = events(receipt, gateway, "MessageSent")
    assert sent["sendId"] == message_id(bridges.chain_id, gateway.address, message.nonce)
    (locked_event,) = events(receipt, bridges.home, "CreditsLocked")
    assert locked_event["messageId"] == sent["sendId"]


def test_deliver__threshold_signatures__mints_and_marks_processed(bridges, locked, holder, stranger):
    receipt = bridges.deliver(locked, stranger)
    gateway = bridges.remote_gateway
    assert gateway.isProcessed(locked.id)
    (delivered,) = events(receipt, gateway, "MessageDelivered")
    assert delivered["messageId"] == locked.id and delivered["relayer"] == str(stranger.address).lower()
    (minted,) = events(receipt, bridges.remote, "CreditsMinted")
    assert minted["messageId"] == locked.id and minted["amount"] == 1_000
    assert bridges.mirror.balanceOf(holder, minted["id"]) == 1_000


def test_deliver__replayed__reverts(bridges, locked, stranger):
    bridges.deliver(locked, stranger)
    with reverts(bridges.remote_gateway.GatewayMessageAlreadyProcessed, messageId=locked.id):
        bridges.deliver(locked, stranger)


def test_deliver__fewer_than_threshold__reverts(bridges, locked, stranger):
    one = bridges.sign(locked, bridges.keys[:1])
    with reverts(bridges.remote_gateway.GatewayNotEnoughSignatures, count=1, threshold=2):
        bridges.deliver(locked, stranger, one)


def test_deliver__same_validator_twice__reverts(bridges, locked, stranger):
    (sig,) = bridges.sign(locked, bridges.keys[:1])
    signer = address_of(bridges.keys[0])
    with reverts(bridges.remote_gateway.GatewaySignersNotIncreasing, index=1, signer=signer, previous=signer):
        bridges.deliver(locked, stranger, [sig, sig])


def test_deliver__same_validator_twice_as_low_and_high_s__reverts(bridges, locked, stranger):
    (sig,) = bridges.sign(locked, bridges.keys[:1])
    twin = high_s(sig)
    digest = locked.digest(bridges.chain_id, bridges.remote_gateway.address)
    assert signer_of(digest, twin) == signer_of(digest, sig)  # the malleated twin is the same signer
    s = twin[32:64]
    with reverts(bridges.remote_gateway.GatewayInvalidSignature, index=1, reason=ECDSA_INVALID_S, detail=s):
        bridges.deliver(locked, stranger, [sig, twin])


def test_deliver__signers_out_of_order__reverts(bridges, locked, stranger):
    sigs = bridges.sign(locked)
    digest = locked.digest(bridges.chain_id, bridges.remote_gateway.address)
    first, second = signer_of(digest, sigs[0]), signer_of(digest, sigs[1])
    with reverts(bridges.remote_gateway.GatewaySignersNotIncreasing, index=1, signer=first, previous=second):
        bridges.deliver(locked, stranger, list(reversed(sigs)))


def test_deliver__non_validator_signature__reverts(bridges, locked, stranger):
    outsider = validator_keys(5)[4]  # not in the 3-validator set
    keys = [bridges.keys[0], outsider]
    sigs = bridges.sign(locked, keys)
    digest = locked.digest(bridges.chain_id, bridges.remote_gateway.address)
    index = [signer_of(digest, s) for s in sigs].index(address_of(outsider))
    with reverts(bridges.remote_gateway.GatewayNotValidator, index=index, signer=address_of(outsider)):
        bridges.deliver(locked, stranger, sigs)


def test_deliver__high_s_signature__reverts(bridges, locked, stranger):
    sigs = bridges.sign(locked)
    sigs[0] = high_s(sigs[0])
    with reverts(
        bridges.remote_gateway.GatewayInvalidSignature, index=0, reason=ECDSA_INVALID_S, detail=sigs[0][32:64]
    ):
        bridges.deliver(locked, stranger, sigs)


def test_deliver__malformed_signature__reverts(bridges, locked, stranger):
    sigs = bridges.sign(locked)
    sigs[1] = sigs[1][:64]
    with reverts(
        bridges.remote_gateway.GatewayInvalidSignature,
        index=1,
        reason=ECDSA_INVALID_LENGTH,
        detail=(64).to_bytes(32, "big"),
    ):
        bridges.deliver(locked, stranger, sigs)


def test_deliver__unrecoverable_signature__reverts_not_zero_address(bridges, locked, stranger):
    # r = 0 has no curve point: ecrecover yields the zero address, which OpenZeppelin reports as an error.
    sigs = bridges.sign(locked)
    sigs[0] = b"\x00" * 32 + sigs[0][32:]
    with reverts(
        bridges.remote_gateway.GatewayInvalidSignature, index=0, reason=ECDSA_INVALID_SIGNATURE, detail=b"\x00" * 32
    ):
        bridges.deliver(locked, stranger, sigs)


@pytest.mark.parametrize(
    "field, value",
    [
        ("source_chain_id", 778),  # signed for another source chain
        ("nonce", None),  # another nonce
        ("payload", None),  # tampered payload
        ("recipient", None),  # another destination contract
        ("sender", None),  # another source contract
    ],
)
def test_deliver__message_differs_from_what_was_signed__reverts(bridges, locked, stranger, field, value):
    sigs = bridges.sign(locked)
    if field == "nonce":
        value = locked.nonce + 1
    elif field == "payload":
        # Same shape, 1,000 units -> 1,000,000 units: the attack that mints more than was locked.
        value = locked.payload.replace(encode(["uint256"], [1_000]), encode(["uint256"], [1_000_000]), 1)
        assert value != locked.payload
    elif field in ("recipient", "sender"):
        value = str(stranger.address)
    forged = dataclasses.replace(locked, **{field: value})
    digest = forged.digest(bridges.chain_id, bridges.remote_gateway.address)
    # The signatures recover to unrelated addresses under the forged digest: the first is not a validator.
    with reverts(bridges.remote_gateway.GatewayNotValidator, index=0, signer=signer_of(digest, sigs[0])):
        bridges.deliver(forged, stranger, sigs, gateway=bridges.remote_gateway)


def test_deliver__signed_for_another_gateway__reverts(bridges, locked, stranger):
    # Valid signatures for the home gateway (another contract on this chain) do not verify at the remote one.
    sigs = bridges.sign(locked, gateway=bridges.home_gateway)
    digest = locked.digest(bridges.chain_id, bridges.remote_gateway.address)
    with reverts(bridges.remote_gateway.GatewayNotValidator, index=0, signer=signer_of(digest, sigs[0])):
        bridges.deliver(locked, stranger, sigs, gateway=bridges.remote_gateway)


def test_deliver__signed_for_another_chain__reverts(bridges, locked, stranger):
    gateway = bridges.remote_gateway
    digest_elsewhere = locked.digest(bridges.chain_id + 1, gateway.address)
    sigs = ordered({address_of(k): sign_digest(k, digest_elsewhere) for k in bridges.keys[:2]})
    digest = locked.digest(bridges.chain_id, gateway.address)
    with reverts(gateway.GatewayNotValidator, index=0, signer=signer_of(digest, sigs[0])):
        bridges.deliver(locked, stranger, sigs)


def test_deliver__removed_validator_signature__reverts(bridges, locked, admin, stranger):
    """Ronin: a key that was removed (say, stolen) signs for nothing any more, even with one honest co-signer."""
    gateway = bridges.remote_gateway
    sigs = bridges.sign(locked, bridges.keys[:2])  # signed while both were validators
    removed = address_of(bridges.keys[1])
    receipt = gateway.removeValidator(removed, sender=admin)
    assert events(receipt, gateway, "ValidatorRemoved") == [{"account": removed.lower(), "validatorCount": 2}]
    digest = locked.digest(bridges.chain_id, gateway.address)
    index = [signer_of(digest, s) for s in sigs].index(removed)
    with reverts(gateway.GatewayNotValidator, index=index, signer=removed):
        bridges.deliver(locked, stranger, sigs)
    # The remaining two validators can still deliver it.
    bridges.deliver(locked, stranger, bridges.sign(locked, [bridges.keys[0], bridges.keys[2]]))
    assert gateway.isProcessed(locked.id)


def test_deliver__more_than_threshold__all_checked_and_accepted(bridges, locked, stranger):
    bridges.deliver(locked, stranger, bridges.sign(locked, bridges.keys))
    assert bridges.remote_gateway.isProcessed(locked.id)


def test_deliver__recipient_reverts__nothing_marked(bridges, locked, stranger, regulator):
    bridges.remote.pause(1, sender=regulator)  # inbound
    with reverts(bridges.remote.BridgeDirectionPaused, direction=1):
        bridges.deliver(locked, stranger)
    assert not bridges.remote_gateway.isProcessed(locked.id)
    bridges.remote.unpause(1, sender=regulator)
    bridges.deliver(locked, stranger)
    assert bridges.remote_gateway.isProcessed(locked.id)


def test_deliver__recipient_not_erc7786__reverts(bridges, credit, stranger, locked):
    # The credit token has no receiveMessage: the call fails and nothing is marked.
    forged = dataclasses.replace(locked, recipient=str(credit.address))
    with ape.reverts():  # no such function: the revert carries no data to name
        bridges.deliver(forged, stranger)
    assert not bridges.remote_gateway.isProcessed(forged.id)


# ------------------------------------------------------------------ pause


def test_pause__stops_send_and_deliver(bridges, held, holder, stranger, regulator, locked):
    gateway = bridges.remote_gateway
    receipt = gateway.pause(sender=regulator)
    assert events(receipt, gateway, "GatewayPausedBy") == [{"account": str(regulator.address).lower()}]
    with reverts(gateway.GatewayPaused):
        bridges.deliver(locked, stranger)
    bridges.home_gateway.pause(sender=regulator)
    bridges.credit.setApprovalForAll(bridges.home, True, sender=holder)
    with reverts(bridges.home_gateway.GatewayPaused):
        bridges.home.send(held, 1, bridges.to_remote(holder), sender=holder)
    gateway.unpause(sender=regulator)
    bridges.deliver(locked, stranger)
    with reverts(gateway.GatewayPauseUnchanged, paused=False):
        gateway.unpause(sender=regulator)


# ------------------------------------------------------------------ sendMessage input


def test_send_message__value_attribute_or_bad_recipient__reverts(bridges, stranger):
    gateway = bridges.home_gateway
    good = bytes.fromhex("000100000202" + "1092" + "14") + b"\x11" * 20  # chain 4242, non-zero address
    with reverts(gateway.GatewayValueNotSupported, value=1):
        gateway.sendMessage(good, b"", [], sender=stranger, value=1)
    with reverts(gateway.UnsupportedAttribute, selector=b"\xab\xcd\xef\x01"):
        gateway.sendMessage(good, b"", [b"\xab\xcd\xef\x01" + b"\x00" * 32], sender=stranger)
    same_chain = bytes.fromhex("0001000002") + bridges.chain_id.to_bytes(2, "big") + b"\x14" + b"\x11" * 20
    for bad in (same_chain, good[:-20] + b"\x00" * 20, b"\x01\x02"):
        with reverts(gateway.GatewayInvalidRecipient, recipient=bad):
            gateway.sendMessage(bad, b"", [], sender=stranger)


# ------------------------------------------------------------------ administration


def test_admin_functions__stranger__refused(bridges, stranger):
    gateway = bridges.remote_gateway
    admin_role = gateway.DEFAULT_ADMIN_ROLE()
    pauser_role = gateway.PAUSER_ROLE()
    calls = [
        (gateway.addValidator, (str(stranger.address),), admin_role),
        (gateway.removeValidator, (address_of(bridges.keys[0]),), admin_role),
        (gateway.setThreshold, (1,), admin_role),
        (gateway.pause, (), pauser_role),
        (gateway.unpause, (), pauser_role),
    ]
    for call, args, role in calls:
        with reverts(gateway.AccessControlUnauthorizedAccount, account=stranger, neededRole=role):
            call(*args, sender=stranger)


def test_validator_admin__events_and_bounds(bridges, admin):
    gateway = bridges.remote_gateway
    new = address_of(validator_keys(4)[3])
    receipt = gateway.addValidator(new, sender=admin)
    assert events(receipt, gateway, "ValidatorAdded") == [{"account": new.lower(), "validatorCount": 4}]
    with reverts(gateway.GatewayValidatorUnchanged, account=new, isValidator=True):
        gateway.addValidator(new, sender=admin)
    with reverts(gateway.GatewayValidatorUnchanged, account="0x" + "00" * 20, isValidator=True):
        gateway.addValidator("0x" + "00" * 20, sender=admin)
    receipt = gateway.setThreshold(4, sender=admin)
    assert events(receipt, gateway, "ThresholdChanged") == [{"previous": 2, "threshold": 4}]
    with reverts(gateway.GatewayInvalidThreshold, threshold=4, validatorCount=3):
        gateway.removeValidator(new, sender=admin)
    with reverts(gateway.GatewayInvalidThreshold, threshold=5, validatorCount=4):
        gateway.setThreshold(5, sender=admin)
    with reverts(gateway.GatewayInvalidThreshold, threshold=0, validatorCount=4):
        gateway.setThreshold(0, sender=admin)
    gateway.setThreshold(2, sender=admin)
    gateway.removeValidator(new, sender=admin)
    assert not gateway.isValidator(new) and gateway.validatorCount() == 3
    with reverts(gateway.GatewayValidatorUnchanged, account=new, isValidator=False):
        gateway.removeValidator(new, sender=admin)
