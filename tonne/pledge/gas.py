"""Gas of the pledge operations, measured on freshly deployed contracts (``make bench`` and the gas pins).

Each figure is one transaction in a stated condition: the facility's first position (cold storage everywhere)
is not what a live facility pays, so every operation is measured on a second position, after the first one
warmed the facility's global slots the way a live facility's are.
"""

from __future__ import annotations

from typing import Any

from tonne.bench.gas import _register
from tonne.pledge.deploy import deploy_pledge, grant_pledge_roles
from tonne.registry.suite import deploy_suite

ZERO_REF = b"\x00" * 32
USD = 10**6
UNITS = 1000
DAY = 86_400
# A fixed gas limit: an estimate made at the latest block's time misses the interest accrual that the mined
# block (one second later) performs, and would run out of gas. Gas used does not depend on the limit.
GAS = 2_000_000


def measure_pledge_gas(project: Any, chain: Any, accounts: list[Any]) -> dict[str, int]:
    """Deploy a suite and the pledge contracts, run each operation once, and return name -> gas used.

    Interest accrues per second, so gas depends on whether a block's timestamp moved since the last accrual
    (an index write or not). Anvil would stamp blocks with the wall clock, and two transactions in the same
    second would then cost less than two a second apart; every block is therefore stamped one second after the
    previous one while this runs."""
    chain.provider.make_request("anvil_setBlockTimestampInterval", [1])
    try:
        return _measure(project, chain, accounts)
    finally:
        chain.provider.make_request("anvil_removeBlockTimestampInterval", [])


def _measure(project: Any, chain: Any, accounts: list[Any]) -> dict[str, int]:
    admin, registrar, verifier, issuer, lender, feeder, borrower, liquidator, bank = accounts[:9]
    gas: dict[str, int] = {}

    def record(name: str, receipt: Any) -> Any:
        gas[name] = int(receipt.gas_used)
        return receipt

    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    suite = deploy_suite(project, admin, roles=roles)
    registry, credit = suite.registry, suite.credit
    contracts = deploy_pledge(project, credit, admin)
    grant_pledge_roles(contracts, lenders=[lender], feeders=[feeder], sender=admin)
    oracle, facility, bilateral, usd = contracts.oracle, contracts.facility, contracts.bilateral, contracts.loan_token
    for name in ("CreditPriceOracle", "CreditFacility", "BilateralPledge"):
        gas[f"deploy {name}"] = int(contracts.receipts[name].gas_used)

    project_id = _register(None, registry, registrar, issuer, borrower, "PLEDGE")
    ids = []
    for n in range(16):
        batch = dict(
            serialFirst=n * 100_000 + 1,
            serialLast=(n + 1) * 100_000,
            periodStart=1,
            periodEnd=2,
            issuanceReference=f"BENCH-PLEDGE-{n}",
            metadataURI="",
        )
        token_id = registry.addBatch(project_id, batch, n, sender=registrar).return_value
        registry.verifyBatch(token_id, sender=verifier)
        credit.issue(token_id, borrower, 10_000 * UNITS, ZERO_REF, sender=issuer)
        facility.setClassParams(token_id, 5_000, 7_000, DAY, gas=GAS, sender=admin)
        ids.append(int(token_id))
    at = chain.blocks.head.timestamp + 1
    mine_at(chain, at)
    record("post 16 prices", oracle.postPrices(ids, [20 * USD] * 16, [at] * 16, gas=GAS, sender=feeder))
    mine_at(chain, at + 1)
    record("post 1 price", oracle.postPrices([ids[0]], [20 * USD], [at + 1], gas=GAS, sender=feeder))

    usd.mint(lender, 10**13, sender=lender)
    usd.approve(facility, 2**256 - 1, sender=lender)
    record("supply liquidity", facility.supplyLiquidity(10**12, gas=GAS, sender=lender))
    credit.setApprovalForAll(facility, True, sender=borrower)
    usd.mint(borrower, 10**12, sender=borrower)
    usd.approve(facility, 2**256 - 1, sender=borrower)
    usd.mint(liquidator, 10**12, sender=liquidator)
    usd.approve(facility, 2**256 - 1, sender=liquidator)

    maturity = at + 365 * DAY
    # Warm-up position: global slots (position count, total debt, cash, index) become non-zero, as in a live one.
    facility.openPosition(maturity, [ids[0]], [UNITS], gas=GAS, sender=borrower)
    facility.borrow(1, USD, gas=GAS, sender=borrower)

    record(
        "open position + pledge 1 id",
        facility.openPosition(maturity, [ids[0]], [100 * UNITS], gas=GAS, sender=borrower),
    )
    record("pledge 1 more id", facility.pledge(2, [ids[1]], [100 * UNITS], gas=GAS, sender=borrower))
    record("pledge to an id held", facility.pledge(2, [ids[1]], [100 * UNITS], gas=GAS, sender=borrower))
    record("borrow, 2 ids", facility.borrow(2, 1_000 * USD, gas=GAS, sender=borrower))
    record("borrow again, 2 ids", facility.borrow(2, 100 * USD, gas=GAS, sender=borrower))
    record("repay part", facility.repay(2, 100 * USD, gas=GAS, sender=borrower))
    record("withdraw part, with debt, 2 ids", facility.withdraw(2, ids[1], 10 * UNITS, gas=GAS, sender=borrower))
    record("repay all", facility.repay(2, 2**256 - 1, gas=GAS, sender=borrower))
    record("withdraw all of an id, no debt", facility.withdraw(2, ids[1], 190 * UNITS, gas=GAS, sender=borrower))

    # 16 ids: the most a health check ever reads.
    facility.openPosition(maturity, ids, [10 * UNITS] * 16, gas=GAS, sender=borrower)
    record("borrow, 16 ids (worst case)", facility.borrow(3, 100 * USD, gas=GAS, sender=borrower))
    record(
        "withdraw part, with debt, 16 ids (worst case)", facility.withdraw(3, ids[15], UNITS, gas=GAS, sender=borrower)
    )

    # Liquidation: a position borrowed to its limit, then two -20 % price moves.
    facility.openPosition(maturity, [ids[2]], [100 * UNITS], gas=GAS, sender=borrower)
    facility.borrow(4, 990 * USD, gas=GAS, sender=borrower)
    for price in (16 * USD, 12_800_000):
        at = chain.blocks.head.timestamp + 1
        mine_at(chain, at)
        oracle.postPrices([ids[2]], [price], [at], gas=GAS, sender=feeder)
    record("liquidate part", facility.liquidate(4, ids[2], 400 * USD, gas=GAS, sender=liquidator))
    facility.setLiquidationParams(10_000, 500, gas=GAS, sender=admin)
    for price in (10_240_000, 8_192_000):
        at = chain.blocks.head.timestamp + 1
        mine_at(chain, at)
        oracle.postPrices([ids[2]], [price], [at], gas=GAS, sender=feeder)
    record(
        "liquidate last unit + bad debt", facility.liquidate(4, ids[2], facility.debtOf(4), gas=GAS, sender=liquidator)
    )
    if facility.badDebt() == 0:
        raise RuntimeError("the bad-debt measurement did not exhaust the collateral")

    credit.setApprovalForAll(bilateral, True, sender=borrower)
    maturity = chain.blocks.head.timestamp + DAY
    record(
        "bilateral: create pledge, 1 id",
        bilateral.createPledge(bank, [ids[3]], [100 * UNITS], maturity, maturity + DAY, gas=GAS, sender=borrower),
    )
    bilateral.createPledge(bank, [ids[3]], [100 * UNITS], maturity, maturity + DAY, gas=GAS, sender=borrower)
    record("bilateral: release", bilateral.release(1, gas=GAS, sender=bank))
    record("bilateral: reclaim", bilateral.reclaim(1, gas=GAS, sender=borrower))
    mine_at(chain, maturity)
    record("bilateral: declare default", bilateral.declareDefault(2, gas=GAS, sender=bank))
    record("bilateral: claim", bilateral.claim(2, bank, gas=GAS, sender=bank))
    return gas


def mine_at(chain: Any, timestamp: int) -> None:
    """Mine an empty block at ``timestamp`` (Anvil, whichever ape provider drives it). Later transactions run
    after it, and so does their gas estimate, which on a plain node uses the latest block's time."""
    chain.provider.make_request("evm_mine", [timestamp])
