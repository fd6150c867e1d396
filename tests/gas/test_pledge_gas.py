"""Gas of the pledge operations is deterministic: pinned within 2 %, and bounded by the 16-id worst case.

A change that moves a figure past the tolerance must update the pin here and the README table together.
"""

import pytest

from tonne.pledge.gas import measure_pledge_gas

PINNED = {
    "open position + pledge 1 id": 117_848,
    "pledge 1 more id": 113_681,
    "pledge to an id held": 76_604,
    "borrow, 2 ids": 116_622,
    "borrow again, 2 ids": 99_522,
    "repay part": 70_836,
    "repay all": 66_252,
    "withdraw part, with debt, 2 ids": 94_567,
    "withdraw all of an id, no debt": 53_203,
    "borrow, 16 ids (worst case)": 297_880,
    "withdraw part, with debt, 16 ids (worst case)": 279_899,
    "liquidate part": 136_698,
    "liquidate last unit + bad debt": 138_024,
    "post 1 price": 36_186,
    "bilateral: create pledge, 1 id": 184_360,
    "bilateral: claim": 76_349,
    "bilateral: reclaim": 58_030,
}
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def gas(project, chain, accounts):
    return measure_pledge_gas(project, chain, list(accounts))


@pytest.mark.parametrize(("operation", "pinned"), sorted(PINNED.items()))
def test_pledge_gas__operation__stays_within_tolerance_of_pin(gas, operation, pinned):
    measured = gas[operation]
    assert abs(measured - pinned) <= pinned * TOLERANCE, f"{operation}: {measured} gas, pinned {pinned}"


def test_pledge_gas__worst_case_health_check__bounded(gas):
    # 16 ids is the most a position holds; a borrow then reads 16 entries, quotes and restriction flags.
    assert gas["borrow, 16 ids (worst case)"] < 400_000
    assert gas["borrow, 16 ids (worst case)"] > gas["borrow, 2 ids"]
