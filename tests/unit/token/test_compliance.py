"""CarbonCredit compliance controls: pause, freeze, and the permissioned-mode allowlist (and its absence in
open mode)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from support import CREDIT_MOVES, ZERO_REF, Factory, events, move_credits, plain, reverts

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures("permissioned_suite", "compliance", "regulator", "stranger", "attacker")

TRANSFERS = ("safeTransferFrom", "safeBatchTransferFrom")


@dataclass
class Held:
    credit: object
    token_id: int


@pytest.fixture(scope="module")
def held(registry, credit, registrar, verifier, issuer, holder) -> Held:
    """Open mode: 1000 units of a verified batch held by `holder`."""
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project())
    credit.issue(token_id, holder, 1000, ZERO_REF, sender=issuer)
    return Held(credit, token_id)


@pytest.fixture(scope="module")
def allowed(permissioned_suite, registrar, verifier, issuer, compliance, holder, other_holder) -> Held:
    """Permissioned mode: `holder` and `other_holder` on the allowlist, 1000 units held by `holder`."""
    credit = permissioned_suite.credit
    make = Factory(permissioned_suite.registry, credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project())
    credit.setAllowed([holder, other_holder], True, sender=compliance)
    credit.issue(token_id, holder, 1000, ZERO_REF, sender=issuer)
    return Held(credit, token_id)


def sender_for(how: str, issuer, holder):
    return issuer if how == "issue" else holder


# ------------------------------------------------------------------ pause


def test_pause__regulator__pauses_and_emits(credit, regulator):
    receipt = credit.pause(sender=regulator)
    assert credit.paused()
    assert events(receipt, credit, "Paused") == [plain(account=regulator)]


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_paused__any_move__reverts(credit, regulator, issuer, holder, other_holder, held, how):
    credit.pause(sender=regulator)
    with reverts(credit.CreditPaused):
        move_credits(
            credit, how, sender=sender_for(how, issuer, holder), to=other_holder, token_id=held.token_id, amount=1
        )
    assert credit.balanceOf(other_holder, held.token_id) == 0
    assert credit.totalSupply(held.token_id) == 1000


def test_paused__issue_many__reverts(credit, regulator, issuer, holder, held):
    credit.pause(sender=regulator)
    with reverts(credit.CreditPaused):
        credit.issueMany([dict(id=held.token_id, to=holder, amount=1, orderRef=ZERO_REF)], sender=issuer)
    assert credit.totalIssued(held.token_id) == 1000


def test_pause__already_paused__reverts(credit, regulator):
    credit.pause(sender=regulator)
    with reverts(credit.CreditPauseUnchanged, paused=True):
        credit.pause(sender=regulator)


def test_unpause__not_paused__reverts(credit, regulator):
    with reverts(credit.CreditPauseUnchanged, paused=False):
        credit.unpause(sender=regulator)


def test_unpause__paused__resumes_moves_and_emits(credit, regulator, holder, other_holder, held):
    credit.pause(sender=regulator)
    receipt = credit.unpause(sender=regulator)

    assert not credit.paused()
    assert events(receipt, credit, "Unpaused") == [plain(account=regulator)]
    credit.safeTransferFrom(holder, other_holder, held.token_id, 10, b"", sender=holder)
    assert credit.balanceOf(other_holder, held.token_id) == 10


# ------------------------------------------------------------------ freeze


def test_set_frozen__regulator__freezes_and_emits(credit, regulator, holder):
    receipt = credit.setFrozen(holder, True, "court order 12/2025", sender=regulator)
    assert credit.isFrozen(holder)
    assert events(receipt, credit, "AccountFreezeSet") == [
        plain(account=holder, frozen=True, reason="court order 12/2025", by=regulator)
    ]


@pytest.mark.parametrize("how", TRANSFERS)
def test_frozen_sender__transfer__reverts(credit, regulator, holder, other_holder, held, how):
    credit.setFrozen(holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        move_credits(credit, how, sender=holder, to=other_holder, token_id=held.token_id, amount=1)
    assert credit.balanceOf(holder, held.token_id) == 1000


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_frozen_recipient__any_move__reverts(credit, regulator, issuer, holder, other_holder, held, how):
    credit.setFrozen(other_holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=other_holder):
        move_credits(
            credit, how, sender=sender_for(how, issuer, holder), to=other_holder, token_id=held.token_id, amount=1
        )
    assert credit.balanceOf(other_holder, held.token_id) == 0


def test_frozen_owner__approved_operator_moves_its_credits__reverts(
    credit, regulator, holder, other_holder, stranger, held
):
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setFrozen(holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        credit.safeTransferFrom(holder, other_holder, held.token_id, 1, b"", sender=stranger)


@pytest.mark.parametrize("frozen", [True, False])
def test_set_frozen__flag_unchanged__reverts(credit, regulator, holder, frozen):
    if frozen:
        credit.setFrozen(holder, True, "first", sender=regulator)
    with reverts(credit.CreditFreezeUnchanged, account=holder, frozen=frozen):
        credit.setFrozen(holder, frozen, "again", sender=regulator)


def test_unfreeze__one_of_two_frozen__other_stays_frozen(credit, regulator, holder, other_holder, stranger, held):
    credit.setFrozen(holder, True, "a", sender=regulator)
    credit.setFrozen(other_holder, True, "b", sender=regulator)

    receipt = credit.setFrozen(holder, False, "cleared", sender=regulator)

    assert events(receipt, credit, "AccountFreezeSet") == [
        plain(account=holder, frozen=False, reason="cleared", by=regulator)
    ]
    credit.safeTransferFrom(holder, stranger, held.token_id, 10, b"", sender=holder)
    with reverts(credit.CreditAccountFrozen, account=other_holder):
        credit.safeTransferFrom(holder, other_holder, held.token_id, 10, b"", sender=holder)
    credit.setFrozen(other_holder, False, "cleared", sender=regulator)
    credit.safeTransferFrom(holder, other_holder, held.token_id, 10, b"", sender=holder)
    assert [credit.balanceOf(a, held.token_id) for a in (holder, stranger, other_holder)] == [980, 10, 10]


# ------------------------------------------------------------------ permissioned mode


def test_set_allowed__compliance__adds_removes_and_emits(permissioned_suite, compliance, stranger, attacker):
    credit = permissioned_suite.credit
    added = credit.setAllowed([stranger, attacker], True, sender=compliance)
    assert credit.isAllowed(stranger) and credit.isAllowed(attacker)
    assert events(added, credit, "AllowlistSet") == [
        plain(account=stranger, allowed=True, by=compliance),
        plain(account=attacker, allowed=True, by=compliance),
    ]

    removed = credit.setAllowed([attacker], False, sender=compliance)
    assert credit.isAllowed(stranger) and not credit.isAllowed(attacker)
    assert events(removed, credit, "AllowlistSet") == [plain(account=attacker, allowed=False, by=compliance)]


def test_set_allowed__already_in_that_state__writes_and_emits_nothing(
    permissioned_suite, compliance, stranger, attacker
):
    credit = permissioned_suite.credit
    credit.setAllowed([stranger], True, sender=compliance)
    again = credit.setAllowed([stranger, attacker], True, sender=compliance)
    assert events(again, credit, "AllowlistSet") == [plain(account=attacker, allowed=True, by=compliance)]
    never_allowed = "0x000000000000000000000000000000000000dEaD"
    unchanged = credit.setAllowed([never_allowed], False, sender=compliance)
    assert events(unchanged, credit, "AllowlistSet") == []
    assert not credit.isAllowed(never_allowed)


def test_frozen_operator__moves_someone_elses_credits__reverts(credit, regulator, holder, other_holder, stranger, held):
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setFrozen(stranger, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=stranger):
        credit.safeTransferFrom(holder, other_holder, held.token_id, 1, b"", sender=stranger)
    credit.setFrozen(stranger, False, "cleared", sender=regulator)
    credit.safeTransferFrom(holder, other_holder, held.token_id, 1, b"", sender=stranger)
    assert credit.balanceOf(other_holder, held.token_id) == 1


def test_permissioned__issue_to_not_allowed__reverts(issuer, stranger, allowed):
    credit = allowed.credit
    with reverts(credit.CreditAccountNotAllowed, account=stranger):
        credit.issue(allowed.token_id, stranger, 1, ZERO_REF, sender=issuer)
    assert credit.totalIssued(allowed.token_id) == 1000
    # The issuer itself needs no allowlist entry: the fixture's issuance succeeded without one.
    assert not credit.isAllowed(issuer)


@pytest.mark.parametrize("how", TRANSFERS)
def test_permissioned__recipient_not_allowed__reverts(holder, stranger, allowed, how):
    credit = allowed.credit
    with reverts(credit.CreditAccountNotAllowed, account=stranger):
        move_credits(credit, how, sender=holder, to=stranger, token_id=allowed.token_id, amount=1)
    assert credit.balanceOf(holder, allowed.token_id) == 1000


@pytest.mark.parametrize("how", TRANSFERS)
def test_permissioned__sender_removed_from_allowlist__blocked_until_readded(
    compliance, holder, other_holder, allowed, how
):
    credit = allowed.credit
    credit.setAllowed([holder], False, sender=compliance)
    with reverts(credit.CreditAccountNotAllowed, account=holder):
        move_credits(credit, how, sender=holder, to=other_holder, token_id=allowed.token_id, amount=1)

    credit.setAllowed([holder], True, sender=compliance)
    move_credits(credit, how, sender=holder, to=other_holder, token_id=allowed.token_id, amount=1)
    assert credit.balanceOf(other_holder, allowed.token_id) == 1


def test_permissioned__frozen_allowed_account__frozen_wins(regulator, holder, other_holder, allowed):
    credit = allowed.credit
    credit.setFrozen(holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        credit.safeTransferFrom(holder, other_holder, allowed.token_id, 1, b"", sender=holder)
    assert credit.isAllowed(holder)


# ------------------------------------------------------------------ open mode


def test_open_mode__set_allowed__reverts(credit, compliance, stranger):
    with reverts(credit.CreditAllowlistDisabled):
        credit.setAllowed([stranger], True, sender=compliance)
    assert not credit.isAllowed(stranger)


def test_open_mode__accounts_off_any_list__receive_and_send(credit, issuer, stranger, attacker, held):
    credit.issue(held.token_id, stranger, 10, ZERO_REF, sender=issuer)
    credit.safeTransferFrom(stranger, attacker, held.token_id, 4, b"", sender=stranger)

    assert [credit.balanceOf(a, held.token_id) for a in (stranger, attacker)] == [6, 4]
    assert not credit.isAllowed(stranger) and not credit.isAllowed(attacker)


def test_permissioned__operator_not_allowed__cannot_move_between_allowed_accounts(
    compliance, holder, other_holder, stranger, allowed
):
    credit = allowed.credit
    credit.setApprovalForAll(stranger, True, sender=holder)
    with reverts(credit.CreditAccountNotAllowed, account=stranger):
        credit.safeTransferFrom(holder, other_holder, allowed.token_id, 1, b"", sender=stranger)
    credit.setAllowed([stranger], True, sender=compliance)
    credit.safeTransferFrom(holder, other_holder, allowed.token_id, 1, b"", sender=stranger)
    assert credit.balanceOf(other_holder, allowed.token_id) == 1
