"""Gas of the market: pinned within 2 %, and the issue's targets as ratios to the floor of a trade measured in the
same run on plain contracts (one OpenZeppelin ERC-1155 transfer, the ERC-20 transfers of the payment and the fee,
one fresh storage slot; contracts/test/BaselineSettlement.sol). Ratios are asserted only where the target is met;
the others are recorded in docs/market.md with the measured figures.

A change that moves a figure past the tolerance must update the pin here and docs/market.md together.
"""

import os

import pytest

from tonne.market.gas import measure_market_gas, ratios

# Every measured operation (measured 2026-12-03 after the outside audit's fixes, tests/gas on anvil; the figures
# before them, and what each fix costs, are in docs/market.md); "fill sell, after N fills" is held to
# "fill sell, with fee" by the constancy test below instead (its name depends on N).
PINNED: dict[str, int] = {
    "fill sell, no fee": 106_998,
    "fill sell, with fee": 116_855,
    "fill sell, with fee, partial (2nd fill of an order)": 99_755,
    "fill buy with criteria (standard, vintage)": 135_445,
    "fill buy with criteria (standard, vintage, country)": 168_719,
    "matchOrders": 160_749,
    "fillAndRetire": 213_417,
    "fillMany 1": 118_178,
    "fillMany 10": 623_672,
    "fillMany 50": 2_870_364,
    "10 x fill sell, with fee": 1_168_550,
    "floor: trade, no fee": 84_061,
    "floor: trade with fee": 92_521,
}
# The targets met today, asserted; the single fill's (1.15) is not met (1.263: see docs/market.md, "Gas").
MET_TARGETS = ["fillMany of 10 vs ten single fills"]
TOLERANCE = 0.02
CONSTANCY_FILLS = int(os.environ.get("TONNE_MARKET_CONSTANCY_FILLS", "500"))


@pytest.fixture(scope="module")
def gas(project, chain, accounts):
    return measure_market_gas(project, chain, list(accounts), constancy_fills=CONSTANCY_FILLS)


def test_market_gas__report(gas):
    print()
    for name, value in gas.items():
        print(f"{value:>10,}  {name}")
    for name, r in ratios(gas).items():
        print(f"{r['ratio']:>10}  {name} (target {r['target']}, met: {r['met']})")


@pytest.mark.parametrize(("operation", "pinned"), sorted(PINNED.items()))
def test_market_gas__operation__stays_within_tolerance_of_pin(gas, operation, pinned):
    measured = gas[operation]
    assert abs(measured - pinned) <= pinned * TOLERANCE, f"{operation}: {measured} gas, pinned {pinned}"


def test_market_gas__every_operation_is_pinned(gas):
    unpinned = sorted(name for name in gas if name not in PINNED and not name.startswith("fill sell, after "))
    assert not unpinned, f"operations measured but not pinned: {unpinned}"


@pytest.mark.parametrize("target", MET_TARGETS)
def test_market_gas__target_met__ratio_within_it(gas, target):
    r = ratios(gas)[target]
    assert r["met"], f"{target}: ratio {r['ratio']}, target {r['target']}"


def test_market_gas__ten_thousandth_fill__costs_what_the_first_does(gas):
    # The filled mapping is per order and no loop runs over storage: after 10,000 other fills the same fill costs
    # exactly the same gas.
    # exactly the same execution gas; the two transactions' calldata differ only in the signature's bytes (a zero
    # byte costs 4 gas, another 16), hence the tolerance of a few calldata bytes on gas used.
    assert abs(gas[f"fill sell, after {CONSTANCY_FILLS} fills"] - gas["fill sell, with fee"]) <= 4 * 12


def test_market_gas__fill_many__per_fill_falls_with_size(gas):
    per = [gas[f"fillMany {n}"] / n for n in (1, 10, 50)]
    assert per[0] > per[1] > per[2]
