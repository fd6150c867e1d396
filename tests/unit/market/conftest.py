"""Fixtures of the market tests: the exchange beside the open-mode (and the permissioned) suite, a seller holding
credits, a buyer holding cash, both approving the exchange."""

from __future__ import annotations

import pytest
from market_support import build_market


@pytest.fixture(scope="session")
def seller(holder):
    return holder


@pytest.fixture(scope="session")
def buyer(other_holder):
    return other_holder


@pytest.fixture(scope="session")
def fee_recipient(period_regulator):
    """The compliance periods' regulator account: these tests never use its role."""
    return period_regulator


@pytest.fixture(scope="session")
def market(project, chain, open_suite, admin, registrar, verifier, issuer, seller, buyer, fee_recipient):
    return build_market(project, chain, open_suite, admin, registrar, verifier, issuer, seller, buyer, fee_recipient)


@pytest.fixture  # per test: its allowlisting is reverted after each test, unseen by other modules
def permissioned_market(
    project, chain, permissioned_suite, admin, registrar, verifier, issuer, seller, buyer, fee_recipient
):
    return build_market(
        project, chain, permissioned_suite, admin, registrar, verifier, issuer, seller, buyer, fee_recipient
    )
