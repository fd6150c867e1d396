"""BilateralPledge: lock in favour of a named pledgee; release, default, claim and reclaim, at their time edges."""

from __future__ import annotations

from enum import IntEnum

import pytest

from pledge_support import DAY, HOLDING, UNITS
from support import events, plain, retirement_input, reverts

pytestmark = pytest.mark.usefixtures("world", "stranger", "retirement")


class Status(IntEnum):
    NONE = 0
    ACTIVE = 1
    RELEASED = 2
    DEFAULTED = 3
    CLAIMED = 4
    RECLAIMED = 5


GRACE = 7 * DAY


@pytest.fixture
def bank(other_holder):
    return other_holder


@pytest.fixture
def pledged(world, bank):
    """Pledge 1: 100 t of A and 50 t of B from the borrower to the bank, maturity in 30 days, 7 days' grace."""
    maturity = world.now() + 30 * DAY
    world.bilateral.createPledge(
        bank, [world.id_a, world.id_b], [100 * UNITS, 50 * UNITS], maturity, maturity + GRACE, sender=world.borrower
    )
    return 1, maturity, maturity + GRACE


def status(world, pledge_id: int) -> Status:
    return Status(world.bilateral.pledgeOf(pledge_id).status)


def test_create__credits_locked_and_logged(world, bank, credit):
    b = world.bilateral
    maturity = world.now() + 30 * DAY
    receipt = b.createPledge(bank, [world.id_a], [100 * UNITS], maturity, maturity + GRACE, sender=world.borrower)
    assert receipt.return_value == 1 == b.pledgeCount()
    assert events(receipt, b, "PledgeCreated") == [
        plain(
            pledgeId=1,
            pledgor=world.borrower,
            pledgee=bank,
            ids=[world.id_a],
            amounts=[100 * UNITS],
            maturity=maturity,
            claimDeadline=maturity + GRACE,
        )
    ]
    view = b.pledgeOf(1)
    assert (view.pledgor, view.pledgee, view.maturity, view.claimDeadline, view.status) == (
        world.borrower.address,
        bank.address,
        maturity,
        maturity + GRACE,
        Status.ACTIVE,
    )
    assert credit.balanceOf(b, world.id_a) == 100 * UNITS


def test_pledged__cannot_be_transferred_or_retired_by_the_pledgor(world, bank, credit, retirement, stranger):
    maturity = world.now() + DAY
    world.bilateral.createPledge(bank, [world.id_a], [HOLDING], maturity, maturity + 1, sender=world.borrower)
    insufficient = dict(sender=world.borrower, balance=0, needed=1, tokenId=world.id_a)
    with reverts(credit.ERC1155InsufficientBalance, **insufficient):
        credit.safeTransferFrom(world.borrower, stranger, world.id_a, 1, b"", sender=world.borrower)
    with reverts(credit.ERC1155InsufficientBalance, **insufficient):
        retirement.retire([world.id_a], [1], retirement_input(), sender=world.borrower)


@pytest.mark.parametrize(
    ("maturity_in", "deadline_after"), [(0, GRACE), (30 * DAY, 0), (30 * DAY, -1)], ids=["now", "same", "before"]
)
def test_create__bad_terms__reverts(world, bank, maturity_in, deadline_after):
    at = world.tick()
    maturity = at + maturity_in
    with reverts(
        world.bilateral.PledgeInvalidTerms, maturity=maturity, claimDeadline=maturity + deadline_after, now=at
    ):
        world.bilateral.createPledge(
            bank, [world.id_a], [UNITS], maturity, maturity + deadline_after, sender=world.borrower
        )


@pytest.mark.parametrize("who", ["zero", "self"])
def test_create__pledgee_zero_or_self__reverts(world, who):
    pledgee = "0x" + "00" * 20 if who == "zero" else world.borrower.address
    maturity = world.now() + DAY
    with reverts(world.bilateral.PledgeInvalidPledgee, pledgee=pledgee):
        world.bilateral.createPledge(pledgee, [world.id_a], [UNITS], maturity, maturity + 1, sender=world.borrower)


def test_create__lists__empty_mismatched_too_long_or_zero__reverts(world, bank):
    b, maturity = world.bilateral, world.now() + DAY
    with reverts(b.PledgeInvalidLists, ids=0, amounts=0):
        b.createPledge(bank, [], [], maturity, maturity + 1, sender=world.borrower)
    with reverts(b.PledgeInvalidLists, ids=1, amounts=2):
        b.createPledge(bank, [world.id_a], [1, 1], maturity, maturity + 1, sender=world.borrower)
    with reverts(b.PledgeTooManyIds, count=17, max=16):
        b.createPledge(bank, [world.id_a] * 17, [1] * 17, maturity, maturity + 1, sender=world.borrower)
    with reverts(b.PledgeZeroAmount, id=world.id_b):
        b.createPledge(bank, [world.id_a, world.id_b], [1, 0], maturity, maturity + 1, sender=world.borrower)


@pytest.mark.parametrize("batch", [False, True])
def test_unsolicited_transfer__refused(world, credit, batch):
    b = world.bilateral
    with reverts(b.PledgeUnsolicitedTransfer, operator=world.borrower, **{"from": world.borrower}):
        if batch:
            credit.safeBatchTransferFrom(world.borrower, b, [world.id_a], [1], b"", sender=world.borrower)
        else:
            credit.safeTransferFrom(world.borrower, b, world.id_a, 1, b"", sender=world.borrower)


def test_release__then_pledgor_reclaims_before_maturity(world, bank, pledged, credit):
    b = world.bilateral
    receipt = b.release(1, sender=bank)
    assert events(receipt, b, "PledgeReleased") == [plain(pledgeId=1, pledgee=bank)]
    assert status(world, 1) == Status.RELEASED
    receipt = b.reclaim(1, sender=world.borrower)
    assert events(receipt, b, "PledgeReclaimed") == [plain(pledgeId=1, pledgor=world.borrower)]
    assert status(world, 1) == Status.RECLAIMED
    assert credit.balanceOf(world.borrower, world.id_a) == HOLDING
    assert credit.balanceOf(b, world.id_b) == 0
    with reverts(b.PledgeWrongStatus, pledgeId=1, status=Status.RECLAIMED):
        b.release(1, sender=bank)


def test_reclaim__active_before_deadline__reverts(world, pledged):
    _, maturity, deadline = pledged
    world.chain.pending_timestamp = deadline
    with reverts(
        world.bilateral.PledgeNotReclaimable, pledgeId=1, status=Status.ACTIVE, claimDeadline=deadline, now=deadline
    ):
        world.bilateral.reclaim(1, sender=world.borrower)


def test_reclaim__active_one_second_after_deadline__allowed(world, pledged, credit):
    _, _, deadline = pledged
    world.chain.pending_timestamp = deadline + 1
    world.bilateral.reclaim(1, sender=world.borrower)
    assert credit.balanceOf(world.borrower, world.id_b) == HOLDING


def test_declare_default__one_second_before_maturity__reverts_at_maturity_allowed(world, bank, pledged):
    b = world.bilateral
    _, maturity, _ = pledged
    world.chain.pending_timestamp = maturity - 1
    with reverts(b.PledgeNotMatured, pledgeId=1, maturity=maturity, now=maturity - 1):
        b.declareDefault(1, sender=bank)
    world.chain.pending_timestamp = maturity
    receipt = b.declareDefault(1, sender=bank)
    assert events(receipt, b, "DefaultDeclared") == [plain(pledgeId=1, pledgee=bank)]
    assert status(world, 1) == Status.DEFAULTED


def test_declare_default__after_deadline__reverts(world, bank, pledged):
    _, _, deadline = pledged
    world.chain.pending_timestamp = deadline + 1
    with reverts(world.bilateral.PledgeClaimWindowClosed, pledgeId=1, claimDeadline=deadline, now=deadline + 1):
        world.bilateral.declareDefault(1, sender=bank)


def test_claim__at_deadline__credits_to_the_pledgees_choice(world, bank, pledged, credit, stranger):
    b = world.bilateral
    _, maturity, deadline = pledged
    world.chain.pending_timestamp = maturity
    b.declareDefault(1, sender=bank)
    world.chain.pending_timestamp = deadline
    receipt = b.claim(1, stranger, sender=bank)
    assert events(receipt, b, "PledgeClaimed") == [plain(pledgeId=1, pledgee=bank, to=stranger)]
    assert credit.balanceOf(stranger, world.id_a) == 100 * UNITS
    assert credit.balanceOf(stranger, world.id_b) == 50 * UNITS
    assert status(world, 1) == Status.CLAIMED
    with reverts(b.PledgeNotReclaimable, pledgeId=1, status=Status.CLAIMED, claimDeadline=deadline, now=deadline + 1):
        world.chain.pending_timestamp = deadline + 1
        b.reclaim(1, sender=world.borrower)


def test_claim__without_declared_default__reverts(world, bank, pledged):
    _, maturity, _ = pledged
    world.chain.pending_timestamp = maturity
    with reverts(world.bilateral.PledgeWrongStatus, pledgeId=1, status=Status.ACTIVE):
        world.bilateral.claim(1, bank, sender=bank)


def test_claim__one_second_after_deadline__still_allowed_and_pledgor_cannot_reclaim(world, bank, pledged, credit):
    # Behaviour changed: the deadline binds only the declaration; a declared default never expires into a reclaim.
    b = world.bilateral
    _, maturity, deadline = pledged
    world.chain.pending_timestamp = maturity
    b.declareDefault(1, sender=bank)
    world.chain.pending_timestamp = deadline + 1
    with reverts(b.PledgeNotReclaimable, pledgeId=1, status=Status.DEFAULTED, claimDeadline=deadline, now=deadline + 1):
        b.reclaim(1, sender=world.borrower)
    b.claim(1, bank, sender=bank)
    assert credit.balanceOf(bank, world.id_a) == 100 * UNITS
    assert status(world, 1) == Status.CLAIMED


@pytest.mark.parametrize("after", [0, 1, 365 * DAY], ids=["at_deadline", "deadline_plus_1", "a_year_later"])
def test_claim__blocked_by_suspension_past_deadline__pledgee_claims_after_reapproval_pledgor_cannot_reclaim(
    world, bank, pledged, credit, registry, registrar, after
):
    """The audit sequence: default, suspension blocks the claim, the deadline passes, re-approval, reclaim."""
    b = world.bilateral
    _, maturity, deadline = pledged
    world.chain.pending_timestamp = maturity
    b.declareDefault(1, sender=bank)
    registry.setProjectStatus(world.project_id, 3, "reversal under investigation", sender=registrar)
    with reverts(credit.CreditProjectRestricted, id=world.id_a, projectId=world.project_id):
        b.claim(1, bank, sender=bank)
    world.chain.pending_timestamp = deadline + after
    registry.setProjectStatus(world.project_id, 2, "investigation closed", sender=registrar)
    now = world.now() + 1
    world.chain.pending_timestamp = now
    with reverts(b.PledgeNotReclaimable, pledgeId=1, status=Status.DEFAULTED, claimDeadline=deadline, now=now):
        b.reclaim(1, sender=world.borrower)
    b.claim(1, bank, sender=bank)
    assert credit.balanceOf(bank, world.id_a) == 100 * UNITS
    assert credit.balanceOf(bank, world.id_b) == 50 * UNITS
    assert credit.balanceOf(world.borrower, world.id_a) == HOLDING - 100 * UNITS


def test_declare_default__at_deadline_allowed__then_claim_after_deadline(world, bank, pledged, credit):
    b = world.bilateral
    _, _, deadline = pledged
    world.chain.pending_timestamp = deadline
    b.declareDefault(1, sender=bank)
    world.chain.pending_timestamp = deadline + 1
    b.claim(1, bank, sender=bank)
    assert credit.balanceOf(bank, world.id_b) == 50 * UNITS


def test_reclaim__defaulted_before_deadline__reverts(world, bank, pledged):
    _, maturity, deadline = pledged
    world.chain.pending_timestamp = maturity
    world.bilateral.declareDefault(1, sender=bank)
    with reverts(
        world.bilateral.PledgeNotReclaimable,
        pledgeId=1,
        status=Status.DEFAULTED,
        claimDeadline=deadline,
        now=maturity + 1,
    ):
        world.chain.pending_timestamp = maturity + 1
        world.bilateral.reclaim(1, sender=world.borrower)


def test_release__after_default__pledgor_may_reclaim(world, bank, pledged):
    b = world.bilateral
    _, maturity, _ = pledged
    world.chain.pending_timestamp = maturity
    b.declareDefault(1, sender=bank)
    b.release(1, sender=bank)
    b.reclaim(1, sender=world.borrower)
    assert status(world, 1) == Status.RECLAIMED


def test_declare_default__twice__reverts(world, bank, pledged):
    _, maturity, _ = pledged
    world.chain.pending_timestamp = maturity
    world.bilateral.declareDefault(1, sender=bank)
    with reverts(world.bilateral.PledgeWrongStatus, pledgeId=1, status=Status.DEFAULTED):
        world.bilateral.declareDefault(1, sender=bank)


def test_unknown_pledge__reverts(world, bank):
    with reverts(world.bilateral.PledgeUnknown, pledgeId=7):
        world.bilateral.release(7, sender=bank)
    with reverts(world.bilateral.PledgeUnknown, pledgeId=7):
        world.bilateral.reclaim(7, sender=world.borrower)


def _defaulted(world, bank, pledged):
    _, maturity, _ = pledged
    world.chain.pending_timestamp = maturity
    world.bilateral.declareDefault(1, sender=bank)


@pytest.mark.parametrize("after", [0, 365 * DAY], ids=["at_once", "a_year_later"])
def test_claim__pledgee_frozen__reverts_credit_account_frozen_and_succeeds_after_unfreeze(
    world, bank, pledged, credit, regulator, stranger, after
):
    # Audit (Medium): the frozen pledgee directed the escrowed credits to an accomplice, even a year later.
    b = world.bilateral
    _defaulted(world, bank, pledged)
    credit.setFrozen(bank, True, "court order", sender=regulator)
    world.chain.pending_timestamp = world.now() + 1 + after
    with reverts(credit.CreditAccountFrozen, account=bank):
        b.claim(1, stranger, sender=bank)
    assert credit.balanceOf(stranger, world.id_a) == 0
    assert credit.balanceOf(b, world.id_a) == 100 * UNITS
    assert status(world, 1) == Status.DEFAULTED
    # Trade-off: a declared default has no deadline, so the claim comes back with the unfreeze.
    credit.setFrozen(bank, False, "order lifted", sender=regulator)
    b.claim(1, stranger, sender=bank)
    assert credit.balanceOf(stranger, world.id_a) == 100 * UNITS
    assert status(world, 1) == Status.CLAIMED


def test_claim__to_the_pledge_contract__reverts_pledge_recipient_is_escrow(world, bank, pledged, credit):
    # Audit (Low): the credits ended inside the contract, outside every pledge, with the pledge Claimed.
    b = world.bilateral
    _defaulted(world, bank, pledged)
    with reverts(b.PledgeRecipientIsEscrow, escrow=b):
        b.claim(1, b, sender=bank)
    assert status(world, 1) == Status.DEFAULTED
    b.claim(1, bank, sender=bank)
    assert credit.balanceOf(b, world.id_a) == 0 and credit.balanceOf(b, world.id_b) == 0


@pytest.mark.parametrize("to", ["escrow", "stranger"])
def test_claim__frozen_stranger__refused_as_not_pledgee(world, bank, pledged, credit, regulator, stranger, to):
    # The caller check comes first: a stranger learns nothing about the recipient or freeze checks.
    b = world.bilateral
    _defaulted(world, bank, pledged)
    credit.setFrozen(stranger, True, "court order", sender=regulator)
    with reverts(b.PledgeCallerNotPledgee, pledgeId=1, caller=stranger):
        b.claim(1, b if to == "escrow" else stranger, sender=stranger)


def test_reclaim__pledgor_frozen__token_refuses_the_pledgor_as_recipient(world, bank, pledged, credit, regulator):
    # Not a regression (reclaim is unchanged): the pledgor directs the reclaim and receives it, so the token's check
    # of the recipient already holds it to the freeze; the same holds for the facility's withdraw and liquidate.
    b = world.bilateral
    b.release(1, sender=bank)
    credit.setFrozen(world.borrower, True, "court order", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=world.borrower):
        b.reclaim(1, sender=world.borrower)
    with reverts(b.PledgeCallerNotPledgor, pledgeId=1, caller=bank):
        b.reclaim(1, sender=bank)
