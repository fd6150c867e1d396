"""Undeliverable transfers are returned (audit2 finding, Low: a recipient that cannot take the credits locked them
for good). The receiving bridge tries the mint or release; when the recipient is refused, the message is still
processed once, TransferReturned names it, and a RETURN message gives the credits back to the sender on the
source chain. A return is never returned again: refused, it reverts and stays retriable.
"""

from __future__ import annotations

import pytest
from ape.exceptions import ContractLogicError
from eth_utils import keccak

from bridge_support import Bridges
from support import events, reverts
from tonne.bridge.messages import RETURN, Transfer

pytestmark = pytest.mark.usefixtures("bridges")


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def books(bridges: Bridges, token_id: int) -> bool:
    return bridges.home.locked(token_id) == bridges.mirror.totalSupply(token_id) + bridges.mirror.totalRetired(token_id)


def returned_message(bridges: Bridges, receipt, bridge, gateway):
    (ev,) = events(receipt, bridge, "TransferReturned")
    message = bridges.outbound(receipt, gateway)
    # The bridge names the id its gateway gave (under the real chain id; the test relabels the source chain).
    assert ev["messageId"] == gateway.messageIdOf(bridges.chain_id, gateway, message.nonce)
    return ev, message


def test_lock__to_mirror_token__returned_and_released_to_sender(bridges, held, holder, stranger):
    """The PoC: sent to the MirrorCredit itself, which has no ERC-1155 receiver."""
    before = bridges.credit.balanceOf(holder, held)
    _, lock = bridges.lock(holder, held, 1_000, to=bridges.mirror)
    receipt = bridges.deliver(lock, stranger)
    assert bridges.remote_gateway.isProcessed(lock.id)
    ev, ret = returned_message(bridges, receipt, bridges.remote, bridges.remote_gateway)
    assert ev["returnedMessageId"] == lock.id and ev["from"] == str(bridges.mirror.address).lower()
    assert ev["to"] == str(holder.address).lower() and ev["amount"] == 1_000
    assert ev["reason"][:4] == selector("ERC1155InvalidReceiver(address)")
    assert Transfer.decode(ret.payload).kind == RETURN and Transfer.decode(ret.payload).returned == lock.id
    assert bridges.mirror.totalSupply(held) == 0 and bridges.home.locked(held) == 1_000  # return in flight
    receipt = bridges.deliver(ret, stranger)
    (restored,) = events(receipt, bridges.home, "TransferRestored")
    assert restored["returnedMessageId"] == lock.id and restored["to"] == str(holder.address).lower()
    assert bridges.credit.balanceOf(holder, held) == before
    assert bridges.home.locked(held) == 0 and books(bridges, held)


def test_burn__recipient_frozen_at_home__returned_and_reminted_to_sender(
    bridges, held, holder, other_holder, stranger, regulator
):
    _, lock = bridges.lock(holder, held, 5_000)
    bridges.deliver(lock, stranger)
    bridges.credit.setFrozen(other_holder, True, "court order", sender=regulator)
    try:
        _, burn = bridges.burn(holder, held, 2_000, to=other_holder)
        receipt = bridges.deliver(burn, stranger)
        assert bridges.home_gateway.isProcessed(burn.id)
        assert events(receipt, bridges.home, "CreditsReleased") == []
        ev, ret = returned_message(bridges, receipt, bridges.home, bridges.home_gateway)
        assert ev["reason"][:4] == selector("CreditAccountFrozen(address)")
        assert bridges.home.locked(held) == 5_000 and bridges.mirror.balanceOf(holder, held) == 3_000
        bridges.deliver(ret, stranger)
        assert bridges.mirror.balanceOf(holder, held) == 5_000 and books(bridges, held)
    finally:
        bridges.credit.setFrozen(other_holder, False, "lifted", sender=regulator)


def test_return__sender_refused_too__reverts_and_stays_retriable_never_returned_again(
    bridges, held, holder, stranger, regulator
):
    _, lock = bridges.lock(holder, held, 1_000, to=bridges.mirror)
    _, ret = returned_message(bridges, bridges.deliver(lock, stranger), bridges.remote, bridges.remote_gateway)
    bridges.credit.setFrozen(holder, True, "court order", sender=regulator)
    try:
        with pytest.raises(ContractLogicError):
            bridges.deliver(ret, stranger)
        assert not bridges.home_gateway.isProcessed(ret.id) and bridges.home.locked(held) == 1_000
    finally:
        bridges.credit.setFrozen(holder, False, "lifted", sender=regulator)
    receipt = bridges.deliver(ret, stranger)  # retried once the sender can receive again
    assert events(receipt, bridges.home, "TransferReturned") == []
    assert bridges.home.locked(held) == 0 and books(bridges, held)


def test_return__replayed__refused(bridges, held, holder, stranger):
    _, lock = bridges.lock(holder, held, 1_000, to=bridges.mirror)
    _, ret = returned_message(bridges, bridges.deliver(lock, stranger), bridges.remote, bridges.remote_gateway)
    bridges.deliver(ret, stranger)
    with reverts(bridges.home_gateway.GatewayMessageAlreadyProcessed, messageId=ret.id):
        bridges.deliver(ret, stranger)
    with reverts(bridges.remote_gateway.GatewayMessageAlreadyProcessed, messageId=lock.id):
        bridges.deliver(lock, stranger)
    assert books(bridges, held)


def test_return__stranger_forges_one__refused(bridges, held, holder, stranger):
    """Only the linked bridge's attested messages reach `_processMessage`: a stranger can neither call the bridge
    nor make a gateway deliver a return the validators did not sign."""
    _, lock = bridges.lock(holder, held, 1_000, to=bridges.mirror)
    _, ret = returned_message(bridges, bridges.deliver(lock, stranger), bridges.remote, bridges.remote_gateway)
    sender = bridges.to_remote(bridges.remote)
    with reverts(bridges.home.ERC7786RecipientUnauthorizedGateway, gateway=stranger, sender=sender):
        bridges.home.receiveMessage(ret.id, sender, ret.payload, sender=stranger)
    forged = type(ret)(ret.source_chain_id, ret.source_gateway, ret.sender, ret.recipient, ret.nonce + 99, ret.payload)
    with pytest.raises(ContractLogicError):
        bridges.deliver(forged, stranger, signatures=[])
    # A holder cannot turn someone else's deliverable lock into a return either: it is minted, not returned.
    _, good = bridges.lock(holder, held, 500)
    receipt = bridges.deliver(good, stranger)
    assert events(receipt, bridges.remote, "TransferReturned") == []
    assert bridges.mirror.balanceOf(holder, held) == 500


def test_deliver__hook_within_recipient_gas_under_gassed__reverts_then_minted(
    project, bridges, held, holder, stranger, admin
):
    """A hook that fits the fixed RECIPIENT_GAS: a caller who cannot give that much is refused (nothing changes,
    the message waits); any caller who can gets it minted."""
    hog = project.GasBurningReceiver.deploy(sender=admin)
    hog.setBurn(100_000, sender=admin)
    _, lock = bridges.lock(holder, held, 1_000, to=hog)
    with pytest.raises(ContractLogicError) as info:
        bridges.remote_gateway.deliver(lock.as_tuple(), bridges.sign(lock), sender=stranger, gas=300_000)
    assert selector("BridgeDeliveryGasTooLow(uint256,uint256)").hex() in repr(info.value), info.value
    assert not bridges.remote_gateway.isProcessed(lock.id)
    receipt = bridges.remote_gateway.deliver(lock.as_tuple(), bridges.sign(lock), sender=stranger, gas=1_500_000)
    assert events(receipt, bridges.remote, "TransferReturned") == []
    assert bridges.mirror.balanceOf(hog, held) == 1_000 and hog.received() == 1_000 and books(bridges, held)


@pytest.mark.parametrize("gas", [800_000, 1_500_000, 6_000_000])
def test_deliver__hook_beyond_recipient_gas__returned_whatever_the_caller_gives(
    project, bridges, held, holder, stranger, admin, gas
):
    """A hook that needs more than RECIPIENT_GAS runs out of it whatever gas the caller gives: the outcome is the
    recipient's (returned), never the caller's choice (audit/relay-batch.md, finding 4)."""
    hog = project.GasBurningReceiver.deploy(sender=admin)
    hog.setBurn(bridges.remote.RECIPIENT_GAS(), sender=admin)
    before = bridges.credit.balanceOf(holder, held)
    _, lock = bridges.lock(holder, held, 1_000, to=hog)
    receipt = bridges.remote_gateway.deliver(lock.as_tuple(), bridges.sign(lock), sender=stranger, gas=gas)
    returned, ret = returned_message(bridges, receipt, bridges.remote, bridges.remote_gateway)
    # Out of gas inside its own budget: the token's acceptance check names the receiver.
    assert returned["reason"][:4] == selector("ERC1155InvalidReceiver(address)")
    assert bridges.remote_gateway.isProcessed(lock.id)
    assert bridges.mirror.balanceOf(hog, held) == 0 and hog.received() == 0
    bridges.deliver(ret, stranger)
    assert bridges.credit.balanceOf(holder, held) == before and books(bridges, held)


def test_return__reentrant_hook_on_remint__guarded_books_exact(project, bridges, held, holder, stranger, admin):
    """The burner is a contract whose hook, on the re-mint of its return, re-enters the remote bridge."""
    attacker = project.ReentrantReceiver.deploy(sender=admin)
    _, lock = bridges.lock(holder, held, 2_000, to=attacker)
    bridges.deliver(lock, stranger)
    burn_receipt = attacker.execute(
        bridges.remote, bridges.remote.send.encode_input(held, 1_000, bridges.to_home(bridges.credit)), sender=stranger
    )
    burn = bridges.outbound(burn_receipt, bridges.remote_gateway)
    receipt = bridges.deliver(burn, stranger)  # the CarbonCredit token cannot receive: returned
    _, ret = returned_message(bridges, receipt, bridges.home, bridges.home_gateway)
    attacker.arm(
        bridges.remote, bridges.remote.send.encode_input(held, 1_000, bridges.to_home(holder)), sender=stranger
    )
    bridges.deliver(ret, stranger)
    assert attacker.attempts() == 1 and not attacker.lastSucceeded()
    assert bytes(attacker.lastRevertData())[:4] == selector("ReentrancyGuardReentrantCall()")
    assert bridges.mirror.balanceOf(attacker, held) == 2_000 and books(bridges, held)
