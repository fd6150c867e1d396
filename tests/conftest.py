"""Shared fixtures: role-named accounts, a deployed suite in open and in permissioned mode, and factories.

Isolation comes from ape's per-test chain snapshots.
"""

from __future__ import annotations

import itertools

import pytest

from tonne.ids import encode_id
from tonne.suite import deploy_suite

PROJECT_DEFAULTS = dict(
    standard="VCS",
    name="Rimba Raya Biodiversity Reserve",
    methodology="VM0004",
    projectType="REDD+",
    country=b"ID",
    region="Central Kalimantan",
    metadataURI="ipfs://bafy-project-docs",
    metadataHash=b"\x11" * 32,
)


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


def _roles(registrar, verifier, issuer, compliance, regulator):
    return {
        "REGISTRAR_ROLE": [registrar],
        "VERIFIER_ROLE": [verifier],
        "ISSUER_ROLE": [issuer],
        "COMPLIANCE_ROLE": [compliance],
        "REGULATOR_ROLE": [regulator],
    }


@pytest.fixture(scope="session")
def open_suite(project, admin, registrar, verifier, issuer, compliance, regulator):
    return deploy_suite(
        project, admin, permissioned=False, roles=_roles(registrar, verifier, issuer, compliance, regulator)
    )


@pytest.fixture(scope="session")
def permissioned_suite(project, admin, registrar, verifier, issuer, compliance, regulator):
    return deploy_suite(
        project, admin, permissioned=True, roles=_roles(registrar, verifier, issuer, compliance, regulator)
    )


@pytest.fixture(scope="session")
def registry(open_suite):
    return open_suite.registry


@pytest.fixture(scope="session")
def credit(open_suite):
    return open_suite.credit


_external_ids = itertools.count(1)


def project_input(**overrides):
    """A valid ProjectInput tuple-dict; every call gets a fresh external id unless one is given."""
    fields = dict(PROJECT_DEFAULTS)
    fields["externalId"] = f"VCS-{next(_external_ids)}"
    fields["owner"] = overrides.pop("owner", None)
    fields.update(overrides)
    return fields


def batch_input(first, last, ref=None, period=(1609459200, 1640995199), uri="ipfs://bafy-batch"):
    return dict(
        serialFirst=first,
        serialLast=last,
        periodStart=period[0],
        periodEnd=period[1],
        issuanceReference=ref or f"ISS-{first}-{last}",
        metadataURI=uri,
    )


class Factory:
    """Builds registry state in few lines: approved projects, verified batches, issued credits."""

    def __init__(self, registry, credit, registrar, verifier, issuer, owner):
        self.registry = registry
        self.credit = credit
        self.registrar = registrar
        self.verifier = verifier
        self.issuer = issuer
        self.owner = owner

    def project(self, approve=True, authorize_issuer=True, **overrides):
        overrides.setdefault("owner", self.owner)
        receipt = self.registry.registerProject(project_input(**overrides), sender=self.registrar)
        project_id = receipt.return_value
        if approve:
            self.registry.setProjectStatus(project_id, 2, "validated", sender=self.registrar)
        if authorize_issuer:
            self.registry.setProjectIssuer(project_id, self.issuer, True, sender=self.registrar)
        return project_id

    def batch(self, project_id, first=1, last=1000, prev=0, verify=True, ref=None):
        receipt = self.registry.addBatch(project_id, batch_input(first, last, ref), prev, sender=self.registrar)
        token_id = receipt.return_value
        if verify:
            self.registry.verifyBatch(token_id, sender=self.verifier)
        return token_id

    def issued(self, to, tonnes=100, first=1, last=1000):
        """A fresh project with one verified batch, and `tonnes` of it issued to `to`. Returns the id."""
        token_id = self.batch(self.project(), first, last)
        self.credit.issue(token_id, to, tonnes * 1000, b"\x00" * 32, sender=self.issuer)
        return token_id


@pytest.fixture
def factory(registry, credit, registrar, verifier, issuer, accounts):
    return Factory(registry, credit, registrar, verifier, issuer, accounts[6])


@pytest.fixture
def permissioned_factory(permissioned_suite, registrar, verifier, issuer, accounts):
    return Factory(
        permissioned_suite.registry, permissioned_suite.credit, registrar, verifier, issuer, accounts[6]
    )


__all__ = ["encode_id", "project_input", "batch_input", "Factory"]
