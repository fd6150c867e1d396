"""CreditFacility hardening: a borrower cannot shield an unhealthy position (stale collateral, a dust repayment
just before the keeper), dust debt can be closed, and the borrow index cannot brick the facility."""

from __future__ import annotations

import pytest

from pledge_support import (
    BONUS,
    DAY,
    MAX_AGE,
    PRICE_A,
    UNITS,
    USD,
    YEAR,
    event_args,
)
from support import reverts

pytestmark = pytest.mark.usefixtures("world", "stranger")

MAX_INDEX = 2**128 - 1
DROPS = [16 * USD, 12_800_000]  # -20 % twice: 900 tUSD against 100 t of A becomes unhealthy


def seized_for(repay: int, price: int) -> int:
    return repay * (10_000 + BONUS) * UNITS // (10_000 * price)


def test_liquidate__stale_dust_class_in_position__still_liquidated(world):
    f = world.facility
    # The borrower adds 1 unit of B while its price is fresh, then lets it go stale.
    position_id = world.open([world.id_a, world.id_b], [100 * UNITS, 1])
    f.borrow(position_id, 900 * USD, sender=world.borrower)
    world.warp(MAX_AGE + 1)
    # Adding more of the stale class is refused.
    updated = world.oracle.priceOf(world.id_b).updatedAt
    at = world.tick()
    with reverts(f.PriceStale, classId=world.id_b, updatedAt=updated, maxAge=MAX_AGE, now=at):
        f.pledge(position_id, [world.id_b], [1], sender=world.borrower)
    for price in DROPS:
        world.post({world.id_a: price})
    h = f.health(position_id)
    assert h.stale and h.liquidatable
    receipt = f.liquidate(position_id, world.id_a, 400 * USD, sender=world.liquidator)
    assert receipt.return_value == (400 * USD, seized_for(400 * USD, DROPS[1]))
    # The stale class itself cannot be seized (no fresh price to value it).
    at = world.tick()
    with reverts(f.PriceStale, classId=world.id_b, updatedAt=updated, maxAge=MAX_AGE, now=at):
        f.liquidate(position_id, world.id_b, USD, sender=world.liquidator)


def test_liquidate__stranger_repays_dust_first__exact_offer_capped_and_succeeds(world, admin, stranger):
    f = world.facility
    f.setInterestRate(0, sender=admin)  # the debt stands still: the cap moves by the dust alone
    f.setLiquidationParams(10_000, BONUS, sender=admin)
    position_id = world.open()
    f.borrow(position_id, 900 * USD, sender=world.borrower)
    for price in DROPS:
        world.post({world.id_a: price})
    offer = f.debtOf(position_id)  # the keeper's exact ceil(debt * closeFactor)
    world.fund(stranger, USD)
    # Lands first; 2 units, since 1 unit below the index's RAY removes no scaled debt at all.
    f.repay(position_id, 2, sender=stranger)
    cap = f.debtOf(position_id)
    assert cap < offer
    before = world.usd.balanceOf(world.liquidator)
    receipt = f.liquidate(position_id, world.id_a, offer, sender=world.liquidator)
    assert tuple(receipt.return_value) == (cap, seized_for(cap, DROPS[1]))
    assert world.usd.balanceOf(world.liquidator) == before - cap
    assert f.debtOf(position_id) == 0


def test_liquidate__unhealthy_dust_debt__closed_for_one_unit(world):
    f = world.facility
    position_id = world.open([world.id_a], [1])  # 1 unit = 0.02 tUSD, borrow limit 0.01
    borrowed = PRICE_A // UNITS * 9 // 20  # 0.009 tUSD
    f.borrow(position_id, borrowed, sender=world.borrower)
    for price in DROPS:
        world.post({world.id_a: price})
    assert f.health(position_id).liquidatable
    # Half the debt buys no unit; the whole of it (below one unit's worth) closes the position.
    receipt = f.liquidate(position_id, world.id_a, 10**12, sender=world.liquidator)
    liquidated = event_args(receipt, f, "Liquidated")[0]
    assert liquidated["seized"] == 1 and liquidated["scaledDebt"] == 0
    assert liquidated["repaid"] >= borrowed
    assert f.badDebt() == 0 and f.position(position_id).scaledDebt == 0


def test_liquidate__matured_dust_debt__closed_for_one_unit(world):
    f = world.facility
    position_id = world.open(maturity_in=DAY // 2)
    f.borrow(position_id, 900 * USD, sender=world.borrower)
    f.repay(position_id, 900 * USD - 100, sender=world.borrower)
    world.chain.pending_timestamp = f.position(position_id).maturity
    receipt = f.liquidate(position_id, world.id_a, 10**12, sender=world.liquidator)
    liquidated = event_args(receipt, f, "Liquidated")[0]
    assert liquidated["seized"] == 1 and liquidated["scaledDebt"] == 0
    assert f.position(position_id).scaledDebt == 0 and f.badDebt() == 0


def test_accrue__max_rate_for_45_years__index_saturates_and_operations_work(world, admin):
    f = world.facility
    position_id = world.open(maturity_in=100 * YEAR)
    f.borrow(position_id, USD, sender=world.borrower)
    f.setInterestRate(10_000, sender=admin)
    for _ in range(45):  # one accrual a year: the index would double each time (2^128 is about RAY * 2^38)
        world.warp(YEAR)
        f.accrue(sender=admin)
    assert f.borrowIndex() == MAX_INDEX
    world.warp(YEAR)
    f.accrue(sender=admin)
    assert f.borrowIndex() == MAX_INDEX
    # Every operation still works: accrual, repaying, pledging and withdrawing, and liquidation.
    world.post({world.id_a: PRICE_A})
    world.fund(world.borrower, 10**12)
    f.repay(position_id, 10**12, sender=world.borrower)
    fresh = world.open()
    f.pledge(fresh, [world.id_a], [UNITS], sender=world.borrower)
    f.withdraw(fresh, world.id_a, 101 * UNITS, sender=world.borrower)
    h = f.health(position_id)
    assert h.liquidatable and h.debt > 10**17
    receipt = f.liquidate(position_id, world.id_a, 10**30, sender=world.liquidator)
    assert event_args(receipt, f, "Liquidated")[0]["seized"] == 100 * UNITS
    assert event_args(receipt, f, "BadDebtRecorded")
