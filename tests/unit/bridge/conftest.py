"""Fixtures of the bridge's one-chain contract tests (see tests/bridge_support.py for the layout)."""

from __future__ import annotations

import pytest

from bridge_support import Bridges, deploy_bridges, fresh_range
from support import Factory


@pytest.fixture(scope="session")
def bridges(project, open_suite, admin, regulator) -> Bridges:
    return deploy_bridges(project, open_suite, admin, regulator)


@pytest.fixture
def make(registry, credit, registrar, verifier, issuer, holder) -> Factory:
    return Factory(registry, credit, registrar, verifier, issuer, holder)


@pytest.fixture
def held(make, holder) -> int:
    """A fresh id of which `holder` holds 100 t (100,000 units)."""
    first, last = fresh_range()
    return make.issued(holder, tonnes=100, first=first, last=last)
