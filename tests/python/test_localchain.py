"""Anvil is started through the checkout's wrapper, which keeps chain states off disk and out of $HOME."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import requests

from tonne.localchain import ANVIL, ANVIL_REAL, ROOT, _wait_ready, free_port

# Enough blocks for Anvil to move old states out of memory (it spills after a few hundred).
BLOCKS = 1024


def _mine_and_stop(binary: Path, home: Path) -> None:
    port = free_port()
    env = {**os.environ, "HOME": str(home)}
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--silent"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, 20.0)
        payload = {"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(BLOCKS)]}
        requests.post(url, json=payload, timeout=60).raise_for_status()
        payload = {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []}
        assert int(requests.post(url, json=payload, timeout=10).json()["result"], 16) == BLOCKS
    finally:
        process.terminate()
        process.wait(timeout=10)


def _spilled(home: Path) -> list[Path]:
    return list((home / ".foundry/anvil/tmp").glob("anvil-state-*"))


def test_plain_anvil__many_blocks__spills_states_into_home(tmp_path):
    """The baseline: the npm binary on its own writes old states under $HOME (what the wrapper prevents)."""
    _mine_and_stop(ANVIL_REAL, tmp_path)
    assert _spilled(tmp_path)


def test_anvil_wrapper__many_blocks__writes_nothing_to_home(tmp_path):
    _mine_and_stop(ANVIL, tmp_path)
    assert not any(tmp_path.iterdir())
    assert not _spilled(ROOT / ".anvil-home")
