"""Re-entrancy through the ERC-1155 receiver hook (ReentrantReceiver) into the facility and the bilateral
pledge: during a withdrawal, a liquidation's seizure, a claim and a reclaim. Every value-moving function is
nonReentrant and updates its books before the credits leave, so the nested call is refused and the books stay
whole. A pledge (openPosition, pledge, createPledge) runs no hook of the pledgor at all: the credits go to the
contract, whose own hook only checks that it pulled them."""

from __future__ import annotations

import pytest

from pledge_support import DAY, UNITS, USD
from support import ZERO_REF, decode_error

pytestmark = pytest.mark.usefixtures("world", "other_holder")

GUARD = ("ReentrancyGuardReentrantCall", {})


@pytest.fixture
def attacker(project, world, admin, credit, issuer):
    """A ReentrantReceiver holding 100 t of A, which approved the facility and the bilateral pledge."""
    receiver = project.ReentrantReceiver.deploy(sender=admin)
    credit.issue(world.id_a, receiver, 100 * UNITS, ZERO_REF, sender=issuer)
    for operator in (world.facility, world.bilateral):
        receiver.execute(credit, credit.setApprovalForAll.encode_input(operator, True), sender=admin)
    world.usd.mint(receiver, 10_000 * USD, sender=admin)
    receiver.execute(world.usd, world.usd.approve.encode_input(world.facility, 2**256 - 1), sender=admin)
    return receiver


def books_whole(world, position_ids) -> bool:
    held = sum(
        amount
        for pid in position_ids
        for token_id, amount in zip(*(lambda v: (v.ids, v.amounts))(world.facility.position(pid)), strict=True)
        if token_id == world.id_a
    )
    return world.credit.balanceOf(world.facility, world.id_a) == held


def attacker_position(world, attacker, admin) -> int:
    f = world.facility
    attacker.execute(f, f.openPosition.encode_input(world.now() + 30 * DAY, [world.id_a], [100 * UNITS]), sender=admin)
    attacker.execute(f, f.borrow.encode_input(1, 100 * USD), sender=admin)
    return 1


@pytest.mark.parametrize("inner", ["withdraw", "borrow", "pledge", "repay", "openPosition"])
def test_withdraw_hook__reenters_facility__refused_books_whole(world, attacker, admin, inner):
    f = world.facility
    position_id = attacker_position(world, attacker, admin)
    # Each nested call is valid outside the hook (the control below): the 10 t just withdrawn can be pledged
    # back or opened with, the debt can be repaid, another 100 tUSD borrowed.
    nested = {
        "withdraw": lambda: f.withdraw.encode_input(position_id, world.id_a, 10 * UNITS),
        "borrow": lambda: f.borrow.encode_input(position_id, 100 * USD),
        "pledge": lambda: f.pledge.encode_input(position_id, [world.id_a], [10 * UNITS]),
        "repay": lambda: f.repay.encode_input(position_id, USD),
        "openPosition": lambda: f.openPosition.encode_input(world.now() + 30 * DAY, [world.id_a], [10 * UNITS]),
    }[inner]()
    attacker.arm(f, nested, sender=admin)

    attacker.execute(f, f.withdraw.encode_input(position_id, world.id_a, 10 * UNITS), sender=admin)

    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    assert decode_error(f, attacker.lastRevertData()) == GUARD
    assert world.credit.balanceOf(attacker, world.id_a) == 10 * UNITS
    assert list(f.position(position_id).amounts) == [90 * UNITS]
    assert world.usd.balanceOf(attacker) == 10_100 * USD  # one borrow only
    assert books_whole(world, [position_id])

    # Control: the same call outside the hook is valid, so only the guard refused it.
    attacker.execute(f, nested, sender=admin)


@pytest.mark.parametrize("inner", ["liquidate", "repay", "openPosition"])
def test_liquidation_hook__reenters_facility__refused_books_whole(world, attacker, admin, inner):
    f = world.facility
    position_id = world.open(maturity_in=DAY)  # the borrower's: 100 t of A, due in a day
    f.borrow(position_id, 900 * USD, sender=world.borrower)
    maturity = f.position(position_id).maturity
    world.chain.pending_timestamp = maturity
    world.oracle.postPrices([world.id_a], [16 * USD], [maturity], sender=world.feeder)  # matured, fresh price
    call = f.liquidate.encode_input(position_id, world.id_a, 100 * USD)
    # Each nested call is valid outside the hook (the control below): matured, the whole debt may be repaid,
    # so a second liquidation (or a repayment) is allowed; the attacker holds the credits it would open with.
    nested = {
        "liquidate": call,
        "repay": f.repay.encode_input(position_id, USD),
        "openPosition": f.openPosition.encode_input(world.now() + 30 * DAY, [world.id_a], [10 * UNITS]),
    }[inner]
    attacker.arm(f, nested, sender=admin)
    cash_before = f.cash()

    attacker.execute(f, call, sender=admin)

    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    assert decode_error(f, attacker.lastRevertData()) == GUARD
    seized = 100 * USD * 10_500 * UNITS // (10_000 * 16 * USD)
    assert world.credit.balanceOf(attacker, world.id_a) == 100 * UNITS + seized
    assert list(f.position(position_id).amounts) == [100 * UNITS - seized]
    assert f.positionCount() == 1
    assert f.cash() == cash_before + 100 * USD  # one repayment only
    assert books_whole(world, [position_id])
    attacker.execute(f, nested, sender=admin)
    if inner == "liquidate":
        assert list(f.position(position_id).amounts) == [100 * UNITS - 2 * seized]


@pytest.mark.parametrize("how", ["openPosition", "pledge"])
def test_pledge__armed_pledgor__no_hook_of_the_pledgor_runs(world, attacker, admin, how):
    """The credits of a pledge go to the facility: no hook of the pledgor (the attacker) runs, so it has no
    point to re-enter from; the facility's own hook accepts only what it pulls (test_facility.py)."""
    f = world.facility
    maturity = world.now() + 30 * DAY
    if how == "pledge":
        attacker.execute(f, f.openPosition.encode_input(maturity, [world.id_a], [50 * UNITS]), sender=admin)
    attacker.arm(f, f.borrow.encode_input(1, 100 * USD), sender=admin)

    if how == "pledge":
        attacker.execute(f, f.pledge.encode_input(1, [world.id_a], [50 * UNITS]), sender=admin)
    else:
        attacker.execute(f, f.openPosition.encode_input(maturity, [world.id_a], [100 * UNITS]), sender=admin)

    assert attacker.attempts() == 0 and attacker.armed() is True
    assert list(f.position(1).amounts) == [100 * UNITS]
    assert world.credit.balanceOf(attacker, world.id_a) == 0
    assert books_whole(world, [1])


@pytest.mark.parametrize("exit_by", ["reclaim", "claim"])
def test_bilateral_hook__reenters_reclaim__refused(world, attacker, admin, other_holder, exit_by):
    b, credit = world.bilateral, world.credit
    maturity = world.now() + DAY
    attacker.execute(
        b,
        b.createPledge.encode_input(other_holder, [world.id_a], [100 * UNITS], maturity, maturity + DAY),
        sender=admin,
    )
    attacker.arm(b, b.reclaim.encode_input(1), sender=admin)
    if exit_by == "reclaim":
        b.release(1, sender=other_holder)
        attacker.execute(b, b.reclaim.encode_input(1), sender=admin)
    else:
        world.chain.pending_timestamp = maturity
        b.declareDefault(1, sender=other_holder)
        b.claim(1, attacker, sender=other_holder)  # the bank claims to the attacker, the pledgor

    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    assert decode_error(b, attacker.lastRevertData()) == GUARD
    assert credit.balanceOf(attacker, world.id_a) == 100 * UNITS
    assert credit.balanceOf(b, world.id_a) == 0
