"""Fixtures for the end-to-end tests: one Anvil per session, and the suite deployed on it by `ape run deploy`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from e2e_support import Anvil, Deployment, deploy
from tonne.core.localchain import plain_anvil


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with plain_anvil() as (url, process):
        yield Anvil(process, url, Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30})))


@pytest.fixture(scope="session")
def deployment(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The open-mode suite on the session's Anvil. Tests share it: each builds its own projects and recipients."""
    return deploy(anvil, tmp_path_factory.mktemp("deployments"))


@pytest.fixture(scope="session")
def permissioned_deployment(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A second suite, in permissioned mode, on the same Anvil (its own deployment record directory)."""
    return deploy(anvil, tmp_path_factory.mktemp("deployments-permissioned"), "--permissioned")
