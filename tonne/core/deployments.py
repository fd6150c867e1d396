"""Deployment records: ``deployments/<chainId>.json``, one per chain.

A record holds everything a dApp frontend or a later script needs: each contract's address, deploy
transaction and block, its ABI, the compiler settings and the git commit of the sources. Scripts never take
addresses by hand; they load the record of the chain they are connected to.

A record is *live* when the chain still has the recorded deploy transactions in the recorded blocks and code
at the recorded addresses. A local Anvil chain starts empty on every run, so its old record is stale and is
replaced without fuss; a live record is never overwritten silently.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

SCHEMA = "tonne.deployment/1"
CONTRACTS = ("CarbonRegistry", "CarbonCredit", "CarbonRetirement", "CompliancePeriods")
DEFAULT_DIR = Path("deployments")


class DeploymentError(RuntimeError):
    """A deployment record is missing, malformed, or does not match the chain."""


@dataclass(frozen=True)
class LiveCheck:
    """Result of checking a record against the chain."""

    live: bool
    reason: str


def deployments_dir() -> Path:
    """The folder of the deployment records: ``TONNE_DEPLOYMENTS_DIR``, or ``deployments/``."""
    return Path(os.environ.get("TONNE_DEPLOYMENTS_DIR") or DEFAULT_DIR)


def record_path(chain_id: int, directory: Path | str | None = None) -> Path:
    """Where the record of ``chain_id`` lives."""
    return (Path(directory) if directory else deployments_dir()) / f"{chain_id}.json"


def git_commit(cwd: Path | str = ".") -> dict[str, Any]:
    """The checkout's commit and whether the work tree has uncommitted changes (``None`` outside git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def compiler_settings(project: Any) -> dict[str, Any]:
    """The solidity compiler version and settings that built the project's contracts (sans output selection)."""
    for compiler in project.manifest.compilers or []:
        if compiler.name == "solidity":
            settings = dict(compiler.settings or {})
            settings.pop("outputSelection", None)
            return {"name": "solidity", "version": str(compiler.version), "settings": settings}
    raise DeploymentError("the project manifest names no solidity compiler; run `ape compile` first")


def contract_entry(contract: Any, receipt: Any) -> dict[str, Any]:
    """One contract's part of a record: address, deploy transaction, block and ABI; the source file it was compiled
    from and its ABI-encoded constructor arguments (the deploy transaction's input after the creation code), which
    source verification needs (``tonne.core.verification``)."""
    from tonne.core.verification import constructor_arguments

    contract_type = contract.contract_type
    creation = getattr(contract_type.deployment_bytecode, "bytecode", None) or "0x"
    tx_input = getattr(getattr(receipt, "transaction", None), "data", b"") or b""
    return {
        "address": str(contract.address),
        "transactionHash": _hex(receipt.txn_hash),
        "blockNumber": int(receipt.block_number),
        "blockHash": _hex(_block_hash(receipt)),
        "sourceId": contract_type.source_id,
        "constructorArguments": constructor_arguments(bytes.fromhex(creation.removeprefix("0x")), bytes(tx_input)),
        "abi": [abi.model_dump(mode="json", by_alias=True) for abi in contract_type.abi],
    }


def build_record(
    *,
    chain_id: int,
    network: str,
    deployer: str,
    contracts: dict[str, dict[str, Any]],
    compiler: dict[str, Any],
    config: dict[str, Any],
    git: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a record; ``config`` holds deploy-time choices (mode, admin delay, roles granted)."""
    missing = [name for name in CONTRACTS if name not in contracts]
    if missing:
        raise DeploymentError(f"record lacks contracts {missing}")
    return {
        "schema": SCHEMA,
        "chainId": chain_id,
        "network": network,
        "deployer": deployer,
        "deployedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git if git is not None else git_commit(),
        "compiler": compiler,
        "config": config,
        "contracts": contracts,
    }


def write_record(record: dict[str, Any], directory: Path | str | None = None) -> Path:
    """Write ``record`` atomically (temp file + rename) and return its path."""
    path = record_path(record["chainId"], directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return path


def read_record(chain_id: int, directory: Path | str | None = None) -> dict[str, Any]:
    """Read and sanity-check the record of ``chain_id``."""
    path = record_path(chain_id, directory)
    if not path.exists():
        raise DeploymentError(f"no deployment record for chain {chain_id} at {path}; run `ape run deploy` first")
    return read_record_file(path, chain_id)


def read_record_file(path: Path, chain_id: int) -> dict[str, Any]:
    """Read and sanity-check the record at ``path`` (e.g. an archived ``<chainId>.<block>.json``) for ``chain_id``."""
    if not path.is_file():
        raise DeploymentError(f"{path}: {'is a directory' if path.is_dir() else 'does not exist'}, not a record")
    try:
        record = json.loads(path.read_text(encoding="utf-8-sig"))  # a byte order mark, as Windows editors save
    except UnicodeDecodeError as exc:
        raise DeploymentError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise DeploymentError(f"{path}: not a deployment record (a JSON object)")
    if record.get("schema") != SCHEMA:
        raise DeploymentError(f"{path}: schema {record.get('schema')!r}, expected {SCHEMA!r}")
    if record.get("chainId") != chain_id:
        raise DeploymentError(f"{path}: records chain {record.get('chainId')}, but the chain is {chain_id}")
    if not isinstance(record.get("contracts"), dict):
        raise DeploymentError(f"{path}: contracts: expected an object of name -> entry")
    for name in CONTRACTS:
        entry = record["contracts"].get(name)
        if not isinstance(entry, dict) or not entry.get("address") or not entry.get("abi"):
            raise DeploymentError(f"{path}: contract {name} lacks an address or ABI")
        if not is_address(entry["address"]):
            raise DeploymentError(f"{path}: contract {name} has an invalid address {entry['address']!r}")
    return record


def check_live(record: dict[str, Any], provider: Any) -> LiveCheck:
    """Whether the chain behind ``provider`` still holds this record's deployment."""
    for name, entry in record["contracts"].items():
        if not provider.get_code(to_checksum_address(entry["address"])):
            return LiveCheck(False, f"{name} has no code at {entry['address']}")
        try:
            block = provider.get_block(entry["blockNumber"])
        except Exception:  # noqa: BLE001 - any lookup failure means the block is not on this chain
            return LiveCheck(False, f"block {entry['blockNumber']} of {name}'s deployment is not on this chain")
        if _hex(block.hash) != entry["blockHash"]:
            return LiveCheck(False, f"block {entry['blockNumber']} differs from the recorded one (chain was reset)")
    return LiveCheck(True, "every recorded contract has code and its deploy block matches")


def load_contracts(record: dict[str, Any]) -> dict[str, Any]:
    """ape contract instances for every contract in ``record``, built from the recorded ABIs."""
    from ape import Contract

    return {
        name: Contract(to_checksum_address(entry["address"]), abi=entry["abi"])
        for name, entry in record["contracts"].items()
    }


def _block_hash(receipt: Any) -> Any:
    block_hash = getattr(receipt, "block_hash", None)
    if block_hash is None:
        block_hash = receipt.provider.get_block(receipt.block_number).hash
    return block_hash


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


@dataclass(frozen=True)
class Deployed:
    """The recorded deployment of the connected chain, as ape contract instances."""

    record: dict[str, Any]
    registry: Any
    credit: Any
    retirement: Any
    compliance: Any = None  # CompliancePeriods (always set by ``connect``)

    @property
    def start_block(self) -> int:
        """The first block that can hold events of this deployment."""
        return min(entry["blockNumber"] for entry in self.record["contracts"].values())


def connect(provider: Any, directory: Path | str | None = None, *, require_live: bool = True) -> Deployed:
    """Load the record of the chain behind ``provider`` and check it is live there."""
    record = read_record(provider.chain_id, directory)
    if require_live:
        status = check_live(record, provider)
        if not status.live:
            raise DeploymentError(
                f"{record_path(provider.chain_id, directory)} does not match chain {provider.chain_id}: "
                f"{status.reason}. Deploy again with `ape run deploy`."
            )
    contracts = load_contracts(record)
    return Deployed(
        record=record,
        registry=contracts["CarbonRegistry"],
        credit=contracts["CarbonCredit"],
        retirement=contracts["CarbonRetirement"],
        compliance=contracts["CompliancePeriods"],
    )


@dataclass
class DeployContext:
    """What a module's deploy step (``tonne.modules``) is given: the deployer and the deployment's settings, the
    core suite once the registry's step has deployed it (it runs first), and the module's own options (None:
    the module was not asked for, so its step deploys nothing unless it is part of every deployment)."""

    project: Any
    deployer: Any
    permissioned: bool = False
    admin_delay: int = 0
    roles: dict[str, list[Any]] = field(default_factory=dict)
    options: Any = None
    suite: Any = None  # tonne.registry.suite.Suite
    contracts: dict[str, Any] = field(default_factory=dict)  # the address-book entries of the steps run so far
