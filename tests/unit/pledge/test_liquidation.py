"""CreditFacility liquidation: only unhealthy (on fresh prices) or matured positions, the close factor, the
bonus, exhausting an id, and bad debt recorded when the collateral runs out."""

from __future__ import annotations

import pytest

from pledge_support import (
    BONUS,
    DAY,
    MAX_AGE,
    PRICE_A,
    RAY,
    THRESHOLD,
    UNITS,
    USD,
    debt_of,
    event_args,
    grown_index,
    rate_per_second,
    value_of,
)
from support import events, plain, reverts

pytestmark = pytest.mark.usefixtures("world", "stranger")

BORROWED = 900 * USD  # against 100 t of A: limit 1,000 at 20 tUSD, liquidation limit 1,400
DROPS = [16 * USD, 12_800_000]  # two steps of -20 %: liquidation limit 1,120 (healthy), then 896 (unhealthy)


def seized_for(repay: int, price: int, bonus: int = BONUS) -> int:
    return repay * (10_000 + bonus) * UNITS // (10_000 * price)


def worth_of(units: int, price: int, bonus: int = BONUS) -> int:
    """What a liquidator repays for all of `units` (rounded up, as the contract does)."""
    return -(-units * price * 10_000 // (UNITS * (10_000 + bonus)))


@pytest.fixture
def loan(world):
    position_id = world.open(maturity_in=30 * DAY)
    world.facility.borrow(position_id, BORROWED, sender=world.borrower)
    return position_id


def drop(world, steps: int = 2) -> int:
    for price in DROPS[:steps]:
        world.post({world.id_a: price})
    return DROPS[steps - 1]


def test_liquidate__healthy_position__reverts_naming_debt_and_limit(world, loan):
    price = drop(world, 1)
    scaled = world.facility.position(loan).scaledDebt
    index = world.prime()
    limit = value_of(100 * UNITS, price) * THRESHOLD // 10_000
    with reverts(world.facility.FacilityPositionHealthy, positionId=loan, debt=debt_of(scaled, index), limit=limit):
        world.facility.liquidate(loan, world.id_a, USD, sender=world.liquidator)
    h = world.facility.health(loan)
    assert not h.liquidatable and h.healthFactor > 10**18


def test_liquidate__unhealthy__repays_and_receives_collateral_with_bonus(world, loan, credit):
    f = world.facility
    price = drop(world)
    h = f.health(loan)
    assert h.liquidatable and h.healthFactor < 10**18 and not h.stale
    repay = 400 * USD
    usd_before = world.usd.balanceOf(world.liquidator)
    scaled = f.position(loan).scaledDebt
    index = world.prime()
    receipt = f.liquidate(loan, world.id_a, repay, sender=world.liquidator)

    seized = seized_for(repay, price)
    left = scaled - repay * RAY // index
    assert receipt.return_value == (repay, seized)
    assert event_args(receipt, f, "Liquidated") == [
        dict(
            positionId=loan,
            liquidator=world.liquidator.address,
            id=world.id_a,
            repaid=repay,
            seized=seized,
            scaledDebt=left,
            index=index,
        )
    ]
    assert credit.balanceOf(world.liquidator, world.id_a) == seized
    assert credit.balanceOf(f, world.id_a) == 100 * UNITS - seized == f.position(loan).amounts[0]
    assert world.usd.balanceOf(world.liquidator) == usd_before - repay
    assert value_of(seized, price) <= repay * (10_000 + BONUS) // 10_000  # never more than the bonus
    assert f.badDebt() == 0


def test_liquidate__above_close_factor__capped_at_the_maximum(world, loan):
    drop(world)
    scaled = world.facility.position(loan).scaledDebt
    index = world.prime()
    max_repay = -(-debt_of(scaled, index) * 5_000 // 10_000)
    before = world.usd.balanceOf(world.liquidator)
    receipt = world.facility.liquidate(loan, world.id_a, max_repay + 1, sender=world.liquidator)
    assert receipt.return_value == (max_repay, seized_for(max_repay, DROPS[1]))
    assert world.usd.balanceOf(world.liquidator) == before - max_repay


def test_liquidate__stale_price__reverts(world, loan):
    drop(world)
    updated = world.oracle.priceOf(world.id_a).updatedAt
    world.chain.pending_timestamp = updated + MAX_AGE + 1
    with reverts(
        world.facility.PriceStale, classId=world.id_a, updatedAt=updated, maxAge=MAX_AGE, now=updated + MAX_AGE + 1
    ):
        world.facility.liquidate(loan, world.id_a, USD, sender=world.liquidator)
    assert world.facility.health(loan).stale


def test_liquidate__repay_buys_less_than_a_unit__reverts(world, loan):
    drop(world)
    with reverts(world.facility.FacilityNothingToSeize, positionId=loan, id=world.id_a, repay=1):
        world.facility.liquidate(loan, world.id_a, 1, sender=world.liquidator)


def test_liquidate__id_not_in_position__reverts(world, loan):
    drop(world)
    with reverts(world.facility.FacilityCollateralNotFound, positionId=loan, id=world.id_b):
        world.facility.liquidate(loan, world.id_b, USD, sender=world.liquidator)


def test_liquidate__no_debt__reverts(world):
    position_id = world.open()
    with reverts(world.facility.FacilityNoDebt, positionId=position_id):
        world.facility.liquidate(position_id, world.id_a, USD, sender=world.liquidator)


def test_liquidate__zero__reverts(world, loan):
    with reverts(world.facility.FacilityZeroAmount, id=0):
        world.facility.liquidate(loan, world.id_a, 0, sender=world.liquidator)


def test_liquidate__healthy_until_maturity__then_whole_debt_past_the_close_factor(world, loan):
    f = world.facility
    maturity = f.position(loan).maturity
    scaled = f.position(loan).scaledDebt
    world.chain.pending_timestamp = maturity - 3
    world.oracle.postPrices([world.id_a], [PRICE_A], [maturity - 3], sender=world.feeder)
    world.chain.pending_timestamp = maturity - 2
    index = event_args(f.accrue(sender=world.admin), f, "InterestAccrued")[0]["index"]
    rps = rate_per_second(f.interestRateBps())

    world.chain.pending_timestamp = maturity - 1
    limit = value_of(100 * UNITS, PRICE_A) * THRESHOLD // 10_000
    debt = debt_of(scaled, grown_index(index, rps, 1))
    with reverts(f.FacilityPositionHealthy, positionId=loan, debt=debt, limit=limit):
        f.liquidate(loan, world.id_a, USD, sender=world.liquidator)

    world.chain.pending_timestamp = maturity
    owed = debt_of(scaled, grown_index(index, rps, 2))
    receipt = f.liquidate(loan, world.id_a, owed, sender=world.liquidator)
    assert receipt.return_value == (owed, seized_for(owed, PRICE_A))
    view = f.position(loan)
    assert (view.scaledDebt, list(view.amounts)) == (0, [100 * UNITS - seized_for(owed, PRICE_A)])
    assert f.badDebt() == 0 and f.totalScaledDebt() == 0


@pytest.mark.parametrize("route", ["matured", "unhealthy, close factor 100 %"])
def test_liquidate__collateral_runs_out__rest_recorded_as_bad_debt(world, admin, credit, route):
    f = world.facility
    position_id = world.open([world.id_a], [10 * UNITS], maturity_in=30 * DAY)  # 200 tUSD
    f.borrow(position_id, 90 * USD, sender=world.borrower)
    for price in [16 * USD, 12_800_000, 10_240_000, 8_192_000, 6_553_600]:  # -20 % each: 65.536 tUSD left
        world.post({world.id_a: price})
    price = 6_553_600
    if route == "matured":
        maturity = f.position(position_id).maturity
        world.chain.pending_timestamp = maturity - 1
        world.oracle.postPrices([world.id_a], [price - 1], [maturity - 1], sender=world.feeder)
        price -= 1
        world.chain.pending_timestamp = maturity
    else:
        f.setLiquidationParams(10_000, BONUS, sender=admin)
        world.chain.pending_timestamp = world.now() + 1
    offered = 80 * USD  # below the debt, above what 10 t are worth
    receipt = f.liquidate(position_id, world.id_a, offered, sender=world.liquidator)

    repaid = worth_of(10 * UNITS, price)
    liquidated = event_args(receipt, f, "Liquidated")[0]
    assert (liquidated["repaid"], liquidated["seized"]) == (repaid, 10 * UNITS)
    index = liquidated["index"]
    left_scaled = liquidated["scaledDebt"]
    bad = debt_of(left_scaled, index)
    assert bad > 0
    assert events(receipt, f, "BadDebtRecorded") == [plain(positionId=position_id, amount=bad, totalBadDebt=bad)]
    assert f.badDebt() == bad
    view = f.position(position_id)
    assert (view.scaledDebt, list(view.ids)) == (0, [])
    assert f.totalScaledDebt() == 0
    assert credit.balanceOf(f, world.id_a) == 0
    assert credit.balanceOf(world.liquidator, world.id_a) == 10 * UNITS
