"""The pledge contracts on a permissioned token: deploy_pledge allowlists them; without that the token refuses
to let them hold credits; every party they pay out to must be allowlisted too."""

from __future__ import annotations

import itertools

import pytest

from pledge_support import DAY, LTV, MAX_AGE, PRICE_A, THRESHOLD, UNITS
from support import ZERO_REF, Factory, reverts
from tonne.pledge.deploy import deploy_pledge, grant_pledge_roles

pytestmark = pytest.mark.usefixtures("permissioned_suite", "stranger", "feeder")

_refs = itertools.count(1)


@pytest.fixture
def setup(project, chain, permissioned_suite, admin, registrar, verifier, issuer, compliance, holder, feeder):
    credit = permissioned_suite.credit
    make = Factory(permissioned_suite.registry, credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project(), 1, 1_000, ref=f"PLEDGE-PERMISSIONED-{next(_refs)}")
    credit.setAllowed([holder], True, sender=compliance)
    credit.issue(token_id, holder, 100 * UNITS, ZERO_REF, sender=issuer)

    def deploy(with_compliance: bool):
        contracts = deploy_pledge(project, credit, admin, compliance=compliance if with_compliance else None)
        grant_pledge_roles(contracts, feeders=[feeder], sender=admin)
        contracts.facility.setClassParams(token_id, LTV, THRESHOLD, MAX_AGE, sender=admin)
        at = chain.blocks.head.timestamp + 1
        chain.pending_timestamp = at
        contracts.oracle.postPrices([token_id], [PRICE_A], [at], sender=feeder)
        credit.setApprovalForAll(contracts.facility, True, sender=holder)
        credit.setApprovalForAll(contracts.bilateral, True, sender=holder)
        return contracts

    return credit, token_id, deploy


def test_deploy_pledge__with_compliance__facility_and_pledge_allowlisted(setup, chain, holder):
    credit, token_id, deploy = setup
    contracts = deploy(True)
    assert contracts.allowlisted and contracts.notes == []
    assert credit.isAllowed(contracts.facility) and credit.isAllowed(contracts.bilateral)
    contracts.facility.openPosition(chain.blocks.head.timestamp + DAY, [token_id], [UNITS], sender=holder)
    contracts.facility.withdraw(1, token_id, UNITS, sender=holder)
    assert credit.balanceOf(holder, token_id) == 100 * UNITS


def test_deploy_pledge__nobody_with_compliance__note_and_token_refuses_the_facility(setup, chain, holder):
    credit, token_id, deploy = setup
    contracts = deploy(False)
    assert not contracts.allowlisted
    assert contracts.notes and contracts.facility.address in contracts.notes[0]
    with reverts(credit.CreditAccountNotAllowed, account=contracts.facility):
        contracts.facility.openPosition(chain.blocks.head.timestamp + DAY, [token_id], [UNITS], sender=holder)


def test_bilateral_claim__to_an_account_off_the_allowlist__token_refuses(
    setup, chain, holder, other_holder, stranger, compliance
):
    credit, token_id, deploy = setup
    contracts = deploy(True)
    maturity = chain.blocks.head.timestamp + DAY
    contracts.bilateral.createPledge(other_holder, [token_id], [UNITS], maturity, maturity + DAY, sender=holder)
    chain.pending_timestamp = maturity
    contracts.bilateral.declareDefault(1, sender=other_holder)
    credit.setAllowed([other_holder], True, sender=compliance)  # the pledgee must be allowlisted to claim at all
    with reverts(credit.CreditAccountNotAllowed, account=stranger):
        contracts.bilateral.claim(1, stranger, sender=other_holder)
    credit.setAllowed([stranger], True, sender=compliance)
    contracts.bilateral.claim(1, stranger, sender=other_holder)
    assert credit.balanceOf(stranger, token_id) == UNITS


def test_withdraw__borrower_frozen__token_refuses(setup, chain, holder, regulator):
    credit, token_id, deploy = setup
    contracts = deploy(True)
    contracts.facility.openPosition(chain.blocks.head.timestamp + DAY, [token_id], [UNITS], sender=holder)
    credit.setFrozen(holder, True, "court order", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        contracts.facility.withdraw(1, token_id, UNITS, sender=holder)


def test_bilateral_claim__pledgee_off_the_allowlist__reverts_credit_account_not_allowed(
    setup, chain, holder, other_holder, stranger, compliance
):
    # Audit (Medium): a pledgee the compliance officer never admitted decided where the credits went.
    credit, token_id, deploy = setup
    contracts = deploy(True)
    b = contracts.bilateral
    credit.setAllowed([stranger], True, sender=compliance)  # the recipient is allowlisted, the pledgee is not
    maturity = chain.blocks.head.timestamp + DAY
    b.createPledge(other_holder, [token_id], [UNITS], maturity, maturity + DAY, sender=holder)
    chain.pending_timestamp = maturity
    b.declareDefault(1, sender=other_holder)
    with reverts(credit.CreditAccountNotAllowed, account=other_holder):
        b.claim(1, stranger, sender=other_holder)
    assert credit.balanceOf(stranger, token_id) == 0 and credit.balanceOf(b, token_id) == UNITS
    credit.setAllowed([other_holder], True, sender=compliance)
    b.claim(1, stranger, sender=other_holder)
    assert credit.balanceOf(stranger, token_id) == UNITS
