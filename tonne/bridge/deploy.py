"""Deploying the bridge on two chains with plain web3.py, and the bridge's deployment record.

ape connects to one network at a time; a bridge spans two. So the bridge's deploy, its tools (attest, relay,
bridge-audit) and its two-chain tests drive both chains with web3.py, from the contracts ape compiled
(``.build/__local__.json``).

The record, ``<dir>/bridge-<homeChainId>-<remoteChainId>.json``, holds both sides: chain ids, RPC-independent
addresses, deploy blocks and ABIs, the validator set and the limits. The tools read it; nothing is hand-copied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from tonne.bridge.messages import interop_address
from tonne.core.localchain import ROOT

SCHEMA = "tonne.bridge/1"
ARTIFACTS = ROOT / ".build" / "__local__.json"
WINDOW_SECONDS = 86_400
DEFAULT_LIMIT = 10**12  # units per id per window: 1,000,000 t
FALLBACK_URI = "https://metadata.tonne.invalid/mirror/{id}.json"


class BridgeDeployError(RuntimeError):
    """The bridge cannot be deployed or its record does not match the chains."""


@cache
def _artifacts() -> dict[str, Any]:
    if not ARTIFACTS.exists():
        raise BridgeDeployError(f"{ARTIFACTS} is missing: run `ape compile` first")
    return json.loads(ARTIFACTS.read_text())["contractTypes"]


def _artifact(name: str) -> dict[str, Any]:
    try:
        return _artifacts()[name]
    except KeyError as exc:
        raise BridgeDeployError(f"{name} is not in {ARTIFACTS}: run `ape compile` first") from exc


def abi_of(name: str) -> list[dict[str, Any]]:
    return _artifact(name)["abi"]


def bytecode_of(name: str) -> str:
    return _artifact(name)["deploymentBytecode"]["bytecode"]


BRIDGE_CONTRACTS = ("TonneGateway", "HomeBridge", "RemoteBridge", "MirrorCredit")


def require_artifacts() -> None:
    """Refuse (``BridgeDeployError``) before sending anything when the contracts are not compiled."""
    for name in BRIDGE_CONTRACTS:
        bytecode_of(name)


def transact(w3: Web3, call: Any, sender: str, gas: int | None = None) -> dict[str, Any]:
    """Send ``call`` from the node-unlocked ``sender`` and wait for a successful receipt."""
    tx: dict[str, Any] = {"from": sender}
    if gas is not None:
        tx["gas"] = gas
    receipt = w3.eth.wait_for_transaction_receipt(call.transact(tx))
    if receipt["status"] != 1:
        raise BridgeDeployError(f"transaction {receipt['transactionHash'].hex()} failed: {call}")
    return receipt


def deploy_contract(w3: Web3, name: str, args: list[Any], sender: str) -> tuple[Contract, dict[str, Any]]:
    factory = w3.eth.contract(abi=abi_of(name), bytecode=bytecode_of(name))
    receipt = transact(w3, factory.constructor(*args), sender)
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi_of(name)), receipt


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=to_checksum_address(address), abi=abi_of(name))


@dataclass
class HomeSuite:
    """A registry and credit token deployed with web3 (for the two-chain tests and the bench)."""

    registry: Contract
    credit: Contract


def deploy_home_suite(w3: Web3, admin: str, *, permissioned: bool = False) -> HomeSuite:
    """Registry + credit token with every registry role granted to ``admin``."""
    registry, _ = deploy_contract(w3, "CarbonRegistry", [0, admin], admin)
    credit, _ = deploy_contract(w3, "CarbonCredit", [registry.address, permissioned, "u", 0, admin], admin)
    transact(w3, registry.functions.bindCreditToken(credit.address), admin)
    for role in ("REGISTRAR_ROLE", "VERIFIER_ROLE", "ISSUER_ROLE"):
        transact(w3, registry.functions.grantRole(getattr(registry.functions, role)().call(), admin), admin)
    return HomeSuite(registry, credit)


@dataclass
class Side:
    """One chain's half of the bridge."""

    w3: Web3
    chain_id: int
    gateway: Contract
    bridge: Contract
    token: Contract  # home: the credit token; remote: the mirror
    start_block: int


@dataclass
class BridgePair:
    home: Side
    remote: Side
    validators: list[str]
    threshold: int

    def side(self, name: str) -> Side:
        return self.home if name == "home" else self.remote

    def other(self, side: Side) -> Side:
        return self.remote if side is self.home else self.home

    def record(self) -> dict[str, Any]:
        def part(side: Side, bridge_name: str, token_name: str) -> dict[str, Any]:
            return {
                "chainId": side.chain_id,
                "startBlock": side.start_block,
                "contracts": {
                    "TonneGateway": {"address": side.gateway.address, "abi": abi_of("TonneGateway")},
                    bridge_name: {"address": side.bridge.address, "abi": abi_of(bridge_name)},
                    token_name: {"address": side.token.address, "abi": abi_of(token_name)},
                },
            }

        return {
            "schema": SCHEMA,
            "validators": self.validators,
            "threshold": self.threshold,
            "home": part(self.home, "HomeBridge", "CarbonCredit"),
            "remote": part(self.remote, "RemoteBridge", "MirrorCredit"),
        }


def deploy_bridge_pair(
    home_w3: Web3,
    remote_w3: Web3,
    credit_address: str,
    *,
    home_admin: str,
    remote_admin: str,
    validators: list[str],
    threshold: int,
    window_seconds: int = WINDOW_SECONDS,
    default_limit: int = DEFAULT_LIMIT,
    pauser: tuple[str, str] | None = None,
) -> BridgePair:
    """Gateways on both chains, the home bridge for ``credit_address``, the mirror and remote bridge, bound and
    linked to each other. ``pauser`` (home account, remote account) gets PAUSER_ROLE on all four contracts.
    In permissioned mode the home bridge must then be put on the credit token's allowlist (COMPLIANCE)."""
    home_chain, remote_chain = home_w3.eth.chain_id, remote_w3.eth.chain_id
    if home_chain == remote_chain:
        raise BridgeDeployError(f"both chains have chain id {home_chain}: a bridge needs two different chains")
    start_home, start_remote = home_w3.eth.block_number, remote_w3.eth.block_number
    home_gateway, _ = deploy_contract(home_w3, "TonneGateway", [validators, threshold, 0, home_admin], home_admin)
    remote_gateway, _ = deploy_contract(
        remote_w3, "TonneGateway", [validators, threshold, 0, remote_admin], remote_admin
    )
    home_bridge, _ = deploy_contract(
        home_w3, "HomeBridge", [credit_address, window_seconds, default_limit, 0, home_admin], home_admin
    )
    mirror, _ = deploy_contract(
        remote_w3, "MirrorCredit", [home_chain, credit_address, FALLBACK_URI, 0, remote_admin], remote_admin
    )
    remote_bridge, _ = deploy_contract(
        remote_w3, "RemoteBridge", [mirror.address, window_seconds, default_limit, 0, remote_admin], remote_admin
    )
    transact(remote_w3, mirror.functions.bindBridge(remote_bridge.address), remote_admin)
    transact(
        home_w3,
        home_bridge.functions.link(home_gateway.address, interop_address(remote_chain, remote_bridge.address)),
        home_admin,
    )
    transact(
        remote_w3,
        remote_bridge.functions.link(remote_gateway.address, interop_address(home_chain, home_bridge.address)),
        remote_admin,
    )
    if pauser:
        for w3, admin, account, contracts in (
            (home_w3, home_admin, pauser[0], (home_gateway, home_bridge)),
            (remote_w3, remote_admin, pauser[1], (remote_gateway, remote_bridge)),
        ):
            for contract in contracts:
                role = contract.functions.PAUSER_ROLE().call()
                transact(w3, contract.functions.grantRole(role, account), admin)
    home = Side(
        home_w3, home_chain, home_gateway, home_bridge, contract_at(home_w3, "CarbonCredit", credit_address), start_home
    )
    remote = Side(remote_w3, remote_chain, remote_gateway, remote_bridge, mirror, start_remote)
    return BridgePair(home, remote, list(validators), threshold)


def load_pair(record: dict[str, Any], home_w3: Web3, remote_w3: Web3) -> BridgePair:
    """The bridge of ``record`` on the two connected chains; refuses a record of other chains."""
    if record.get("schema") != SCHEMA:
        raise BridgeDeployError(f"bridge record schema {record.get('schema')!r}, expected {SCHEMA!r}")
    sides = []
    for name, w3, bridge_name, token_name in (
        ("home", home_w3, "HomeBridge", "CarbonCredit"),
        ("remote", remote_w3, "RemoteBridge", "MirrorCredit"),
    ):
        part = record[name]
        if w3.eth.chain_id != part["chainId"]:
            raise BridgeDeployError(
                f"record field {name}.chainId is {part['chainId']}, but that RPC serves chain {w3.eth.chain_id}"
            )
        c = part["contracts"]
        sides.append(
            Side(
                w3,
                part["chainId"],
                contract_at(w3, "TonneGateway", c["TonneGateway"]["address"]),
                contract_at(w3, bridge_name, c[bridge_name]["address"]),
                contract_at(w3, token_name, c[token_name]["address"]),
                part["startBlock"],
            )
        )
    return BridgePair(sides[0], sides[1], record["validators"], record["threshold"])


def record_path(directory: Path | str, home_chain: int, remote_chain: int) -> Path:
    return Path(directory) / f"bridge-{home_chain}-{remote_chain}.json"


def live_record(path: Path, home_w3: Web3, remote_w3: Web3) -> str | None:
    """What of the bridge recorded at ``path`` is still live on the two chains (its bridges have code), or None
    when there is no record, it is unreadable, or records other chains or a chain since reset."""
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        home, remote = record["home"], record["remote"]
        if (home["chainId"], remote["chainId"]) != (home_w3.eth.chain_id, remote_w3.eth.chain_id):
            return None
        home_bridge = home["contracts"]["HomeBridge"]["address"]
        remote_bridge = remote["contracts"]["RemoteBridge"]["address"]
    except (KeyError, TypeError, ValueError):
        return None
    if home_w3.eth.get_code(to_checksum_address(home_bridge)) and remote_w3.eth.get_code(
        to_checksum_address(remote_bridge)
    ):
        return f"HomeBridge {home_bridge}, RemoteBridge {remote_bridge}"
    return None


def archive_record(path: Path) -> Path:
    """Keep the record at ``path`` beside it as ``<name>.<homeStartBlock>.json`` (or a free numbered name)."""
    try:
        tag = str(json.loads(path.read_text())["home"]["startBlock"])
    except (KeyError, TypeError, ValueError):
        tag = "old"
    archived = path.with_name(f"{path.stem}.{tag}.json")
    n = 1
    while archived.exists():
        archived, n = path.with_name(f"{path.stem}.{tag}-{n}.json"), n + 1
    archived.write_text(path.read_text())
    return archived


def write_record(pair: BridgePair, directory: Path | str, *, path: Path | str | None = None) -> Path:
    """Write the record into ``directory`` under its standard name, or exactly at ``path`` when given."""
    path = Path(path) if path is not None else record_path(directory, pair.home.chain_id, pair.remote.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(pair.record(), indent=2) + "\n")
    tmp.replace(path)
    return path
