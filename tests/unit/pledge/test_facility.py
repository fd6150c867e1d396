"""CreditFacility: positions, pledges, borrowing to the LTV, repayment, interest and rounding, withdrawal, and
the lender's liquidity, each with its exact refusals. Liquidation is in test_liquidation.py."""

from __future__ import annotations

import pytest

from pledge_support import (
    DAY,
    HOLDING,
    LIQUIDITY,
    LTV,
    MAX_AGE,
    PRICE_A,
    PRICE_B,
    RAY,
    THRESHOLD,
    UNITS,
    USD,
    YEAR,
    debt_of,
    event_args,
    grown_index,
    rate_per_second,
    value_of,
)
from support import ZERO_REF, Factory, events, plain, retirement_input, reverts

pytestmark = pytest.mark.usefixtures("world", "stranger", "retirement")

TEN_T = 10 * UNITS


def limit_of(units: int, price: int, bps: int = LTV) -> int:
    return value_of(units, price) * bps // 10_000


def max_borrow(limit: int, index: int, already_scaled: int = 0) -> int:
    """The largest amount whose debt (scaled rounded up, then debt rounded up) stays within `limit`."""
    amount = max(limit - debt_of(already_scaled, index), 0)
    while amount > 0 and debt_of(already_scaled + -(-amount * RAY // index), index) > limit:
        amount -= 1
    return amount


def one_unit_debt(index: int) -> int:
    """What borrowing one unit owes: its scaled amount rounds up, then its debt does (2 once index > RAY)."""
    return debt_of(-(-RAY // index), index)


# ------------------------------------------------------------------ opening and pledging


def test_open_position__with_collateral__escrowed_and_logged(world):
    f, credit = world.facility, world.credit
    maturity = world.now() + 30 * DAY
    receipt = f.openPosition(maturity, [world.id_a, world.id_b], [100 * UNITS, 50 * UNITS], sender=world.borrower)
    position_id = receipt.return_value

    assert position_id == f.positionCount() == 1
    assert events(receipt, f, "PositionOpened") == [plain(positionId=1, owner=world.borrower, maturity=maturity)]
    assert events(receipt, f, "Pledged") == [
        plain(positionId=1, owner=world.borrower, ids=[world.id_a, world.id_b], amounts=[100 * UNITS, 50 * UNITS])
    ]
    view = f.position(1)
    assert (view.owner, view.maturity, view.scaledDebt, view.debt) == (world.borrower.address, maturity, 0, 0)
    assert (list(view.ids), list(view.amounts)) == ([world.id_a, world.id_b], [100 * UNITS, 50 * UNITS])
    assert credit.balanceOf(f, world.id_a) == 100 * UNITS
    assert credit.balanceOf(world.borrower, world.id_a) == HOLDING - 100 * UNITS


def test_open_position__empty__then_pledge_twice_same_id__one_entry_summed(world):
    f = world.facility
    position_id = world.open([], [])
    f.pledge(position_id, [world.id_a, world.id_a], [UNITS, 2 * UNITS], sender=world.borrower)
    f.pledge(position_id, [world.id_a], [3 * UNITS], sender=world.borrower)
    view = f.position(position_id)
    assert (list(view.ids), list(view.amounts)) == ([world.id_a], [6 * UNITS])


def test_open_position__maturity_not_in_future__reverts(world):
    at = world.tick()
    with reverts(world.facility.FacilityMaturityInPast, maturity=at, now=at):
        world.facility.openPosition(at, [], [], sender=world.borrower)


@pytest.mark.parametrize(("ids", "amounts"), [(1, 0), (0, 1), (2, 1)])
def test_pledge__lists_mismatch_or_empty__reverts(world, ids, amounts):
    position_id = world.open()
    with reverts(world.facility.FacilityInvalidLists, ids=ids, amounts=amounts):
        world.facility.pledge(position_id, [world.id_a] * ids, [UNITS] * amounts, sender=world.borrower)


def test_pledge__zero_amount__reverts_naming_the_id(world):
    position_id = world.open()
    with reverts(world.facility.FacilityZeroAmount, id=world.id_b):
        world.facility.pledge(position_id, [world.id_a, world.id_b], [UNITS, 0], sender=world.borrower)


def test_pledge__class_without_parameters__reverts(world, registry, credit, registrar, verifier, issuer, holder):
    unlisted = Factory(registry, credit, registrar, verifier, issuer, holder).batch(world.project_id, 20_001, 21_000, 2)
    credit.issue(unlisted, holder, UNITS, ZERO_REF, sender=issuer)
    position_id = world.open()
    with reverts(world.facility.FacilityClassNotListed, id=unlisted, classId=unlisted):
        world.facility.pledge(position_id, [unlisted], [UNITS], sender=holder)


def test_pledge__seventeenth_id__reverts(world, registry, credit, registrar, verifier, issuer, holder, admin):
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    project_id = make.project()
    ids = []
    for n in range(17):
        token_id = make.batch(project_id, n * 10 + 1, n * 10 + 10, prev=n)
        credit.issue(token_id, holder, 2 * UNITS, ZERO_REF, sender=issuer)
        world.facility.setClassParams(token_id, LTV, THRESHOLD, MAX_AGE, sender=admin)
        ids.append(token_id)
    world.post({token_id: PRICE_B for token_id in ids})
    position_id = world.open(ids[:16], [UNITS] * 16)
    assert len(world.facility.position(position_id).ids) == 16
    # An id already held can still be topped up; a 17th distinct one cannot.
    world.facility.pledge(position_id, [ids[0]], [UNITS // 2], sender=holder)
    assert world.facility.position(position_id).amounts[0] == UNITS + UNITS // 2
    with reverts(world.facility.FacilityTooManyCollateralIds, positionId=position_id, count=17, max=16):
        world.facility.pledge(position_id, [ids[16]], [UNITS], sender=holder)


def test_pledge__not_the_owner__reverts(world, stranger):
    position_id = world.open()
    with reverts(world.facility.FacilityNotPositionOwner, positionId=position_id, caller=stranger):
        world.facility.pledge(position_id, [world.id_a], [UNITS], sender=stranger)


def test_pledge__unknown_position__reverts(world):
    with reverts(world.facility.FacilityUnknownPosition, positionId=42):
        world.facility.pledge(42, [world.id_a], [UNITS], sender=world.borrower)


def test_pledge__facility_not_approved__token_refuses(world, credit):
    credit.setApprovalForAll(world.facility, False, sender=world.borrower)
    with reverts(credit.ERC1155MissingApprovalForAll, operator=world.facility, owner=world.borrower):
        world.open()


def test_pledge__more_than_held__token_refuses_and_nothing_recorded(world, credit):
    with reverts(
        credit.ERC1155InsufficientBalance,
        sender=world.borrower,
        balance=HOLDING,
        needed=HOLDING + 1,
        tokenId=world.id_a,
    ):
        world.open([world.id_a], [HOLDING + 1])
    assert world.facility.positionCount() == 0


@pytest.mark.parametrize("batch", [False, True])
def test_unsolicited_transfer_to_facility__refused(world, credit, batch):
    f = world.facility
    with reverts(f.FacilityUnsolicitedTransfer, operator=world.borrower, **{"from": world.borrower}):
        if batch:
            credit.safeBatchTransferFrom(world.borrower, f, [world.id_a], [UNITS], b"", sender=world.borrower)
        else:
            credit.safeTransferFrom(world.borrower, f, world.id_a, UNITS, b"", sender=world.borrower)
    assert credit.balanceOf(f, world.id_a) == 0


# ------------------------------------------------------------------ encumbrance


def test_pledged_credits__cannot_be_transferred_retired_or_moved_by_an_operator(world, credit, retirement, stranger):
    world.open([world.id_a], [HOLDING])  # everything the borrower held of A
    insufficient = dict(sender=world.borrower, balance=0, needed=1, tokenId=world.id_a)
    with reverts(credit.ERC1155InsufficientBalance, **insufficient):
        credit.safeTransferFrom(world.borrower, stranger, world.id_a, 1, b"", sender=world.borrower)
    with reverts(credit.ERC1155InsufficientBalance, **insufficient):
        retirement.retire([world.id_a], [1], retirement_input(), sender=world.borrower)
    # A lock-style bridge moves credits as an approved operator (safeTransferFrom to itself): nothing to move.
    credit.setApprovalForAll(stranger, True, sender=world.borrower)
    with reverts(credit.ERC1155InsufficientBalance, **insufficient):
        credit.safeTransferFrom(world.borrower, stranger, world.id_a, 1, b"", sender=stranger)
    assert credit.balanceOf(world.facility, world.id_a) == HOLDING


# ------------------------------------------------------------------ borrowing


def test_borrow__up_to_ltv__paid_and_logged_one_more_unit_reverts(world):
    f = world.facility
    position_id = world.open()  # 100 t of A at 20 tUSD: 2,000 tUSD, LTV 50 %: 1,000 tUSD
    limit = limit_of(100 * UNITS, PRICE_A)
    index = world.prime()
    amount = max_borrow(limit, index)
    too_much = amount + 1
    with reverts(
        f.FacilityBorrowExceedsLimit,
        positionId=position_id,
        debtAfter=debt_of(-(-too_much * RAY // index), index),
        limit=limit,
    ):
        f.borrow(position_id, too_much, sender=world.borrower)

    index = world.prime()
    amount = max_borrow(limit, index)
    receipt = f.borrow(position_id, amount, sender=world.borrower)
    scaled = -(-amount * RAY // index)
    assert event_args(receipt, f, "Borrowed") == [
        dict(positionId=position_id, to=world.borrower.address, amount=amount, scaledDebt=scaled, index=index)
    ]
    assert amount >= limit - 1  # rounding costs at most a unit
    assert world.usd.balanceOf(world.borrower) == amount
    assert f.cash() == LIQUIDITY - amount
    assert f.totalScaledDebt() == scaled


def test_borrow__two_ids__limit_is_the_sum_of_both(world):
    f = world.facility
    position_id = world.open([world.id_a, world.id_b], [100 * UNITS, 100 * UNITS])
    limit = limit_of(100 * UNITS, PRICE_A) + limit_of(100 * UNITS, PRICE_B)
    index = world.prime()
    f.borrow(position_id, max_borrow(limit, index), sender=world.borrower)
    assert f.health(position_id).borrowLimit == limit


def test_borrow__price_older_than_max_age__reverts_price_stale(world):
    f = world.facility
    position_id = world.open()
    updated = world.oracle.priceOf(world.id_a).updatedAt
    world.chain.pending_timestamp = updated + MAX_AGE + 1
    with reverts(f.PriceStale, classId=world.id_a, updatedAt=updated, maxAge=MAX_AGE, now=updated + MAX_AGE + 1):
        f.borrow(position_id, USD, sender=world.borrower)


def test_borrow__price_exactly_max_age_old__allowed(world):
    position_id = world.open()
    updated = world.oracle.priceOf(world.id_a).updatedAt
    world.chain.pending_timestamp = updated + MAX_AGE
    world.facility.borrow(position_id, USD, sender=world.borrower)
    assert world.facility.debtOf(position_id) >= USD


def test_borrow__out_of_bounds_price_refused__old_price_ages_and_blocks_borrowing(world):
    f, oracle = world.facility, world.oracle
    position_id = world.open()
    updated = oracle.priceOf(world.id_a).updatedAt
    crash = PRICE_A // 2
    with reverts(oracle.PriceMoveTooLarge, classId=world.id_a, previous=PRICE_A, proposed=crash, maxMoveBps=2_000):
        world.post({world.id_a: crash})
    world.chain.pending_timestamp = updated + MAX_AGE + 1
    with reverts(f.PriceStale, classId=world.id_a, updatedAt=updated, maxAge=MAX_AGE, now=updated + MAX_AGE + 1):
        f.borrow(position_id, USD, sender=world.borrower)


def test_pledge__never_priced_class__reverts_price_stale_with_zero_time(
    world, registry, credit, registrar, verifier, issuer, holder, admin
):
    # Collateral without a fresh price is refused at the door (it could not be valued by a liquidation).
    token_id = Factory(registry, credit, registrar, verifier, issuer, holder).batch(world.project_id, 20_001, 21_000, 2)
    credit.issue(token_id, holder, UNITS, ZERO_REF, sender=issuer)
    world.facility.setClassParams(token_id, LTV, THRESHOLD, MAX_AGE, sender=admin)
    position_id = world.open()
    at = world.tick()
    with reverts(world.facility.PriceStale, classId=token_id, updatedAt=0, maxAge=MAX_AGE, now=at):
        world.facility.pledge(position_id, [token_id], [UNITS], sender=holder)
    at = world.tick()
    with reverts(world.facility.PriceStale, classId=token_id, updatedAt=0, maxAge=MAX_AGE, now=at):
        world.open([token_id], [UNITS])


def test_pledge__stale_price__reverts(world):
    position_id = world.open()
    updated = world.oracle.priceOf(world.id_b).updatedAt
    world.chain.pending_timestamp = updated + MAX_AGE + 1
    with reverts(
        world.facility.PriceStale, classId=world.id_b, updatedAt=updated, maxAge=MAX_AGE, now=updated + MAX_AGE + 1
    ):
        world.facility.pledge(position_id, [world.id_b], [UNITS], sender=world.borrower)


def test_borrow__at_maturity__reverts(world):
    position_id = world.open(maturity_in=DAY)
    maturity = world.facility.position(position_id).maturity
    world.chain.pending_timestamp = maturity
    with reverts(world.facility.FacilityPositionMatured, positionId=position_id, maturity=maturity, now=maturity):
        world.facility.borrow(position_id, USD, sender=world.borrower)


def test_borrow__more_than_cash__reverts(world):
    position_id = world.open([world.id_a], [HOLDING])  # limit 10,000 tUSD
    world.facility.withdrawLiquidity(LIQUIDITY - 5 * USD, world.lender, sender=world.lender)
    with reverts(world.facility.FacilityInsufficientLiquidity, requested=6 * USD, available=5 * USD):
        world.facility.borrow(position_id, 6 * USD, sender=world.borrower)


def test_borrow__zero__reverts(world):
    position_id = world.open()
    with reverts(world.facility.FacilityZeroAmount, id=0):
        world.facility.borrow(position_id, 0, sender=world.borrower)


def test_borrow__suspended_project__its_collateral_counts_for_nothing(world, registry, registrar):
    position_id = world.open()
    registry.setProjectStatus(world.project_id, 3, "reversal under investigation", sender=registrar)
    index = world.prime()
    with reverts(
        world.facility.FacilityBorrowExceedsLimit, positionId=position_id, debtAfter=one_unit_debt(index), limit=0
    ):
        world.facility.borrow(position_id, 1, sender=world.borrower)
    h = world.facility.health(position_id)
    assert (h.collateralValue, h.borrowLimit, h.liquidationLimit) == (0, 0, 0)


def test_borrow__class_delisted__its_collateral_counts_for_nothing(world, admin):
    position_id = world.open()
    receipt = world.facility.setClassParams(world.id_a, 0, 0, MAX_AGE, sender=admin)
    assert events(receipt, world.facility, "ClassParamsSet") == [
        plain(classId=world.id_a, ltvBps=0, liquidationThresholdBps=0, maxPriceAge=MAX_AGE)
    ]
    index = world.prime()
    with reverts(
        world.facility.FacilityBorrowExceedsLimit, positionId=position_id, debtAfter=one_unit_debt(index), limit=0
    ):
        world.facility.borrow(position_id, 1, sender=world.borrower)


# ------------------------------------------------------------------ repaying and interest


def borrowed_position(world, amount: int = 500 * USD) -> int:
    position_id = world.open()
    world.facility.borrow(position_id, amount, sender=world.borrower)
    world.fund(world.borrower, 10_000 * USD)
    return position_id


def test_repay__part__scaled_debt_falls_by_the_rounded_down_share(world):
    f = world.facility
    position_id = borrowed_position(world)
    scaled = f.position(position_id).scaledDebt
    index = world.prime()
    receipt = f.repay(position_id, 100 * USD, sender=world.borrower)
    left = scaled - 100 * USD * RAY // index
    assert event_args(receipt, f, "Repaid") == [
        dict(positionId=position_id, payer=world.borrower.address, amount=100 * USD, scaledDebt=left, index=index)
    ]
    assert f.totalScaledDebt() == left


def test_repay__more_than_owed__reverts_naming_owed_and_offered(world):
    f = world.facility
    position_id = borrowed_position(world)
    scaled = f.position(position_id).scaledDebt
    index = world.prime()
    owed = debt_of(scaled, index)
    with reverts(f.FacilityRepayExceedsDebt, positionId=position_id, owed=owed, offered=owed + 1):
        f.repay(position_id, owed + 1, sender=world.borrower)


def test_repay__max_sentinel__repays_exactly_what_is_owed(world):
    f = world.facility
    position_id = borrowed_position(world)
    scaled = f.position(position_id).scaledDebt
    before = world.usd.balanceOf(world.borrower)
    index = world.prime()
    receipt = f.repay(position_id, 2**256 - 1, sender=world.borrower)
    owed = debt_of(scaled, index)
    assert receipt.return_value == owed
    assert world.usd.balanceOf(world.borrower) == before - owed
    assert f.position(position_id).scaledDebt == 0 and f.totalScaledDebt() == 0
    assert f.cash() == LIQUIDITY - 500 * USD + owed


def test_repay__by_a_third_party__reduces_the_owners_debt(world, stranger):
    f = world.facility
    position_id = borrowed_position(world)
    world.fund(stranger, 1_000 * USD)
    f.repay(position_id, 2**256 - 1, sender=stranger)
    assert f.debtOf(position_id) == 0


def test_repay__no_debt__reverts(world):
    position_id = world.open()
    with reverts(world.facility.FacilityNoDebt, positionId=position_id):
        world.facility.repay(position_id, 1, sender=world.borrower)


def test_repay__zero__reverts(world):
    position_id = borrowed_position(world)
    with reverts(world.facility.FacilityZeroAmount, id=0):
        world.facility.repay(position_id, 0, sender=world.borrower)


def test_interest__one_year_at_8_percent__owed_grows_by_the_exact_index(world):
    f = world.facility
    position_id = world.open([world.id_a], [HOLDING])
    index0 = world.prime()
    f.borrow(position_id, 1_000 * USD, sender=world.borrower)
    scaled = f.position(position_id).scaledDebt
    t0 = world.now()
    world.fund(world.borrower, 2_000 * USD)
    world.chain.pending_timestamp = t0 + YEAR
    receipt = f.repay(position_id, 2**256 - 1, sender=world.borrower)
    index1 = grown_index(index0, rate_per_second(800), YEAR)
    owed = debt_of(scaled, index1)
    assert receipt.return_value == owed
    assert event_args(receipt, f, "InterestAccrued") == [dict(index=index1, timestamp=t0 + YEAR)]
    # 8 % simple over the year, compounded only at accruals: one accrual here, so 1,080 tUSD (+ rounding up).
    assert 1_080 * USD <= owed <= 1_080 * USD + 2


def test_dust__repeated_tiny_borrow_and_repay__never_in_the_borrowers_favour(world):
    f = world.facility
    position_id = world.open([world.id_a], [HOLDING])
    world.fund(world.borrower, 1_000 * USD)
    start = world.usd.balanceOf(world.borrower)
    borrowed = repaid = 0
    for amount in [1, 1, 2, 3, 1, 7, 1, 1]:
        f.borrow(position_id, amount, sender=world.borrower)
        borrowed += amount
        assert f.debtOf(position_id) >= borrowed - repaid
        f.repay(position_id, amount, sender=world.borrower)  # the same amount back: owed never falls below it
        repaid += amount
        assert f.debtOf(position_id) >= borrowed - repaid
    assert f.debtOf(position_id) > 0  # the rounding went to the facility
    repaid += f.repay(position_id, 2**256 - 1, sender=world.borrower).return_value
    assert repaid > borrowed
    assert world.usd.balanceOf(world.borrower) == start - (repaid - borrowed)
    assert f.cash() == LIQUIDITY + (repaid - borrowed)


# ------------------------------------------------------------------ withdrawing


def test_withdraw__no_debt__all_of_an_id_removes_its_entry(world, credit):
    f = world.facility
    position_id = world.open([world.id_a, world.id_b], [100 * UNITS, 50 * UNITS])
    receipt = f.withdraw(position_id, world.id_a, 100 * UNITS, sender=world.borrower)
    assert events(receipt, f, "Withdrawn") == [
        plain(positionId=position_id, to=world.borrower, id=world.id_a, amount=100 * UNITS)
    ]
    view = f.position(position_id)
    assert (list(view.ids), list(view.amounts)) == ([world.id_b], [50 * UNITS])
    assert credit.balanceOf(world.borrower, world.id_a) == HOLDING
    assert credit.balanceOf(f, world.id_a) == 0


def test_withdraw__no_debt_and_stale_price__allowed(world):
    position_id = world.open()
    world.chain.pending_timestamp = world.oracle.priceOf(world.id_a).updatedAt + MAX_AGE + 100
    world.facility.withdraw(position_id, world.id_a, UNITS, sender=world.borrower)
    assert world.facility.position(position_id).amounts[0] == 99 * UNITS


def test_withdraw__with_debt__within_ltv_allowed_beyond_reverts(world):
    f = world.facility
    position_id = world.open([world.id_a], [200 * UNITS])  # limit 2,000
    f.borrow(position_id, 1_000 * USD, sender=world.borrower)  # needs 100 t at least
    f.withdraw(position_id, world.id_a, 99 * UNITS, sender=world.borrower)
    scaled = f.position(position_id).scaledDebt
    index = world.prime()
    limit_after = limit_of(100 * UNITS, PRICE_A)
    with reverts(f.FacilityWithdrawUnhealthy, positionId=position_id, debt=debt_of(scaled, index), limit=limit_after):
        f.withdraw(position_id, world.id_a, UNITS, sender=world.borrower)


def test_withdraw__with_debt_and_stale_price__reverts(world):
    f = world.facility
    position_id = world.open([world.id_a], [200 * UNITS])
    f.borrow(position_id, USD, sender=world.borrower)
    updated = world.oracle.priceOf(world.id_a).updatedAt
    world.chain.pending_timestamp = updated + MAX_AGE + 1
    with reverts(f.PriceStale, classId=world.id_a, updatedAt=updated, maxAge=MAX_AGE, now=updated + MAX_AGE + 1):
        f.withdraw(position_id, world.id_a, UNITS, sender=world.borrower)


def test_withdraw__more_than_pledged__reverts(world):
    position_id = world.open()
    with reverts(
        world.facility.FacilityWithdrawExceedsCollateral,
        positionId=position_id,
        id=world.id_a,
        pledged=100 * UNITS,
        requested=100 * UNITS + 1,
    ):
        world.facility.withdraw(position_id, world.id_a, 100 * UNITS + 1, sender=world.borrower)


def test_withdraw__id_not_in_position__reverts(world):
    position_id = world.open()
    with reverts(world.facility.FacilityCollateralNotFound, positionId=position_id, id=world.id_b):
        world.facility.withdraw(position_id, world.id_b, 1, sender=world.borrower)


def test_withdraw__zero__reverts(world):
    position_id = world.open()
    with reverts(world.facility.FacilityZeroAmount, id=world.id_a):
        world.facility.withdraw(position_id, world.id_a, 0, sender=world.borrower)


def test_withdraw__suspended_project__token_refuses(world, registry, registrar, credit):
    position_id = world.open()
    registry.setProjectStatus(world.project_id, 3, "reversal under investigation", sender=registrar)
    with reverts(credit.CreditProjectRestricted, id=world.id_a, projectId=world.project_id):
        world.facility.withdraw(position_id, world.id_a, UNITS, sender=world.borrower)


# ------------------------------------------------------------------ lender


def test_lender__supplies_and_withdraws_only_unborrowed_cash(world):
    f = world.facility
    position_id = world.open([world.id_a], [HOLDING])
    f.borrow(position_id, 4_000 * USD, sender=world.borrower)
    cash = LIQUIDITY - 4_000 * USD
    assert f.cash() == cash
    with reverts(f.FacilityInsufficientLiquidity, requested=cash + 1, available=cash):
        f.withdrawLiquidity(cash + 1, world.lender, sender=world.lender)
    receipt = f.withdrawLiquidity(cash, world.lender, sender=world.lender)
    assert events(receipt, f, "LiquidityWithdrawn") == [plain(lender=world.lender, to=world.lender, amount=cash)]
    assert f.cash() == 0
    world.fund(world.lender, 7 * USD)
    receipt = f.supplyLiquidity(7 * USD, sender=world.lender)
    assert events(receipt, f, "LiquiditySupplied") == [plain(lender=world.lender, amount=7 * USD)]
    assert f.cash() == 7 * USD


def test_lender__tokens_sent_directly__ignored_by_the_books(world, stranger):
    world.usd.mint(world.facility, 5 * USD, sender=stranger)
    assert world.facility.cash() == LIQUIDITY


@pytest.mark.parametrize("function", ["supplyLiquidity", "withdrawLiquidity"])
def test_lender__zero__reverts(world, function):
    args = [0] if function == "supplyLiquidity" else [0, world.lender]
    with reverts(world.facility.FacilityZeroAmount, id=0):
        getattr(world.facility, function)(*args, sender=world.lender)


def test_fee_on_transfer_loan_token__supply_refused(project, world, admin, accounts):
    fee = project.FeeOnTransferToken.deploy(sender=admin)
    facility = project.CreditFacility.deploy(world.credit, fee, world.oracle, 800, 5_000, 500, 0, admin, sender=admin)
    facility.grantRole(facility.LENDER_ROLE(), admin, sender=admin)
    fee.mint(admin, 1_000, sender=admin)
    fee.approve(facility, 1_000, sender=admin)
    with reverts(facility.FacilityTransferShortfall, expected=1_000, received=990):
        facility.supplyLiquidity(1_000, sender=admin)


# ------------------------------------------------------------------ admin parameters


@pytest.mark.parametrize(
    ("ltv", "threshold", "age"),
    [(7_000, 7_000, DAY), (8_000, 7_000, DAY), (0, 7_000, DAY), (5_000, 10_001, DAY), (5_000, 7_000, 0), (0, 0, 0)],
)
def test_set_class_params__out_of_range__reverts(world, admin, ltv, threshold, age):
    with reverts(
        world.facility.FacilityInvalidClassParams,
        classId=world.id_a,
        ltvBps=ltv,
        liquidationThresholdBps=threshold,
        maxAge=age,
    ):
        world.facility.setClassParams(world.id_a, ltv, threshold, age, sender=admin)


@pytest.mark.parametrize(("close_factor", "bonus"), [(0, 500), (10_001, 500), (5_000, 5_001)])
def test_set_liquidation_params__out_of_range__reverts(world, admin, close_factor, bonus):
    with reverts(world.facility.FacilityInvalidLiquidationParams, closeFactorBps=close_factor, bonusBps=bonus):
        world.facility.setLiquidationParams(close_factor, bonus, sender=admin)


def test_set_liquidation_params__in_range__stored_and_logged(world, admin):
    receipt = world.facility.setLiquidationParams(10_000, 0, sender=admin)
    assert events(receipt, world.facility, "LiquidationParamsSet") == [plain(closeFactorBps=10_000, bonusBps=0)]
    assert (world.facility.closeFactorBps(), world.facility.liquidationBonusBps()) == (10_000, 0)


def test_set_interest_rate__above_100_percent__reverts(world, admin):
    with reverts(world.facility.FacilityInvalidRate, annualRateBps=10_001):
        world.facility.setInterestRate(10_001, sender=admin)


def test_set_interest_rate__accrues_at_the_old_rate_first(world, admin):
    f = world.facility
    index = world.prime()
    receipt = f.setInterestRate(0, sender=admin)
    assert event_args(receipt, f, "InterestAccrued")[0]["index"] == index
    assert event_args(receipt, f, "InterestRateSet") == [dict(annualRateBps=0, ratePerSecond=0)]
    world.warp(YEAR)
    assert f.borrowIndex() == index  # no interest at 0 %
