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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
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


START_ATTEMPTS = 5


def listening_inodes(port: int) -> set[str]:
    """Socket inodes of the loopback/any-address TCP listeners on `port`, from /proc/net/tcp and tcp6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the socket inode.
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listens_on(process: subprocess.Popen, port: int) -> bool:
    """True when `process` itself holds a listening socket on `port` (not some other process that won the port)."""
    inodes = listening_inodes(port)
    if not inodes:
        return False
    if not Path("/proc/self/fd").is_dir():
        # No /proc (not Linux): the best we can say is "it is alive and the port listens".
        return process.poll() is None
    if process.poll() is not None:
        return False
    links = set()
    try:
        fds = list(Path(f"/proc/{process.pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            links.add(str(fd.readlink()))
        except OSError:
            continue  # closed while we looked
    return any(f"socket:[{inode}]" in links for inode in inodes)


def stop_process(process: subprocess.Popen) -> None:
    """Stop ``process`` if it still runs: terminate, then kill after 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start_anvil(args: list[str], startup_timeout: float) -> tuple[str, subprocess.Popen]:
    """Start Anvil on a fresh free port; retry with another port when the port was taken in the meantime.

    free_port() only says the port was free a moment ago: parallel test workers starting Anvils at once can be
    handed the same port, and the loser either exits or answers the readiness probe through the winner's node.
    So each attempt checks that this process is the one listening, and a failed attempt's process is stopped.
    """
    failures = []
    for _ in range(START_ATTEMPTS):
        port = free_port()
        process = subprocess.Popen([*args, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, process, startup_timeout)
            if listens_on(process, port):
                return url, process
            failures.append(f"port {port}: another process listens there")
        except RuntimeError as error:
            failures.append(f"port {port}: {error}")
        stop_process(process)
    raise RuntimeError(f"anvil did not start after {START_ATTEMPTS} attempts ({'; '.join(failures)})")


@contextmanager
def plain_anvil(
    *, chain_id: int | None = None, startup_timeout: float = 20.0, extra: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start Anvil on a free loopback port (``extra``: more of its options); yield (url, process); stop it on exit,
    whatever happens."""
    args = [anvil_binary(), "--silent", "--gas-limit", str(GAS_LIMIT), *extra]
    if chain_id is not None:
        args += ["--chain-id", str(chain_id)]
    url, process = _start_anvil(args, startup_timeout)
    try:
        yield url, process
    finally:
        stop_process(process)


@dataclass(frozen=True)
class Fork:
    """A running Anvil fork: its URL and a raw JSON-RPC call."""

    url: str

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        response = requests.post(self.url, json=payload, timeout=60).json()
        if "error" in response:
            raise RuntimeError(f"{method} on the fork {self.url}: {response['error'].get('message')}")
        return response["result"]


@contextmanager
def anvil_fork(upstream: str, *, startup_timeout: float = 60.0) -> Iterator[Fork]:
    """An Anvil fork of the chain at ``upstream`` (an RPC URL) from its latest block, on a free loopback port;
    stopped on exit. It keeps the upstream's chain id; nothing it mines reaches the upstream."""
    args = [anvil_binary(), "--silent", "--fork-url", upstream, "--no-storage-caching"]
    url, process = _start_anvil(args, startup_timeout)
    try:
        yield Fork(url)
    finally:
        stop_process(process)


@contextmanager
def snapshot(w3: Any) -> Iterator[str]:
    """Run the ``with`` block from a snapshot of the chain behind ``w3`` (Anvil's ``evm_snapshot``) and revert to it
    afterwards, whatever happens, through the node's RPC (a bench's provider may have no ape snapshot); yields the
    snapshot's id. A node that does not revert raises: what follows would run on the block's leftovers."""
    rpc = w3.provider.make_request
    taken = rpc("evm_snapshot", [])["result"]
    try:
        yield taken
    finally:
        if rpc("evm_revert", [taken]).get("result") is not True:
            raise RuntimeError(f"the chain did not revert to snapshot {taken}")


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
