"""Fixtures of the pledge tests: the open-mode suite with the pledge contracts beside it, priced and funded."""

from __future__ import annotations

import pytest

from pledge_support import (
    BONUS,
    CLOSE_FACTOR,
    HOLDING,
    LIQUIDITY,
    LTV,
    MAX_AGE,
    PRICE_A,
    PRICE_B,
    RATE_BPS,
    THRESHOLD,
    World,
)
from support import ZERO_REF, Factory
from tonne.pledge.deploy import deploy_pledge, grant_pledge_roles


# The ten funded test accounts are all taken by role fixtures; generating more would change `list(accounts)` for
# every other test module. The pledge contracts' roles reuse two accounts whose token roles these tests never use
# on the same contracts: the lender is the compliance officer's account, the feeder the regulator's.
@pytest.fixture(scope="session")
def lender(compliance):
    return compliance


@pytest.fixture(scope="session")
def feeder(regulator):
    return regulator


@pytest.fixture(scope="session")
def liquidator(other_holder):
    return other_holder


@pytest.fixture(scope="session")
def world(project, chain, open_suite, admin, registrar, verifier, issuer, holder, lender, feeder, liquidator):
    """Batches A and B of one project, 1,000 t of each held by `holder` (the borrower), priced 20 and 10 tUSD a
    tonne, listed at LTV 50 % / threshold 70 % / max age one day; the lender supplied 1,000,000 tUSD."""
    credit, registry = open_suite.credit, open_suite.registry
    contracts = deploy_pledge(
        project,
        credit,
        admin,
        annual_rate_bps=RATE_BPS,
        close_factor_bps=CLOSE_FACTOR,
        bonus_bps=BONUS,
    )
    grant_pledge_roles(contracts, lenders=[lender], feeders=[feeder], sender=admin)
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    project_id = make.project()
    id_a = make.batch(project_id, 1, 10_000)
    id_b = make.batch(project_id, 10_001, 20_000, prev=1)
    for token_id in (id_a, id_b):
        credit.issue(token_id, holder, HOLDING, ZERO_REF, sender=issuer)
        contracts.facility.setClassParams(token_id, LTV, THRESHOLD, MAX_AGE, sender=admin)
    w = World(
        registry=registry,
        credit=credit,
        oracle=contracts.oracle,
        facility=contracts.facility,
        bilateral=contracts.bilateral,
        usd=contracts.loan_token,
        admin=admin,
        lender=lender,
        feeder=feeder,
        borrower=holder,
        liquidator=liquidator,
        project_id=project_id,
        id_a=id_a,
        id_b=id_b,
        chain=chain,
    )
    w.post({id_a: PRICE_A, id_b: PRICE_B})
    w.fund(lender, LIQUIDITY)
    contracts.facility.supplyLiquidity(LIQUIDITY, sender=lender)
    credit.setApprovalForAll(contracts.facility, True, sender=holder)
    credit.setApprovalForAll(contracts.bilateral, True, sender=holder)
    w.fund(holder, 0)
    w.fund(liquidator, 10_000_000 * 10**6)
    return w
