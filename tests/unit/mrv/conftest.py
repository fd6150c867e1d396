"""Fixtures of the MRV tests: CarbonMRV beside the open-mode suite (holding the registry's REGISTRAR and VERIFIER
roles), an Approved project owned by `owner`, and a published grid factor."""

from __future__ import annotations

import pytest
from mrv_support import build_mrv


@pytest.fixture(scope="session")
def owner(holder):
    """The project developer: owns the MRV project, registers its devices and submits their reports."""
    return holder


@pytest.fixture(scope="session")
def methodologist(compliance):
    """The token's compliance account: these tests never use its token role."""
    return compliance


@pytest.fixture(scope="session")
def mrv_env(project, chain, open_suite, admin, registrar, verifier, methodologist, owner):
    return build_mrv(project, chain, open_suite, admin, registrar, verifier, methodologist, owner)


@pytest.fixture(scope="session")
def mrv(mrv_env):
    return mrv_env.mrv
