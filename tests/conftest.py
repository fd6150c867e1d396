"""Shared fixtures: role-named accounts, a deployed suite in open and in permissioned mode, and factories.

Isolation comes from ape's per-test chain snapshots.
"""

from __future__ import annotations

import os
from unittest import mock

import pytest
from ape_ethereum.trace import Trace, TransactionTrace

from support import Factory, fast_get_addresses_used
from tonne.registry.suite import deploy_suite


@pytest.fixture(scope="session", autouse=True)
def _cheap_reverts():
    """Every reverted transaction costs ape-foundry two walks of its opcode trace: one to find the last contract
    it called (to decode a custom error of a contract below the one called), one to print the call trace. Half
    of a unit test file's time went there. The first is done on the raw frames instead (the same addresses,
    see `support.fast_get_addresses_used`); the printout, which only shows in a failing test's captured output
    and never changes an outcome, is skipped unless TONNE_TEST_TRACES=1."""
    patches = [mock.patch.object(TransactionTrace, "get_addresses_used", fast_get_addresses_used)]
    if os.environ.get("TONNE_TEST_TRACES") != "1":
        patches.append(mock.patch.object(Trace, "show", lambda *_args, **_kwargs: None))
    for p in patches:
        p.start()
    yield
    for p in reversed(patches):
        p.stop()


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def registrar(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def verifier(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def issuer(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def compliance(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def regulator(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def holder(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def other_holder(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def period_regulator(accounts):
    """Opens compliance periods and sets obligations (CompliancePeriods' PERIOD_REGULATOR_ROLE)."""
    return accounts[10]


def _roles(registrar, verifier, issuer, compliance, regulator, period_regulator=None):
    roles = {
        "REGISTRAR_ROLE": [registrar],
        "VERIFIER_ROLE": [verifier],
        "ISSUER_ROLE": [issuer],
        "COMPLIANCE_ROLE": [compliance],
        "REGULATOR_ROLE": [regulator],
    }
    if period_regulator is not None:
        roles["PERIOD_REGULATOR_ROLE"] = [period_regulator]
    return roles


@pytest.fixture(scope="session")
def open_suite(project, admin, registrar, verifier, issuer, compliance, regulator, period_regulator):
    roles = _roles(registrar, verifier, issuer, compliance, regulator, period_regulator)
    return deploy_suite(project, admin, permissioned=False, roles=roles)


@pytest.fixture(scope="session")
def permissioned_suite(project, admin, registrar, verifier, issuer, compliance, regulator, period_regulator):
    roles = _roles(registrar, verifier, issuer, compliance, regulator, period_regulator)
    return deploy_suite(project, admin, permissioned=True, roles=roles)


@pytest.fixture(scope="session")
def hookless_suite(project, admin, registrar, verifier, issuer, compliance, regulator):
    """An open-mode suite without CompliancePeriods: its retirement module's compliance hook is unbound, for the
    tests of `bindCompliance` / `retireForCompliance` themselves."""
    roles = _roles(registrar, verifier, issuer, compliance, regulator)
    return deploy_suite(project, admin, permissioned=False, roles=roles, compliance_periods=False)


@pytest.fixture(scope="session")
def registry(open_suite):
    return open_suite.registry


@pytest.fixture(scope="session")
def credit(open_suite):
    return open_suite.credit


@pytest.fixture(scope="session")
def retirement(open_suite):
    return open_suite.retirement


@pytest.fixture(scope="session")
def periods(open_suite):
    """The CompliancePeriods module, bound to `retirement`."""
    return open_suite.compliance


@pytest.fixture
def factory(registry, credit, registrar, verifier, issuer, accounts):
    return Factory(registry, credit, registrar, verifier, issuer, accounts[6])


@pytest.fixture
def permissioned_factory(permissioned_suite, registrar, verifier, issuer, accounts):
    return Factory(permissioned_suite.registry, permissioned_suite.credit, registrar, verifier, issuer, accounts[6])
