"""Fixtures for the end-to-end tests: one Anvil per session, and the suite deployed on it by `ape run deploy`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from web3 import Web3

from e2e_support import ANVIL, Anvil, Deployment, deploy, free_port


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    port = free_port()
    process = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--silent", "--gas-limit", "30000000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    deadline = time.monotonic() + 20
    while True:
        try:
            w3.eth.get_block_number()
            break
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"anvil did not start on port {port}") from None
            time.sleep(0.05)
    try:
        yield Anvil(process, url, w3)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def deployment(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The open-mode suite on the session's Anvil. Tests share it: each builds its own projects and recipients."""
    return deploy(anvil, tmp_path_factory.mktemp("deployments"))


@pytest.fixture(scope="session")
def permissioned_deployment(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A second suite, in permissioned mode, on the same Anvil (its own deployment record directory)."""
    return deploy(anvil, tmp_path_factory.mktemp("deployments-permissioned"), "--permissioned")
