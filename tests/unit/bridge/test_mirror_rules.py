"""The home chain's rules on the mirror (audit finding 5): pause, permissioned mode, allowlist, freezes and
Suspended projects reach the remote chain through attested messages, and the mirror enforces them.

The home bridge is the authority: `syncRules` reads the home token and sends what it reads; a lock carries the
token's rules and its recipient's. The mirror applies each key only if its home sequence is newer.
"""

from __future__ import annotations

import pytest

from bridge_support import HOME_CHAIN, IN, Bridges, deploy_bridges
from support import decode_error, events, reverts
from tonne.bridge.messages import (
    ACCOUNT_ALLOWED,
    ACCOUNT_FROZEN,
    PROJECT_RESTRICTED,
    RULES,
    TOKEN_KEY,
    TOKEN_PAUSED,
    TOKEN_PERMISSIONED,
    Message,
    Rules,
    account_key,
    kind_of,
    project_key,
)

APPROVED, SUSPENDED = 2, 3


def sync(b: Bridges, caller, token=False, accounts=(), projects=()):
    receipt = b.home.syncRules(token, list(accounts), list(projects), sender=caller)
    return b.outbound(receipt, b.home_gateway)


def transfer(b: Bridges, holder, to, token_id, amount=1):
    return b.mirror.safeTransferFrom(holder, to, token_id, amount, b"", sender=holder)


@pytest.fixture
def out(bridges, held, holder, stranger) -> int:
    """`held` with 10 t of it on the mirror, in `holder`'s hands (open deployment)."""
    _, lock = bridges.lock(holder, held, 10_000)
    bridges.deliver(lock, stranger)
    return held


@pytest.fixture(scope="module")
def pb(project, permissioned_suite, admin, compliance, regulator) -> Bridges:
    """A bridge of the permissioned deployment, the home bridge allowlisted."""
    b = deploy_bridges(project, permissioned_suite, admin, regulator)
    permissioned_suite.credit.setAllowed([b.home], True, sender=compliance)
    return b


@pytest.fixture
def pout(pb, permissioned_factory, compliance, holder, stranger) -> int:
    """An id of the permissioned deployment with 1 t on the mirror in `holder`'s hands."""
    pb.credit.setAllowed([holder], True, sender=compliance)
    token_id = permissioned_factory.issued(holder, tonnes=2)
    _, lock = pb.lock(holder, token_id, 1_000)
    pb.deliver(lock, stranger)
    return token_id


# ------------------------------------------------------------------ the audit's sequences


def test_mirror__suspended_project_after_sync__cannot_move_retire_or_go_home(
    bridges, registry, registrar, out, holder, other_holder, stranger
):
    project_id = out >> 64
    registry.setProjectStatus(project_id, SUSPENDED, "under review", sender=registrar)
    bridges.deliver(sync(bridges, stranger, projects=[project_id]), stranger)
    assert bridges.mirror.isProjectRestricted(project_id)
    with reverts(bridges.mirror.MirrorProjectRestricted, id=out, projectId=project_id):
        transfer(bridges, holder, other_holder, out)
    with reverts(bridges.mirror.MirrorProjectRestricted, id=out, projectId=project_id):
        bridges.mirror.retire(out, 1_000, "Acme", "offset", sender=holder)
    with reverts(bridges.mirror.MirrorProjectRestricted, id=out, projectId=project_id):
        bridges.burn(holder, out, 1_000)
    # Approved again at home: the next sync lets them move.
    registry.setProjectStatus(project_id, APPROVED, "cleared", sender=registrar)
    bridges.deliver(sync(bridges, stranger, projects=[project_id]), stranger)
    transfer(bridges, holder, other_holder, out)
    bridges.mirror.retire(out, 1_000, "Acme", "offset", sender=holder)
    assert bridges.mirror.balanceOf(other_holder, out) == 1


def test_send__permissioned_recipient_not_allowlisted__refused(pb, pout, holder, stranger):
    with reverts(pb.home.HomeBridgeRecipientNotAllowed, recipient=stranger):
        pb.home.send(pout, 1, pb.to_remote(stranger), sender=holder)


def test_send__recipient_frozen_at_home__refused(bridges, held, holder, stranger, regulator):
    bridges.credit.setFrozen(stranger, True, "sanctions", sender=regulator)
    bridges.credit.setApprovalForAll(bridges.home, True, sender=holder)
    with reverts(bridges.home.HomeBridgeRecipientFrozen, recipient=stranger):
        bridges.home.send(held, 1, bridges.to_remote(stranger), sender=holder)


def test_mirror__permissioned_transfer_to_unchecked_account__refused_until_synced(
    pb, pout, compliance, holder, stranger
):
    mirror = pb.mirror
    # The first lock already carried permissioned mode and the recipient's allowance: no sync was needed.
    assert mirror.permissioned() and mirror.isAllowed(holder) and not mirror.isAllowed(stranger)
    with reverts(mirror.MirrorAccountNotAllowed, account=stranger):
        transfer(pb, holder, stranger, pout)
    # Nor can an allowed operator move them for the holder to itself, nor a stranger operate.
    mirror.setApprovalForAll(stranger, True, sender=holder)
    with reverts(mirror.MirrorAccountNotAllowed, account=stranger):
        mirror.safeTransferFrom(holder, holder, pout, 1, b"", sender=stranger)
    pb.credit.setAllowed([stranger], True, sender=compliance)
    pb.deliver(sync(pb, stranger, accounts=[stranger]), stranger)
    transfer(pb, holder, stranger, pout)
    assert mirror.balanceOf(stranger, pout) == 1


def test_mirror__freeze_after_sync__holder_cannot_move_retire_or_go_home(
    bridges, out, holder, other_holder, stranger, regulator
):
    bridges.credit.setFrozen(holder, True, "court order", sender=regulator)
    bridges.deliver(sync(bridges, stranger, accounts=[holder]), stranger)
    mirror = bridges.mirror
    for attempt in (
        lambda: transfer(bridges, holder, other_holder, out),
        lambda: mirror.retire(out, 1, "Acme", "offset", sender=holder),
        # Burning home to another account would be a way out of the freeze.
        lambda: bridges.burn(holder, out, 1, to=other_holder),
    ):
        with reverts(mirror.MirrorAccountFrozen, account=holder):
            attempt()
    bridges.credit.setFrozen(holder, False, "lifted", sender=regulator)
    bridges.deliver(sync(bridges, stranger, accounts=[holder]), stranger)
    transfer(bridges, holder, other_holder, out)


def test_mirror__pause_after_sync__nothing_moves(bridges, out, holder, other_holder, stranger, regulator):
    bridges.credit.pause(sender=regulator)
    bridges.deliver(sync(bridges, stranger, token=True), stranger)
    assert bridges.mirror.paused()
    with reverts(bridges.mirror.MirrorPaused):
        transfer(bridges, holder, other_holder, out)
    with reverts(bridges.mirror.MirrorPaused):
        bridges.mirror.retire(out, 1, "Acme", "offset", sender=holder)
    bridges.credit.unpause(sender=regulator)
    bridges.deliver(sync(bridges, stranger, token=True), stranger)
    transfer(bridges, holder, other_holder, out)


def test_rules__pass_the_inbound_pause__mints_wait(bridges, held, holder, stranger, regulator):
    bridges.remote.pause(IN, sender=regulator)
    bridges.credit.setFrozen(holder, True, "court order", sender=regulator)
    bridges.deliver(sync(bridges, stranger, accounts=[holder]), stranger)
    assert bridges.mirror.isFrozen(holder)


# ------------------------------------------------------------------ ordering, replay, spam


def test_rules__delivered_out_of_order__older_never_undoes_newer(bridges, out, holder, stranger, regulator):
    bridges.credit.setFrozen(holder, True, "court order", sender=regulator)
    freeze = sync(bridges, stranger, accounts=[holder])
    bridges.credit.setFrozen(holder, False, "lifted", sender=regulator)
    lift = sync(bridges, stranger, accounts=[holder])
    bridges.deliver(lift, stranger)
    receipt = bridges.deliver(freeze, stranger)
    assert not bridges.mirror.isFrozen(holder)
    key = account_key(str(holder.address))
    (ignored,) = events(receipt, bridges.mirror, "RuleIgnored")
    assert ignored["key"] == key and ignored["seq"] == Rules.decode(freeze.payload).seq
    assert bridges.mirror.rulesOf(key).seq == Rules.decode(lift.payload).seq


def test_lock_rules__delivered_after_newer_sync__do_not_undo_it(pb, pout, compliance, holder, stranger):
    pb.credit.setAllowed([stranger], True, sender=compliance)
    _, lock = pb.lock(holder, pout, 100, to=stranger)  # carries "stranger allowed"
    pb.credit.setAllowed([stranger], False, sender=compliance)
    pb.deliver(sync(pb, stranger, accounts=[stranger]), stranger)
    pb.deliver(lock, stranger)
    # The credits arrived (the lock was checked at home), but stranger is not allowed: they stay put.
    assert pb.mirror.balanceOf(stranger, pout) == 100 and not pb.mirror.isAllowed(stranger)
    with reverts(pb.mirror.MirrorAccountNotAllowed, account=stranger):
        transfer(pb, stranger, holder, pout)


def test_sync__state_a_lock_already_carried__refused_and_change_after_it__accepted(
    pb, pout, compliance, holder, stranger
):
    pb.credit.setAllowed([stranger], True, sender=compliance)
    pb.lock(holder, pout, 100, to=stranger)
    key = account_key(str(stranger.address))
    with reverts(pb.home.HomeBridgeRuleUnchanged, key=key, flags=ACCOUNT_ALLOWED):
        pb.home.syncRules(False, [stranger], [], sender=stranger)
    pb.credit.setAllowed([stranger], False, sender=compliance)
    assert not pb.home.inSync(key)
    sync(pb, stranger, accounts=[stranger])
    assert pb.home.inSync(key) and pb.home.sentRulesOf(key) == (True, 0)


def test_sync__stranger_repeats_or_spams__refused_gains_nothing(bridges, holder, stranger, regulator):
    home = bridges.home
    bridges.credit.setFrozen(holder, True, "court order", sender=regulator)
    first = sync(bridges, stranger, accounts=[holder])
    key = account_key(str(holder.address))
    nonce = bridges.home_gateway.outboundNonce()
    with reverts(home.HomeBridgeRuleUnchanged, key=key, flags=ACCOUNT_FROZEN):
        home.syncRules(False, [holder], [], sender=stranger)
    with reverts(home.HomeBridgeRuleUnchanged, key=key, flags=ACCOUNT_FROZEN):
        home.syncRules(False, [stranger, holder], [], sender=stranger)  # the whole call, not a part
    other = account_key(str(stranger.address))
    with reverts(home.HomeBridgeRuleUnchanged, key=other, flags=home.rulesOf(other)):
        home.syncRules(False, [stranger, stranger], [], sender=stranger)  # a key twice
    with reverts(home.HomeBridgeNoRules):
        home.syncRules(False, [], [], sender=stranger)
    with reverts(home.HomeBridgeTooManyRules, count=65, max=64):
        home.syncRules(True, [holder] * 64, [], sender=stranger)
    assert bridges.home_gateway.outboundNonce() == nonce
    # What a stranger's sync carries is exactly the home state.
    assert Rules.decode(first.payload).keys == (key,) and Rules.decode(first.payload).flags == (ACCOUNT_FROZEN,)
    assert kind_of(first.payload) == RULES


def test_rules__replayed__refused(bridges, holder, stranger, regulator):
    bridges.credit.setFrozen(holder, True, "court order", sender=regulator)
    message = sync(bridges, stranger, accounts=[holder])
    bridges.deliver(message, stranger)
    with reverts(bridges.remote_gateway.GatewayMessageAlreadyProcessed, messageId=message.id):
        bridges.deliver(message, stranger)


def test_rules__sent_to_home__refused(bridges, stranger):
    payload = Rules(99, (TOKEN_KEY,), (TOKEN_PAUSED,)).encode()
    forged = Message(4242, bridges.remote_gateway.address, bridges.remote.address, bridges.home.address, 9, payload)
    with reverts(bridges.home.BridgeUnexpectedMessage, kind=RULES, expected=2):
        bridges.deliver(forged, stranger)


def test_rules__key_or_flags_outside_scope__reverts(bridges, stranger):
    for key, flags in ((3 << 248, 0), (TOKEN_KEY, 4), (project_key(1) | (1 << 100), PROJECT_RESTRICTED)):
        payload = Rules(10**6, (key,), (flags,)).encode()
        forged = Message(
            HOME_CHAIN, bridges.home_gateway.address, bridges.home.address, bridges.remote.address, 10**6, payload
        )
        with reverts(bridges.mirror.MirrorInvalidRule, key=key, flags=flags):
            bridges.deliver(forged, stranger)


def test_sync__token_rules__permissioned_and_paused_flags(pb, regulator, stranger):
    pb.credit.pause(sender=regulator)
    message = sync(pb, stranger, token=True)
    assert Rules.decode(message.payload).flags == (TOKEN_PAUSED | TOKEN_PERMISSIONED,)
    pb.deliver(message, stranger)
    assert pb.mirror.paused() and pb.mirror.permissioned()


def test_mirror__apply_rules_by_anyone_but_bridge__reverts(bridges, stranger):
    with reverts(bridges.mirror.MirrorCallerNotBridge, caller=stranger):
        bridges.mirror.bridgeApplyRules(10**9, [TOKEN_KEY], [TOKEN_PAUSED], sender=stranger)


# ------------------------------------------------------------------ reentrancy through the mint hook


def test_mint_hook__moves_to_account_not_allowed__mirror_refuses(
    project, pb, pout, compliance, holder, stranger, admin
):
    """The lock's rules are applied before the mint, so from inside the hook the attacker already faces them."""
    attacker = project.ReentrantReceiver.deploy(sender=admin)
    pb.credit.setAllowed([attacker], True, sender=compliance)
    _, lock = pb.lock(holder, pout, 100, to=attacker)
    attacker.arm(pb.mirror, pb.mirror.safeTransferFrom.encode_input(attacker, stranger, pout, 100, b""), sender=admin)
    pb.deliver(lock, stranger)
    assert attacker.attempts() == 1 and not attacker.lastSucceeded()
    error = decode_error(pb.mirror, attacker.lastRevertData())
    assert error == ("MirrorAccountNotAllowed", {"account": str(stranger.address).lower()}), error
    assert pb.mirror.balanceOf(attacker, pout) == 100
    assert pb.home.locked(pout) == pb.mirror.totalSupply(pout) + pb.mirror.totalRetired(pout)


def test_mint_hook__syncs_and_redelivers__nothing_gained(project, pb, pout, compliance, holder, stranger, admin):
    """From inside the hook the attacker calls syncRules at home (same chain here): it only carries the truth, and
    a second call with the same state is refused."""
    attacker = project.ReentrantReceiver.deploy(sender=admin)
    pb.credit.setAllowed([attacker], True, sender=compliance)
    _, lock = pb.lock(holder, pout, 100, to=attacker)
    attacker.arm(pb.home, pb.home.syncRules.encode_input(False, [attacker], []), sender=admin)
    pb.deliver(lock, stranger)
    error = decode_error(pb.home, attacker.lastRevertData())
    assert error[0] == "HomeBridgeRuleUnchanged", error
