"""Running the scripts as a user runs them: our own Anvil subprocess on a free port, `ape run` commands
against it, and fast setup of projects and batches with plain web3.py.

The chain lives in the test process's Anvil, not in ape's test provider, so it survives killing a script.
Test modules import these as `from e2e_support import ...`; tests/e2e/conftest.py holds the fixtures.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from tonne.core.ids import encode_id
from tonne.core.localchain import ANVIL
from tonne.retirement import RETIREMENT_RECORDED_TOPIC

ROOT = Path(__file__).resolve().parents[2]


RECORDED_DATA = ["uint256[]", "uint256[]", "string", "string", "string", "uint40", "uint40", "uint8", "bytes32"]
ISSUED_TOPIC = "0x" + keccak(text="Issued(uint256,address,address,uint256,bytes32)").hex()


_serial = itertools.count(1)


def script_env(deployments_dir: Path) -> dict[str, str]:
    """Environment of an `ape run`: the checkout's tools, and the test's deployment records."""
    env = dict(os.environ)
    env.setdefault("APE_DATA_FOLDER", str(ROOT / ".ape-data"))
    env.setdefault("SOLCX_BINARY_PATH", str(ROOT / "toolchain/solcx"))
    env["PATH"] = os.pathsep.join([str(ROOT / ".venv/bin"), str(ANVIL.parent), env.get("PATH", "")])
    env["TONNE_DEPLOYMENTS_DIR"] = str(deployments_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Anvil:
    process: subprocess.Popen
    url: str
    w3: Web3

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        response = self.w3.provider.make_request(method, list(params))
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response["result"]

    def nonces(self, address: str) -> tuple[int, int]:
        return (
            self.w3.eth.get_transaction_count(address, "latest"),
            self.w3.eth.get_transaction_count(address, "pending"),
        )


def ape_command(script: str, *args: str, anvil: Anvil, account: str | None = "TEST::0") -> list[str]:
    """`ape run <script> ... --account TEST::0 --network <our anvil>`, as a user types it (no --account for
    read-only commands: ``account=None``)."""
    signer = ["--account", account] if account else []
    return [str(ROOT / ".venv/bin/ape"), "run", script, *args, *signer, "--network", anvil.url]


def ape_run(
    script: str, *args: str, anvil: Anvil, directory: Path, timeout: float = 180, account: str | None = "TEST::0"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ape_command(script, *args, anvil=anvil, account=account),
        cwd=ROOT,
        env=script_env(directory),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ape_invoke(
    script: str, *args: str, anvil: Anvil, directory: Path, account: str | None = "TEST::0"
) -> subprocess.CompletedProcess:
    """The same `ape run <script> ...` command line as `ape_run`, run through ape's own click entry point inside
    the test process instead of a new one: the same script loading (`ape run` executes every script module), the
    same option parsing, network connection (``--network <our anvil>``, then back to the test's provider),
    account and error handling; what ape and the script print to stdout and stderr is captured, and the exit
    status is the process's (an exception no handler caught is printed as Python prints it, exit status 1).

    It saves the seconds of interpreter start-up, imports and plugin loading of each `ape run`. Tests where the
    process itself is the point (killed mid-run, two runs at once, the real entry point's exit status, RPC down)
    keep real processes: `ape_run`, `Deployment.start`."""
    from ape._cli import cli as ape_cli
    from ape.utils.basemodel import ManagerAccessMixin as access

    before = access.network_manager.active_provider
    env = {"TONNE_DEPLOYMENTS_DIR": str(directory), "PYTHONUNBUFFERED": "1"}
    argv = ape_command(script, *args, anvil=anvil, account=account)[1:]  # the same words after `ape`
    with contextlib.chdir(ROOT):  # as ape_run's cwd: `ape run` finds scripts/ in the working directory
        result = CliRunner(mix_stderr=False).invoke(ape_cli, argv, prog_name="ape", env=env)
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
        code = 1
    after = access.network_manager.active_provider
    assert after is before, f"ape run {script} left the test process connected to {after} (was {before})"
    return subprocess.CompletedProcess(["ape", *argv], code, result.stdout, stderr)


@dataclass
class Deployment:
    """The suite deployed on the test Anvil, with web3 contracts and helpers to build registry state fast."""

    anvil: Anvil
    directory: Path
    record: dict[str, Any]
    registry: Any
    credit: Any
    admin: str  # the deployer: holds every role (--dev-roles), and is the issue script's TEST::0 account
    retirement: Any = None
    compliance: Any = None  # CompliancePeriods

    @property
    def w3(self) -> Web3:
        return self.anvil.w3

    @property
    def start_block(self) -> int:
        return min(c["blockNumber"] for c in self.record["contracts"].values())

    def run(
        self, script: str, *args: str, timeout: float = 180, account: str | None = "TEST::0", process: bool = False
    ) -> subprocess.CompletedProcess:
        """Run a script against this deployment and wait for it (``account=None``: no --account option), in the
        test process (see `ape_invoke`); ``timeout`` only applies to ``process=True``, a real `ape run` process."""
        if process:
            return ape_run(script, *args, anvil=self.anvil, directory=self.directory, timeout=timeout, account=account)
        return ape_invoke(script, *args, anvil=self.anvil, directory=self.directory, account=account)

    def start(
        self, script: str, *args: str, out: Path, account: str | None = "TEST::0"
    ) -> tuple[subprocess.Popen, Path]:
        """Start a script in the background; stdout goes to ``out``, stderr to ``out`` with suffix ``.err``."""
        err = out.with_suffix(".err")
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                ape_command(script, *args, anvil=self.anvil, account=account),
                cwd=ROOT,
                env=script_env(self.directory),
                stdout=stdout,
                stderr=stderr,
                text=True,
            )
        return process, err

    def transact(self, call: Any) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact({"from": self.admin}))
        assert receipt["status"] == 1, f"setup transaction failed: {call}"
        return receipt

    def project(
        self, *, approve: bool = True, authorize: bool = True, standard: str = "VCS", external_id: str | None = None
    ) -> tuple[int, str]:
        """A new project (a fresh external id unless given); returns (project id, 'STANDARD:EXTERNAL_ID')."""
        external_id = external_id or f"E2E-{time.time_ns()}-{next(_serial)}"
        project_input = (
            standard,
            external_id,
            "n",
            "VM0004",
            "REDD+",
            b"ID",
            "r",
            self.admin,
            "ipfs://p",
            b"\x11" * 32,
        )
        self.transact(self.registry.functions.registerProject(project_input))
        project_id = self.registry.functions.projectCount().call()
        if approve:
            self.transact(self.registry.functions.setProjectStatus(project_id, 2, "validated"))
        if authorize:
            self.transact(self.registry.functions.setProjectIssuer(project_id, self.admin, True))
        return project_id, f"{standard}:{external_id}"

    def batch(self, project_id: int, tonnes: int, *, verify: bool = True) -> tuple[int, str]:
        """A new batch of ``tonnes`` appended to the project; returns (token id, issuance reference)."""
        count = self.registry.functions.project(project_id).call()[-1]
        first = count * 10**9 + 1
        reference = f"ISS-{project_id}-{count + 1}-{time.time_ns()}"
        batch_input = (first, first + tonnes - 1, 1_609_459_200, 1_640_995_199, reference, "ipfs://b")
        self.transact(self.registry.functions.addBatch(project_id, batch_input, count))
        token_id = encode_id(project_id, count + 1)
        if verify:
            self.transact(self.registry.functions.verifyBatch(token_id))
        return token_id, reference

    def issued_logs(self, token_ids: Sequence[int], from_block: int | None = None) -> list[dict[str, Any]]:
        """Raw Issued logs of ``token_ids``."""
        return self.anvil.rpc(
            "eth_getLogs",
            [
                {
                    "address": self.credit.address,
                    "fromBlock": hex(self.start_block if from_block is None else from_block),
                    "toBlock": "latest",
                    "topics": [ISSUED_TOPIC, [f"0x{t:064x}" for t in token_ids]],
                }
            ],
        )


def deploy(anvil: Anvil, directory: Path, *flags: str) -> Deployment:
    """`ape run deploy --dev-roles [flags]` on ``anvil``, recording into ``directory`` (in the test process, see
    `ape_invoke`)."""
    result = ape_invoke("deploy", "--dev-roles", *flags, anvil=anvil, directory=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((directory / f"{anvil.w3.eth.chain_id}.json").read_text())
    contracts = {
        name: anvil.w3.eth.contract(address=entry["address"], abi=entry["abi"])
        for name, entry in record["contracts"].items()
    }
    return Deployment(
        anvil=anvil,
        directory=directory,
        record=record,
        registry=contracts["CarbonRegistry"],
        credit=contracts["CarbonCredit"],
        admin=to_checksum_address(record["deployer"]),
        retirement=contracts["CarbonRetirement"],
        compliance=contracts["CompliancePeriods"],
    )


def stocked(deployment: Any, *, batches: int = 2, tonnes: int = 10_000) -> list[tuple[int, str, int, str]]:
    """A fresh project with ``batches`` verified batches, all issued to TEST::0; returns
    [(project id, 'STANDARD:EXTERNAL_ID', token id, issuance reference)]."""
    project_id, name = deployment.project()
    out = []
    for _ in range(batches):
        token_id, reference = deployment.batch(project_id, tonnes)
        deployment.transact(deployment.credit.functions.issue(token_id, deployment.admin, tonnes * 1000, b"\0" * 32))
        out.append((project_id, name, token_id, reference))
    return out


def recorded(deployment: Any, from_block: int = 0) -> list[dict[str, Any]]:
    """Every RetirementRecorded event of the deployment since ``from_block``, decoded."""
    logs = deployment.anvil.rpc(
        "eth_getLogs",
        [
            {
                "address": deployment.retirement.address,
                "fromBlock": hex(from_block or deployment.start_block),
                "toBlock": "latest",
                "topics": [RETIREMENT_RECORDED_TOPIC],
            }
        ],
    )
    out = []
    for log in logs:
        ids, amounts, name, reason, jurisdiction, start, end, purpose, ref = decode(
            RECORDED_DATA, bytes.fromhex(log["data"][2:])
        )
        out.append(
            dict(
                certificate=int(log["topics"][1], 16),
                beneficiary=to_checksum_address("0x" + log["topics"][2][-40:]),
                retiring=to_checksum_address("0x" + log["topics"][3][-40:]),
                ids=list(ids),
                amounts=list(amounts),
                name=name,
                reason=reason,
                jurisdiction=jurisdiction,
                period=(start, end),
                ref=ref,
            )
        )
    return out


class CuttableProxy:
    """A TCP forwarder in front of the test Anvil, so that a script can lose its RPC mid-run while the chain lives
    on: ``cut()`` closes every open connection and from then on closes each new one at once (connection reset);
    ``url`` is what the script is given as its --network. With ``sends_allowed`` the proxy cuts itself when a
    request would carry one ``eth_sendRawTransaction`` more than that (so the cut falls mid-send however fast or
    slow the machine is)."""

    def __init__(self, target_url: str, *, sends_allowed: int | None = None) -> None:
        host, port = target_url.removeprefix("http://").rsplit(":", 1)
        self.target = (host, int(port))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.cut_off = False
        self.sends_allowed = sends_allowed
        self.sends = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            with self.lock:
                if self.cut_off:
                    client.close()
                    continue
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        try:
            while data := source.recv(65536):
                if requests and self.sends_allowed is not None:
                    self.sends += data.count(b"eth_sendRawTransaction")
                    if self.sends > self.sends_allowed:
                        self.cut()
                        return
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            self.cut_off = True
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self.cut()
        self.server.close()


def contract(d: Deployment, name: str) -> Any:
    """The web3 contract ``name`` of a deployment's record."""
    entry = d.record["contracts"][name]
    return d.w3.eth.contract(address=entry["address"], abi=entry["abi"])


def script_module(name: str) -> Any:
    """scripts/<name>.py loaded as a module (its click ``cli``), as `ape run` loads it."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / f"scripts/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def offline(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A command that takes no --network (off-chain, or its own RPC options) through the script's click group, in
    the test process; an exception no handler caught is printed as Python prints it, exit status 1."""
    result = CliRunner(mix_stderr=False).invoke(script_module(script).cli, list(args), env=env)
    code = result.exit_code
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
        code = 1
    return subprocess.CompletedProcess([script, *args], code, result.stdout, stderr)


def ok(result: subprocess.CompletedProcess) -> str:
    """Exit 0 and no trace; the output."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    """Exit non-zero, one error line naming ``words``, no trace; the error line."""
    assert result.returncode != 0, result.stdout
    text = result.stderr + result.stdout
    assert "Traceback" not in text, text
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]
