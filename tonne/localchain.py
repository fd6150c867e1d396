"""A plain local Anvil node, started and stopped by us.

ape-foundry starts Anvil with step tracing, which makes large transactions slow and memory-hungry; the
benchmark and the end-to-end tests measure against a plain node, the way a user runs one, and a node that
outlives any one script.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
# The checkout's wrapper around the npm Anvil: it keeps chain states off disk and out of $HOME.
ANVIL = ROOT / "toolchain/bin/anvil"
ANVIL_REAL = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
GAS_LIMIT = 30_000_000


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    """The checkout's Anvil (from npm), or one on PATH."""
    if ANVIL_REAL.exists():
        return str(ANVIL)
    found = shutil.which("anvil")
    if not found:
        raise RuntimeError("anvil not found: run `make install` (it comes from npm @foundry-rs/anvil-linux-amd64)")
    return found


@contextmanager
def plain_anvil(
    *, chain_id: int | None = None, startup_timeout: float = 20.0
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start Anvil on a free loopback port; yield (url, process); stop it on exit, whatever happens."""
    port = free_port()
    args = [anvil_binary(), "--port", str(port), "--silent", "--gas-limit", str(GAS_LIMIT)]
    if chain_id is not None:
        args += ["--chain-id", str(chain_id)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, startup_timeout)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    while True:
        try:
            requests.post(url, json=payload, timeout=2).raise_for_status()
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"anvil did not start at {url}") from None
            time.sleep(0.05)
