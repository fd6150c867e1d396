"""The testnet path as a developer walks it (README, "Deploy to a testnet"), against an Anvil that looks like Sepolia:
chain id 11155111, blocks coming on their own (interval mining beside instant mining), reached through an RPC URL
with ape's `--network ethereum:sepolia:<URL>`, and an ape keystore account imported with `ape accounts import`
(private key and passphrase typed on stdin, as at a terminal) and funded by a transfer.

The dry run comes first and must send nothing (the account's nonce and balance unchanged, no code where the suite
will land) while measuring what the real deploy then spends, transaction by transaction. The deploy answers ape's
"Sign:" and passphrase prompts; `ape run verify` then recompiles every contract from the stored standard-JSON inputs
and finds the chain's code equal to them; a changed source byte, or a record pointing at another contract, is a
mismatch and exit status 1. Refusals of `verify` (missing folder, corrupt input, another chain's record, an address
without code, RPC down) are one line each, with no traceback.

ape's Sepolia settings wait 2 confirmations and poll every 7 s; the deploy is told to wait 1 and poll each second
(APE_ETHEREUM_SEPOLIA, ape's settings from the environment), so that it takes seconds rather than minutes.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_abi import decode
from eth_account import Account
from eth_utils import to_checksum_address
from web3 import Web3

from e2e_support import ROOT, script_env
from tonne.core.localchain import plain_anvil

SEPOLIA = 11155111
PASSPHRASE = "correct horse battery staple"
ALIAS = "testnet-deployer"
DOWN = "http://127.0.0.1:9"  # the discard port: nothing answers
CORE = ("CarbonRegistry", "CarbonCredit", "CarbonRetirement", "CompliancePeriods")


@dataclass
class SepoliaLike:
    url: str
    w3: Web3
    address: str  # the keystore account's
    ape_data: Path
    directory: Path  # deployment records

    @property
    def network(self) -> str:
        return f"ethereum:sepolia:{self.url}"

    def env(self, directory: Path | None = None) -> dict[str, str]:
        env = script_env(directory or self.directory)
        env["APE_DATA_FOLDER"] = str(self.ape_data)
        env["APE_ETHEREUM_SEPOLIA"] = json.dumps({"required_confirmations": 1, "block_time": 2})
        return env

    def ape(self, *args: str, stdin: str = "", directory: Path | None = None, timeout: float = 600):
        """An `ape` command in a new session (no terminal: prompts read stdin, as getpass falls back to it)."""
        return subprocess.run(
            [str(ROOT / ".venv/bin/ape"), *args],
            cwd=ROOT,
            env=self.env(directory),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )

    def run(self, script: str, *args: str, account: bool = True, **kw) -> subprocess.CompletedProcess:
        signer = ["--account", ALIAS] if account else []
        return self.ape("run", script, *args, *signer, "--network", self.network, **kw)


@pytest.fixture(scope="module")
def testnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SepoliaLike]:
    with plain_anvil(chain_id=SEPOLIA, extra=("--block-time", "0.5", "--mixed-mining")) as (url, _):
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        key = "0x" + secrets.token_hex(32)
        address = Account.from_key(key).address
        net = SepoliaLike(url, w3, address, tmp_path_factory.mktemp("ape-data"), tmp_path_factory.mktemp("deployments"))
        imported = net.ape("accounts", "import", ALIAS, stdin=f"{key}\n{PASSPHRASE}\n{PASSPHRASE}\n", timeout=120)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert address in imported.stdout + imported.stderr
        assert list((net.ape_data / "accounts").glob(f"{ALIAS}.json")), "no keystore file was written"
        faucet = w3.eth.accounts[0]  # fund the fresh account, as a faucet would
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": faucet, "to": address, "value": 10**18}))
        yield net


@dataclass
class DryRun:
    result: subprocess.CompletedProcess
    before: tuple[int, int]  # nonce, balance
    after: tuple[int, int]
    code_after: bytes  # at the address the first contract will be created at


@pytest.fixture(scope="module")
def dry(testnet: SepoliaLike) -> DryRun:
    w3, address = testnet.w3, testnet.address
    before = (w3.eth.get_transaction_count(address), w3.eth.get_balance(address))
    result = testnet.run("deploy", "--dry-run", "--dev-roles", timeout=300)  # no stdin: nothing may need a key
    after = (w3.eth.get_transaction_count(address), w3.eth.get_balance(address))
    first = Web3.to_checksum_address(Web3.keccak(bytes.fromhex("d694") + bytes.fromhex(address[2:]) + b"\x80")[-20:])
    return DryRun(result, before, after, bytes(w3.eth.get_code(first)))


@pytest.fixture(scope="module")
def deployed(testnet: SepoliaLike, dry: DryRun) -> dict:
    """`ape run deploy --dev-roles` with the keystore account, answering ape's prompts: "Sign:" for each transaction,
    the passphrase once, "Leave unlocked?" yes. Runs after the dry run."""
    answers = f"y\n{PASSPHRASE}\ny\n" + "y\n" * 40
    result = testnet.run("deploy", "--dev-roles", stdin=answers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads((testnet.directory / f"{SEPOLIA}.json").read_text())


def test_dry_run__keystore_account__prints_gas_and_cost_of_what_deploy_then_sends_and_sends_nothing(
    testnet: SepoliaLike, dry: DryRun, deployed: dict
):
    out = dry.result.stdout + dry.result.stderr
    assert dry.result.returncode == 0, out
    assert dry.after == dry.before  # nonce and balance unchanged
    assert dry.code_after == b""  # nothing deployed where the registry then landed
    assert f"fork of chain {SEPOLIA}" in out and "nothing was signed or sent" in out
    planned = dict(re.findall(r"^  (\S+) \(create\)\s+([\d,]+) gas$", dry.result.stdout, re.M))
    assert set(planned) == set(CORE)
    for name in CORE:  # the fork measured exactly what the real deployment used
        receipt = testnet.w3.eth.get_transaction_receipt(deployed["contracts"][name]["transactionHash"])
        assert int(planned[name].replace(",", "")) == receipt["gasUsed"], name
    summary = r"^(\d+) transactions, ([\d,]+) gas; at ([\d.,]+) gwei .*: ([\d.,]+) ETH$"
    total = re.search(summary, dry.result.stdout, re.M)
    assert total, dry.result.stdout
    sent = _sent_by(testnet, testnet.address)
    assert int(total.group(1)) == len(sent)
    assert int(total.group(2).replace(",", "")) == sum(r["gasUsed"] for r in sent)
    assert "enough at this gas price" in dry.result.stdout  # 1 ETH funded


def test_deploy__keystore_account_on_sepolia_chain_id__record_holds_inputs_and_constructor_arguments(
    testnet: SepoliaLike, deployed: dict
):
    assert deployed["chainId"] == SEPOLIA
    assert deployed["network"] == "ethereum:sepolia:node"
    assert deployed["deployer"] == testnet.address  # the keystore account signed
    assert deployed["compiler"]["version"].startswith("0.8.28+commit.")
    for name in CORE:
        entry = deployed["contracts"][name]
        assert entry["standardJsonInput"] == f"{SEPOLIA}/{name}.input.json"
        data = json.loads((testnet.directory / entry["standardJsonInput"]).read_text())
        assert data["language"] == "Solidity"
        assert data["settings"]["viaIR"] is True and data["settings"]["optimizer"] == {"enabled": True, "runs": 10000}
        assert data["settings"]["evmVersion"] == "cancun"
        selection = data["settings"]["outputSelection"]
        assert list(selection) == [entry["sourceId"]] and list(selection[entry["sourceId"]]) == [name]
        assert data["sources"][entry["sourceId"]]["content"] == (ROOT / entry["sourceId"]).read_text()
        assert any(unit.startswith("node_modules/@openzeppelin/contracts/") for unit in data["sources"]), name
        tx_input = bytes(testnet.w3.eth.get_transaction(entry["transactionHash"])["input"])
        assert tx_input.endswith(bytes.fromhex(entry["constructorArguments"][2:])), name
    # CarbonCredit(registry, permissioned, fallbackUri, adminDelay, admin): the arguments decode as deployed
    args = bytes.fromhex(deployed["contracts"]["CarbonCredit"]["constructorArguments"][2:])
    registry, permissioned, _, delay, admin = decode(["address", "bool", "string", "uint48", "address"], args)
    assert to_checksum_address(registry) == deployed["contracts"]["CarbonRegistry"]["address"]
    assert (permissioned, delay, to_checksum_address(admin)) == (False, 0, testnet.address)


def test_verify__fresh_deployment__every_contract_matches_its_sources(testnet: SepoliaLike, deployed: dict):
    result = testnet.run("verify", account=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CORE:
        row = next(line for line in result.stdout.splitlines() if line.startswith(name + " "))
        assert deployed["contracts"][name]["address"] in row
        assert row.split()[2:3] == ["match"] and row.rstrip().endswith("match"), row
    assert "immutables blanked" in result.stdout  # CarbonCredit's registry and more are immutables
    assert f"all 4 contracts match their sources (solc {deployed['compiler']['version']}, chain {SEPOLIA})" in (
        result.stdout
    )


def test_verify__one_source_byte_changed_or_record_pointing_elsewhere__mismatch_and_exit_1(
    testnet: SepoliaLike, deployed: dict, tmp_path: Path
):
    copy = _copy(testnet, tmp_path)
    inputs = copy / str(SEPOLIA)
    registry_input = inputs / "CarbonRegistry.input.json"
    data = json.loads(registry_input.read_text())
    source = data["sources"]["contracts/registry/CarbonRegistry.sol"]
    assert source["content"].count("p.documentVersion = 1;") == 1
    source["content"] = source["content"].replace("p.documentVersion = 1;", "p.documentVersion = 2;")  # one byte
    registry_input.write_text(json.dumps(data))
    record = json.loads((copy / f"{SEPOLIA}.json").read_text())
    record["contracts"]["CompliancePeriods"]["address"] = record["contracts"]["CarbonRetirement"]["address"]
    (copy / f"{SEPOLIA}.json").write_text(json.dumps(record))

    result = testnet.run(
        "verify", "--contract", "CarbonRegistry", "--contract", "CompliancePeriods", account=False, directory=copy
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("C")}
    assert re.search(r"MISMATCH at byte \d+", rows["CarbonRegistry"]), rows
    assert "metadata hash only" not in rows["CarbonRegistry"]  # the code itself differs, not only the hash
    assert "MISMATCH" in rows["CarbonRegistry"].split("  ")[-1]  # and so does the creation code
    assert re.search(r"MISMATCH at byte \d+ \(\d+ bytes on chain, \d+ compiled\)", rows["CompliancePeriods"]), rows
    assert "created " + deployed["contracts"]["CompliancePeriods"]["address"] in rows["CompliancePeriods"]
    assert "2 of 2 do NOT match their sources: CarbonRegistry, CompliancePeriods" in result.stderr


def test_verify__hostile_records_and_inputs__one_line_each_no_traceback(
    testnet: SepoliaLike, deployed: dict, tmp_path: Path
):
    def refused(result: subprocess.CompletedProcess, *words: str) -> None:
        out = result.stdout + result.stderr
        assert result.returncode != 0, out
        assert "Traceback" not in out and 'File "' not in out, out
        assert "checking" not in out, out  # refused before any compile
        for word in words:
            assert word in out, out

    copy = _copy(testnet, tmp_path)
    inputs = copy / str(SEPOLIA)
    (inputs / "CarbonCredit.input.json").write_text('{"language": "Solidity",\n "sources": {\n')
    (inputs / "CarbonRetirement.input.json").unlink()
    refused(
        testnet.run("verify", account=False, directory=copy),
        f"{inputs / 'CarbonCredit.input.json'}:3: not valid JSON",
        f"{inputs / 'CarbonRetirement.input.json'}: missing",
        "2 input(s) unusable; nothing was compiled",
    )
    shutil.rmtree(inputs)
    refused(testnet.run("verify", account=False, directory=copy), f"{inputs}: no such folder of standard-JSON inputs")

    other = json.loads((testnet.directory / f"{SEPOLIA}.json").read_text())
    other["chainId"] = 31337
    (tmp_path / "other.json").write_text(json.dumps(other))
    refused(
        testnet.run("verify", "--record", str(tmp_path / "other.json"), account=False),
        "records chain 31337, but the chain is 11155111",
    )
    refused(testnet.run("verify", "--contract", "Nope", account=False), "--contract 'Nope': not in the record")

    nocode = _copy(testnet, tmp_path / "nocode")
    record = json.loads((nocode / f"{SEPOLIA}.json").read_text())
    record["contracts"]["CarbonRegistry"]["address"] = to_checksum_address("0x" + "de" * 20)
    (nocode / f"{SEPOLIA}.json").write_text(json.dumps(record))
    result = testnet.run("verify", "--contract", "CarbonRegistry", account=False, directory=nocode)
    assert result.returncode == 1 and "no code at the address" in result.stdout, result.stdout + result.stderr

    down = testnet.ape("run", "verify", "--network", f"ethereum:sepolia:{DOWN}", timeout=120)
    assert down.returncode != 0 and DOWN in down.stdout + down.stderr
    assert "Traceback" not in down.stdout + down.stderr


def _copy(testnet: SepoliaLike, where: Path) -> Path:
    """A copy of the deployment's record and inputs, to tamper with."""
    copy = where / "deployments"
    shutil.copytree(testnet.directory, copy)
    return copy


def _sent_by(testnet: SepoliaLike, address: str) -> list[dict]:
    w3, out = testnet.w3, []
    for number in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == address:
                out.append(w3.eth.get_transaction_receipt(tx["hash"]))
    return out
