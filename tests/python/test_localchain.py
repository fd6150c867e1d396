"""Anvil is started through the checkout's wrapper, which keeps chain states off disk and out of $HOME."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from tonne.core import localchain
from tonne.core.localchain import ANVIL, ANVIL_REAL, ROOT, _wait_ready, free_port

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


class _RecordingPopen(subprocess.Popen):
    started: list[subprocess.Popen] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _RecordingPopen.started.append(self)


def test_plain_anvil__port_taken_by_another_anvil__retries_on_a_fresh_port(monkeypatch):
    """Parallel workers can be handed the same "free" port; the loser must move on, not share the winner's node."""
    with localchain.plain_anvil() as (taken_url, taken_process):
        taken_port = int(taken_url.rsplit(":", 1)[1])
        ports = iter([taken_port, taken_port, free_port()])
        monkeypatch.setattr(localchain, "free_port", lambda: next(ports))
        _RecordingPopen.started = []
        monkeypatch.setattr(localchain.subprocess, "Popen", _RecordingPopen)
        with localchain.plain_anvil(chain_id=4_242) as (url, process):
            assert url != taken_url
            assert localchain.listens_on(process, int(url.rsplit(":", 1)[1]))
            assert not localchain.listens_on(process, taken_port)
            payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
            assert int(requests.post(url, json=payload, timeout=10).json()["result"], 16) == 4_242
            failed = _RecordingPopen.started[:-1]
            assert len(failed) == 2
            assert all(p.poll() is not None for p in failed)
        assert taken_process.poll() is None
        assert localchain.listens_on(taken_process, taken_port)


def test_plain_anvil__port_always_taken__gives_up_after_five_attempts_and_stops_each(monkeypatch):
    with localchain.plain_anvil() as (taken_url, _):
        taken_port = int(taken_url.rsplit(":", 1)[1])
        monkeypatch.setattr(localchain, "free_port", lambda: taken_port)
        _RecordingPopen.started = []
        monkeypatch.setattr(localchain.subprocess, "Popen", _RecordingPopen)
        with pytest.raises(RuntimeError, match="after 5 attempts"), localchain.plain_anvil():
            pass
        assert len(_RecordingPopen.started) == localchain.START_ATTEMPTS == 5
        assert all(p.poll() is not None for p in _RecordingPopen.started)


def test_snapshot__blocks_mined_inside_even_when_it_raises__reverted_after():
    from web3 import Web3

    with localchain.plain_anvil() as (url, _process):
        w3 = Web3(Web3.HTTPProvider(url))
        before = w3.eth.block_number
        with localchain.snapshot(w3):
            w3.provider.make_request("evm_mine", [])
            assert w3.eth.block_number == before + 1
        assert w3.eth.block_number == before
        with pytest.raises(ValueError, match="inside"), localchain.snapshot(w3):
            w3.provider.make_request("evm_mine", [])
            raise ValueError("inside")
        assert w3.eth.block_number == before
