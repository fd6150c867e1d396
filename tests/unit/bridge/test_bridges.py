"""Home and remote bridges on one chain: lock, mint, burn, release, and every rule on the way.

Messages are relayed by the test with the validators' keys (see tests/bridge_support.py).
"""

from __future__ import annotations

import pytest
from eth_utils import keccak

from bridge_support import HOME_CHAIN, IN, LIMIT, OUT, REMOTE_CHAIN, WINDOW, deploy_bridges, fresh_range
from support import events, plain, reverts
from tonne.bridge.messages import (
    BURN,
    LOCK,
    TOKEN_KEY,
    BatchMetadata,
    Message,
    Transfer,
    account_key,
    interop_address,
)

pytestmark = pytest.mark.usefixtures("bridges")


def supply_view(bridges, token_id, holders) -> tuple[int, int]:
    mirror = bridges.mirror
    return mirror.totalSupply(token_id), sum(mirror.balanceOf(h, token_id) for h in holders)


# ------------------------------------------------------------------ round trip


def test_lock__escrows_and_sends_metadata(bridges, registry, held, holder, other_holder):
    receipt, message = bridges.lock(holder, held, 40_000, to=other_holder)
    assert bridges.credit.balanceOf(holder, held) == 60_000
    assert bridges.credit.balanceOf(bridges.home, held) == 40_000 == bridges.home.locked(held)
    (locked,) = events(receipt, bridges.home, "CreditsLocked")
    (sent,) = events(receipt, bridges.home_gateway, "MessageSent")
    assert locked == plain(messageId=sent["sendId"], id=held, **{"from": holder}, to=other_holder, amount=40_000)
    transfer = Transfer.decode(message.payload)
    batch = registry.batch(held)
    assert transfer == Transfer(
        LOCK,
        held,
        40_000,
        str(holder.address),
        str(other_holder.address),
        BatchMetadata(
            batch.projectId,
            batch.serialFirst,
            batch.serialLast,
            batch.periodStart,
            batch.periodEnd,
            "VCS",
            batch.metadataURI,
        ),
        # The lock carries the home rules of the token and of the recipient, under the latest sequence.
        rule_seq=bridges.home.ruleSeq(),
        token_rules=bridges.home.rulesOf(TOKEN_KEY),
        to_rules=bridges.home.rulesOf(account_key(str(other_holder.address))),
    )
    assert message.recipient == bridges.remote.address


def test_round_trip__mint_then_burn_then_release(bridges, held, holder, other_holder, stranger):
    _, lock = bridges.lock(holder, held, 40_000, to=other_holder)
    receipt = bridges.deliver(lock, stranger)
    mirror = bridges.mirror
    assert mirror.balanceOf(other_holder, held) == 40_000 == mirror.totalSupply(held)
    meta = mirror.metadataOf(held)
    assert meta.projectId == held >> 64 and meta.standard == "VCS" and mirror.uri(held) == "ipfs://bafy-batch"
    assert len(events(receipt, mirror, "MetadataRecorded")) == 1

    # A second lock of the same id mints without recording the metadata again.
    _, lock2 = bridges.lock(holder, held, 1_000, to=other_holder)
    assert events(bridges.deliver(lock2, stranger), mirror, "MetadataRecorded") == []

    receipt, burn = bridges.burn(other_holder, held, 25_000, to=holder)
    assert mirror.balanceOf(other_holder, held) == 16_000
    (burned,) = events(receipt, bridges.remote, "CreditsBurned")
    assert burned["amount"] == 25_000 and burned["to"] == str(holder.address).lower()
    assert Transfer.decode(burn.payload) == Transfer(BURN, held, 25_000, str(other_holder.address), str(holder.address))

    receipt = bridges.deliver(burn, stranger)
    (released,) = events(receipt, bridges.home, "CreditsReleased")
    assert released == plain(messageId=burn.id, id=held, to=holder, **{"from": other_holder}, amount=25_000)
    assert bridges.credit.balanceOf(holder, held) == 100_000 - 41_000 + 25_000
    assert bridges.home.locked(held) == 16_000 == mirror.totalSupply(held)


def test_messages__delivered_out_of_order__each_applies_once(bridges, held, holder, stranger):
    _, first = bridges.lock(holder, held, 1_000)
    _, second = bridges.lock(holder, held, 2_000)
    bridges.deliver(second, stranger)  # carries its own metadata: order does not matter
    bridges.deliver(first, stranger)
    assert bridges.mirror.totalSupply(held) == 3_000 == bridges.home.locked(held)


# ------------------------------------------------------------------ escrow bounds


def test_release__more_than_locked__reverts_even_if_validators_collude(bridges, held, holder, stranger):
    _, lock = bridges.lock(holder, held, 1_000)
    bridges.deliver(lock, stranger)
    # M validators sign a burn message the remote bridge never sent, for more than is locked.
    forged = Message(
        REMOTE_CHAIN,
        bridges.remote_gateway.address,
        bridges.remote.address,
        bridges.home.address,
        10_000,
        Transfer(BURN, held, 5_000, str(holder.address), str(holder.address)).encode(),
    )
    with reverts(bridges.home.HomeBridgeReleaseExceedsLocked, id=held, requested=5_000, locked=1_000):
        bridges.deliver(forged, stranger)
    assert bridges.home.locked(held) == 1_000


def test_deliver__unknown_source_contract__reverts(bridges, held, holder, stranger):
    # A perfectly attested message whose sender is not the linked remote bridge.
    payload = Transfer(BURN, held, 1, str(stranger.address), str(stranger.address)).encode()
    forged = Message(
        REMOTE_CHAIN, bridges.remote_gateway.address, str(stranger.address), bridges.home.address, 99, payload
    )
    with reverts(
        bridges.home.ERC7786RecipientUnauthorizedGateway,
        gateway=bridges.home_gateway,
        sender=interop_address(REMOTE_CHAIN, str(stranger.address)),
    ):
        bridges.deliver(forged, stranger)


def test_deliver__linked_sender_on_another_chain__reverts(bridges, held, stranger):
    payload = Transfer(BURN, held, 1, str(stranger.address), str(stranger.address)).encode()
    forged = Message(
        REMOTE_CHAIN + 1, bridges.remote_gateway.address, bridges.remote.address, bridges.home.address, 1, payload
    )
    with reverts(
        bridges.home.ERC7786RecipientUnauthorizedGateway,
        gateway=bridges.home_gateway,
        sender=interop_address(REMOTE_CHAIN + 1, bridges.remote.address),
    ):
        bridges.deliver(forged, stranger, gateway=bridges.home_gateway)


def test_receive_message__not_from_gateway__reverts(bridges, held, stranger):
    payload = Transfer(LOCK, held, 1, str(stranger.address), str(stranger.address)).encode()
    sender = interop_address(HOME_CHAIN, bridges.home.address)
    with reverts(bridges.remote.ERC7786RecipientUnauthorizedGateway, gateway=stranger, sender=sender):
        bridges.remote.receiveMessage(b"\x01" * 32, sender, payload, sender=stranger)


@pytest.mark.parametrize("side", ["home", "remote"])
def test_deliver__wrong_kind_of_message__reverts(bridges, held, holder, stranger, side):
    if side == "home":  # a LOCK arriving at home
        kind, expected, source, gateway, sender, recipient, target = (
            LOCK,
            BURN,
            REMOTE_CHAIN,
            bridges.remote_gateway,
            bridges.remote,
            bridges.home,
            bridges.home,
        )
    else:
        kind, expected, source, gateway, sender, recipient, target = (
            BURN,
            LOCK,
            HOME_CHAIN,
            bridges.home_gateway,
            bridges.home,
            bridges.remote,
            bridges.remote,
        )
    payload = Transfer(kind, held, 1, str(holder.address), str(holder.address)).encode()
    forged = Message(source, gateway.address, sender.address, recipient.address, 5, payload)
    with reverts(target.BridgeUnexpectedMessage, kind=kind, expected=expected):
        bridges.deliver(forged, stranger)


def test_mirror__mint_or_burn_by_anyone_but_bridge__reverts(bridges, held, stranger):
    mirror = bridges.mirror
    with reverts(mirror.MirrorCallerNotBridge, caller=stranger):
        mirror.bridgeMint(stranger, held, 1, sender=stranger)
    with reverts(mirror.MirrorCallerNotBridge, caller=stranger):
        mirror.bridgeRecordMetadata(held, b"", sender=stranger)
    with reverts(mirror.MirrorCallerNotBridge, caller=stranger):
        mirror.bridgeBurn(stranger, held, 1, sender=stranger)


def test_mint__lock_message_without_metadata__reverts(bridges, held, holder, stranger):
    payload = Transfer(LOCK, held, 1, str(holder.address), str(holder.address)).encode()
    forged = Message(
        HOME_CHAIN, bridges.home_gateway.address, bridges.home.address, bridges.remote.address, 77, payload
    )
    # Refused by the mirror before the recipient's transfer (a home bridge always sends metadata): the delivery
    # reverts, nothing is minted or returned, and the message stays unprocessed.
    with reverts(bridges.mirror.MirrorMissingMetadata, id=held):
        bridges.deliver(forged, stranger)
    assert not bridges.remote_gateway.isProcessed(forged.id)
    assert bridges.mirror.totalSupply(held) == 0


def test_burn__more_than_held__reverts(bridges, held, holder, stranger):
    _, lock = bridges.lock(holder, held, 1_000)
    bridges.deliver(lock, stranger)
    with reverts(bridges.mirror.ERC1155InsufficientBalance, sender=holder, balance=1_000, needed=1_001, tokenId=held):
        bridges.remote.send(held, 1_001, bridges.to_home(holder), sender=holder)


# ------------------------------------------------------------------ where credits may go


def test_send_home__to_a_chain_other_than_origin__reverts(bridges, held, holder, stranger):
    _, lock = bridges.lock(holder, held, 1_000)
    bridges.deliver(lock, stranger)
    elsewhere = interop_address(HOME_CHAIN + 1, str(holder.address))
    with reverts(bridges.remote.BridgeWrongDestinationChain, chainId=HOME_CHAIN + 1, expected=HOME_CHAIN):
        bridges.remote.send(held, 1_000, elsewhere, sender=holder)


def test_send__to_an_unlinked_chain_or_zero_address__reverts(bridges, held, holder):
    bridges.credit.setApprovalForAll(bridges.home, True, sender=holder)
    elsewhere = interop_address(REMOTE_CHAIN + 1, str(holder.address))
    with reverts(bridges.home.BridgeWrongDestinationChain, chainId=REMOTE_CHAIN + 1, expected=REMOTE_CHAIN):
        bridges.home.send(held, 1, elsewhere, sender=holder)
    for bad in (interop_address(REMOTE_CHAIN, "0x" + "00" * 20), interop_address(REMOTE_CHAIN), b"\x00\x01"):
        with reverts(bridges.home.BridgeInvalidRecipient, to=bad):
            bridges.home.send(held, 1, bad, sender=holder)
    with reverts(bridges.home.BridgeZeroAmount, id=held):
        bridges.home.send(held, 0, bridges.to_remote(holder), sender=holder)


def test_link__once_and_only_to_origin(project, bridges, credit, admin, stranger):
    with reverts(bridges.home.BridgeAlreadyLinked, remoteChainId=REMOTE_CHAIN):
        bridges.home.link(bridges.home_gateway, interop_address(5, str(stranger.address)), sender=admin)
    mirror = project.MirrorCredit.deploy(HOME_CHAIN, credit, "u", 0, admin, sender=admin)
    remote = project.RemoteBridge.deploy(mirror, WINDOW, LIMIT, 0, admin, sender=admin)
    wrong = interop_address(HOME_CHAIN + 1, bridges.home.address)
    with reverts(remote.BridgeInvalidCounterpart, counterpart=wrong):
        remote.link(bridges.remote_gateway, wrong, sender=admin)
    with reverts(remote.BridgeNotLinked):
        remote.send(1, 1, interop_address(HOME_CHAIN, str(stranger.address)), sender=stranger)


# ------------------------------------------------------------------ what cannot be sent


def test_send__suspended_project__token_refuses(bridges, registry, registrar, held, holder):
    project_id = held >> 64
    registry.setProjectStatus(project_id, 3, "under review", sender=registrar)
    bridges.credit.setApprovalForAll(bridges.home, True, sender=holder)
    with reverts(bridges.credit.CreditProjectRestricted, id=held, projectId=project_id):
        bridges.home.send(held, 1_000, bridges.to_remote(holder), sender=holder)
    assert bridges.home.locked(held) == 0 and bridges.home_gateway.outboundNonce() == 0


def test_send__escrowed_credits__not_the_holders_to_send(bridges, held, holder):
    """Credits already in escrow (here, the bridge's; a pledge facility's likewise) are not in the holder's
    balance, so the token refuses to send them again."""
    bridges.lock(holder, held, 100_000)
    assert bridges.credit.balanceOf(holder, held) == 0
    with reverts(bridges.credit.ERC1155InsufficientBalance, sender=holder, balance=0, needed=1, tokenId=held):
        bridges.home.send(held, 1, bridges.to_remote(holder), sender=holder)


def test_send__without_approval__reverts(bridges, held, holder):
    with reverts(bridges.credit.ERC1155MissingApprovalForAll, operator=bridges.home, owner=holder):
        bridges.home.send(held, 1, bridges.to_remote(holder), sender=holder)


def test_direct_deposit__refused(bridges, held, holder):
    with reverts(bridges.home.HomeBridgeUnsolicitedDeposit, operator=holder, **{"from": holder}):
        bridges.credit.safeTransferFrom(holder, bridges.home, held, 1, b"", sender=holder)
    with reverts(bridges.home.HomeBridgeUnsolicitedDeposit, operator=holder, **{"from": holder}):
        bridges.credit.safeBatchTransferFrom(holder, bridges.home, [held], [1], b"", sender=holder)


# ------------------------------------------------------------------ pause


def test_pause__each_direction_on_its_own(bridges, held, holder, stranger, regulator):
    home, remote = bridges.home, bridges.remote
    receipt = home.pause(OUT, sender=regulator)
    assert events(receipt, home, "DirectionPaused") == plain([{"direction": OUT, "account": regulator}])
    bridges.credit.setApprovalForAll(home, True, sender=holder)
    with reverts(home.BridgeDirectionPaused, direction=OUT):
        home.send(held, 1_000, bridges.to_remote(holder), sender=holder)
    home.unpause(OUT, sender=regulator)
    _, lock = bridges.lock(holder, held, 1_000)

    remote.pause(IN, sender=regulator)
    with reverts(remote.BridgeDirectionPaused, direction=IN):
        bridges.deliver(lock, stranger)
    remote.unpause(IN, sender=regulator)
    bridges.deliver(lock, stranger)

    remote.pause(OUT, sender=regulator)
    with reverts(remote.BridgeDirectionPaused, direction=OUT):
        remote.send(held, 1_000, bridges.to_home(holder), sender=holder)
    remote.unpause(OUT, sender=regulator)
    _, burn = bridges.burn(holder, held, 1_000)

    home.pause(IN, sender=regulator)  # outbound still works while inbound is paused
    _, lock2 = bridges.lock(holder, held, 10)
    with reverts(home.BridgeDirectionPaused, direction=IN):
        bridges.deliver(burn, stranger)
    home.unpause(IN, sender=regulator)
    bridges.deliver(burn, stranger)
    with reverts(home.BridgePauseUnchanged, direction=IN, paused=False):
        home.unpause(IN, sender=regulator)
    assert home.locked(held) == 10


def test_send_home__recipient_is_home_bridge_or_zero__reverts(bridges, held, holder, stranger):
    _, lock = bridges.lock(holder, held, 1_000)
    bridges.deliver(lock, stranger)
    remote, home = bridges.remote, bridges.home
    with reverts(remote.BridgeRecipientIsBridge, recipient=home):
        remote.send(held, 1_000, bridges.to_home(home), sender=holder)
    zero = interop_address(HOME_CHAIN, "0x" + "00" * 20)
    with reverts(remote.BridgeInvalidRecipient, to=zero):
        remote.send(held, 1_000, zero, sender=holder)
    assert bridges.mirror.balanceOf(holder, held) == 1_000 and home.locked(held) == 1_000


def test_send__recipient_is_remote_bridge__reverts(bridges, held, holder):
    bridges.credit.setApprovalForAll(bridges.home, True, sender=holder)
    with reverts(bridges.home.BridgeRecipientIsBridge, recipient=bridges.remote):
        bridges.home.send(held, 1_000, bridges.to_remote(bridges.remote), sender=holder)
    assert bridges.home.locked(held) == 0


# ------------------------------------------------------------------ rate limits


def test_rate_limit__outbound__per_id_per_window(chain, bridges, admin, held, holder, make):
    home = bridges.home
    receipt = home.setIdLimit(OUT, held, 5_000, True, sender=admin)
    assert events(receipt, home, "IdLimitSet") == [{"direction": OUT, "id": held, "limit": 5_000, "custom": True}]
    bridges.lock(holder, held, 3_000)
    assert home.availableOf(OUT, held) == 2_000
    window_end = (chain.pending_timestamp // WINDOW + 1) * WINDOW
    with reverts(
        home.BridgeRateLimited, direction=OUT, id=held, requested=2_001, available=2_000, windowEnds=window_end
    ):
        home.send(held, 2_001, bridges.to_remote(holder), sender=holder)
    first, last = fresh_range()
    other = make.issued(holder, tonnes=10, first=first, last=last)  # another id has its own window budget (the default)
    bridges.lock(holder, other, 10_000)
    chain.pending_timestamp = window_end
    bridges.lock(holder, held, 5_000)  # a new window
    assert home.availableOf(OUT, held) == 0


def test_rate_limit__across_a_window_boundary__at_most_twice_the_limit(chain, bridges, admin, held, holder):
    """Fixed windows (documented): two seconds astride a boundary pass 2x the limit, and not one unit more."""
    home = bridges.home
    home.setIdLimit(OUT, held, 5_000, True, sender=admin)
    boundary = (chain.pending_timestamp // WINDOW + 2) * WINDOW
    chain.pending_timestamp = boundary - 1  # last second of a window
    bridges.lock(holder, held, 5_000)
    chain.pending_timestamp = boundary  # first second of the next
    bridges.lock(holder, held, 5_000)
    assert home.locked(held) == 10_000  # 2x the limit inside one window's length
    chain.pending_timestamp = boundary + WINDOW - 1  # still within a window's length of the first send
    with reverts(
        home.BridgeRateLimited, direction=OUT, id=held, requested=1, available=0, windowEnds=boundary + WINDOW
    ):
        home.send(held, 1, bridges.to_remote(holder), sender=holder)
    chain.pending_timestamp = boundary + WINDOW
    bridges.lock(holder, held, 1)


def test_rate_limit__inbound__delivery_waits_for_next_window(chain, bridges, admin, held, holder, stranger):
    remote = bridges.remote
    remote.setIdLimit(IN, held, 1_500, True, sender=admin)
    _, first = bridges.lock(holder, held, 1_000)
    _, second = bridges.lock(holder, held, 1_000)
    bridges.deliver(first, stranger)
    window_end = (chain.pending_timestamp // WINDOW + 1) * WINDOW
    with reverts(
        remote.BridgeRateLimited, direction=IN, id=held, requested=1_000, available=500, windowEnds=window_end
    ):
        bridges.deliver(second, stranger)
    assert not bridges.remote_gateway.isProcessed(second.id)
    chain.pending_timestamp = window_end
    bridges.deliver(second, stranger)
    assert bridges.mirror.totalSupply(held) == 2_000


def test_rate_limit__inbound_home__caps_releases(chain, bridges, admin, held, holder, stranger):
    _, lock = bridges.lock(holder, held, 10_000)
    bridges.deliver(lock, stranger)
    bridges.home.setDefaultLimit(IN, 4_000, sender=admin)
    _, burn = bridges.burn(holder, held, 5_000)
    window_end = (chain.pending_timestamp // WINDOW + 1) * WINDOW
    with reverts(
        bridges.home.BridgeRateLimited, direction=IN, id=held, requested=5_000, available=4_000, windowEnds=window_end
    ):
        bridges.deliver(burn, stranger)
    bridges.home.setIdLimit(IN, held, 0, False, sender=admin)  # back to the default: still 4,000
    assert bridges.home.limitOf(IN, held) == 4_000


# ------------------------------------------------------------------ remote retirement


def test_remote_retire__burns_and_records_origin(bridges, held, holder, stranger):
    _, lock = bridges.lock(holder, held, 3_000)
    bridges.deliver(lock, stranger)
    mirror = bridges.mirror
    receipt = mirror.retire(held, 1_000, "Acme GmbH", "FY2025 scope 1", sender=holder)
    assert events(receipt, mirror, "RemoteRetired") == plain(
        [
            dict(
                retirementId=1,
                account=holder,
                id=held,
                amount=1_000,
                originChainId=HOME_CHAIN,
                originToken=bridges.credit,
                beneficiaryName="Acme GmbH",
                reason="FY2025 scope 1",
            )
        ]
    )
    assert mirror.totalRetired(held) == 1_000 and mirror.totalSupply(held) == 2_000
    # Cross-chain books: locked at home = remote supply + retired remotely.
    assert bridges.home.locked(held) == mirror.totalSupply(held) + mirror.totalRetired(held)
    with reverts(mirror.MirrorZeroAmount, id=held):
        mirror.retire(held, 0, "x", "y", sender=holder)
    with reverts(mirror.ERC1155InsufficientBalance, sender=holder, balance=2_000, needed=2_001, tokenId=held):
        mirror.retire(held, 2_001, "x", "y", sender=holder)


# ------------------------------------------------------------------ access


def test_privileged__stranger__refused(bridges, stranger):
    for bridge in (bridges.home, bridges.remote):
        admin_role, pauser_role = bridge.DEFAULT_ADMIN_ROLE(), bridge.PAUSER_ROLE()
        calls = [
            (bridge.link, (bridges.home_gateway, interop_address(1, str(stranger.address))), admin_role),
            (bridge.setDefaultLimit, (OUT, 1), admin_role),
            (bridge.setIdLimit, (IN, 1, 1, True), admin_role),
            (bridge.pause, (OUT,), pauser_role),
            (bridge.unpause, (IN,), pauser_role),
        ]
        for call, args, role in calls:
            with reverts(bridge.AccessControlUnauthorizedAccount, account=stranger, neededRole=role):
                call(*args, sender=stranger)
    mirror = bridges.mirror
    with reverts(mirror.AccessControlUnauthorizedAccount, account=stranger, neededRole=mirror.DEFAULT_ADMIN_ROLE()):
        mirror.bindBridge(stranger, sender=stranger)


def test_mirror_bind__once(bridges, admin, stranger):
    with reverts(bridges.mirror.MirrorBridgeAlreadyBound, current=bridges.remote):
        bridges.mirror.bindBridge(stranger, sender=admin)


# ------------------------------------------------------------------ permissioned mode


def test_permissioned__bridge_must_be_allowlisted(
    project, permissioned_suite, permissioned_factory, admin, compliance, regulator, holder, stranger
):
    bridges = deploy_bridges(project, permissioned_suite, admin, regulator)
    credit = permissioned_suite.credit
    credit.setAllowed([holder], True, sender=compliance)
    token_id = permissioned_factory.issued(holder, tonnes=1)
    credit.setApprovalForAll(bridges.home, True, sender=holder)
    with reverts(credit.CreditAccountNotAllowed, account=bridges.home):
        bridges.home.send(token_id, 500, bridges.to_remote(holder), sender=holder)
    credit.setAllowed([bridges.home], True, sender=compliance)
    _, lock = bridges.lock(holder, token_id, 500)
    bridges.deliver(lock, stranger)
    _, burn = bridges.burn(holder, token_id, 500, to=stranger)
    # Releasing to an account outside the allowlist is refused by the token: the burn is returned to its burner.
    receipt = bridges.deliver(burn, stranger)
    (returned,) = events(receipt, bridges.home, "TransferReturned")
    assert returned["reason"][:4] == keccak(text="CreditAccountNotAllowed(address)")[:4]
    assert bridges.home.locked(token_id) == 500 and credit.balanceOf(stranger, token_id) == 0
    bridges.deliver(bridges.outbound(receipt, bridges.home_gateway), stranger)
    assert bridges.mirror.balanceOf(holder, token_id) == 500 == bridges.home.locked(token_id)
    credit.setAllowed([stranger], True, sender=compliance)
    _, burn = bridges.burn(holder, token_id, 500, to=stranger)
    bridges.deliver(burn, stranger)
    assert credit.balanceOf(stranger, token_id) == 500
