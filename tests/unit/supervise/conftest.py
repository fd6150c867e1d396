"""Fixtures of the monitor's chain tests: the world of rules_world, built once per session."""

from __future__ import annotations

import pytest
from market_support import build_market
from mrv_support import build_mrv

from bridge_support import deploy_bridges
from rules_world import LTV, MAX_AGE, PLEDGE_HOLDING, PRICE_P, THRESHOLD, UNITS, USD, World
from support import Factory
from tonne.pledge.deploy import deploy_pledge, grant_pledge_roles


@pytest.fixture(scope="session")
def world(
    project,
    chain,
    open_suite,
    admin,
    registrar,
    verifier,
    issuer,
    compliance,
    regulator,
    holder,
    other_holder,
    period_regulator,
) -> World:
    market = build_market(
        project, chain, open_suite, admin, registrar, verifier, issuer, holder, other_holder, period_regulator
    )
    pledge = deploy_pledge(project, open_suite.credit, admin)
    grant_pledge_roles(pledge, lenders=[compliance], feeders=[regulator], sender=admin)
    mrv = build_mrv(project, chain, open_suite, admin, registrar, verifier, compliance, holder)
    bridges = deploy_bridges(project, open_suite, admin, regulator)
    make = Factory(open_suite.registry, open_suite.credit, registrar, verifier, issuer, holder)
    w = World(
        chain=chain,
        suite=open_suite,
        market=market,
        pledge=pledge,
        mrv=mrv,
        bridges=bridges,
        make=make,
        admin=admin,
        registrar=registrar,
        verifier=verifier,
        issuer=issuer,
        holder=holder,
        other=other_holder,
        feeder=regulator,
        lender=compliance,
        period_regulator=period_regulator,
        id_p=0,
    )
    w.id_p = w.issued(holder, PLEDGE_HOLDING // UNITS)
    pledge.facility.setClassParams(w.id_p, LTV, THRESHOLD, MAX_AGE, sender=admin)
    w.post(w.id_p, PRICE_P)
    pledge.loan_token.mint(compliance, 1_000_000 * USD, sender=compliance)
    pledge.loan_token.approve(pledge.facility, 2**256 - 1, sender=compliance)
    pledge.facility.supplyLiquidity(1_000_000 * USD, sender=compliance)
    open_suite.credit.setApprovalForAll(pledge.facility, True, sender=holder)
    return w
