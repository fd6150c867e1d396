"""Deploy the suite to the connected network and write its deployment record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tonne.core.deployments import (
    DeployContext,
    DeploymentError,
    build_record,
    check_live,
    compiler_settings,
    read_record,
    record_path,
    write_record,
)
from tonne.core.verification import VerificationError, write_inputs
from tonne.modules import MODULES, load
from tonne.registry.suite import Suite


class AlreadyDeployed(DeploymentError):
    """The chain already has a live deployment recorded; deploying again needs ``force``."""


@dataclass
class DeployResult:
    suite: Suite
    record: dict[str, Any]
    path: Path
    replaced: str | None  # why an earlier record was replaced, if there was one
    inputs_error: str | None = None  # why the standard-JSON inputs could not be written, if they could not


def deploy_and_record(
    project: Any,
    provider: Any,
    network: str,
    deployer: Any,
    *,
    permissioned: bool = False,
    admin_delay: int = 0,
    roles: dict[str, list[str]] | None = None,
    force: bool = False,
    directory: Path | str | None = None,
    options: dict[str, Any] | None = None,
) -> DeployResult:
    """Run every module's deploy step (``tonne.modules``): the suite (registry, credit token, retirement,
    compliance periods) with ``roles`` granted, and each module given ``options`` (module name -> its options,
    e.g. ``{"pledge": PledgeOptions(...)}``); write ``deployments/<chainId>.json``.

    Refuses (``AlreadyDeployed``) when a live deployment is already recorded for the chain, unless ``force``;
    a forced run keeps the previous record beside the new one as ``<chainId>.<block>.json``.
    """
    chain_id = provider.chain_id
    path = record_path(chain_id, directory)
    replaced = archive = old = None
    if path.exists():
        try:
            old = read_record(chain_id, directory)
            status = check_live(old, provider)
        except DeploymentError as exc:
            old, status = None, None
            replaced = f"unreadable record replaced ({exc})"
        if status is not None and status.live:
            registry = old["contracts"]["CarbonRegistry"]
            if not force:
                raise AlreadyDeployed(
                    f"chain {chain_id} already has a live Tonne deployment (CarbonRegistry at "
                    f"{registry['address']}, block {registry['blockNumber']}), recorded in {path}. "
                    "Use it, or pass --force to deploy a second suite."
                )
            archive = f"{chain_id}.{registry['blockNumber']}"
            replaced = f"live record kept as {path.with_name(archive + '.json')}"
        elif status is not None:
            replaced = f"stale record replaced ({status.reason})"

    ctx, contracts, configs = deploy_contracts(
        project, deployer, permissioned=permissioned, admin_delay=admin_delay, roles=roles, options=options
    )
    record = build_record(
        chain_id=chain_id,
        network=network,
        deployer=str(deployer.address),
        contracts=contracts,
        compiler=compiler_settings(project),
        config={
            "mode": "permissioned" if permissioned else "open",
            "adminDelaySeconds": admin_delay,
            "admin": str(deployer.address),
            "roles": {role: [str(a) for a in accounts] for role, accounts in ctx.roles.items()},
            **configs,
        },
    )
    if archive is not None:  # only now that the new suite is deployed: a failed run leaves the old record as it was
        archive_inputs(old, path.parent, archive)
        path.with_name(archive + ".json").write_text(json.dumps(old, indent=2) + "\n")
    inputs_error = None
    try:
        write_inputs(record, path.parent, Path(getattr(project, "path", ".")))
    except (OSError, VerificationError) as exc:  # the contracts are deployed: the record must be written anyway
        inputs_error = f"standard-JSON inputs not written ({exc}); `ape run verify` cannot check this deployment"
    return DeployResult(
        suite=ctx.suite,
        record=record,
        path=write_record(record, directory),
        replaced=replaced,
        inputs_error=inputs_error,
    )


def deploy_contracts(
    project: Any,
    deployer: Any,
    *,
    permissioned: bool = False,
    admin_delay: int = 0,
    roles: dict[str, list[str]] | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[DeployContext, dict[str, Any], dict[str, Any]]:
    """Run every module's deploy step on the connected chain: (context, address-book entries, module configs)."""
    ctx = DeployContext(project, deployer, permissioned=permissioned, admin_delay=admin_delay, roles=roles or {})
    contracts: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for module in MODULES:  # the registry's step first: it deploys the core suite the others build on
        if module.deploy is None:
            continue
        ctx.options = (options or {}).get(module.name)
        ctx.contracts = dict(contracts)
        entries, config = load(module.deploy)(ctx)
        contracts.update(entries)
        if config:
            configs[module.name] = config
    return ctx, contracts, configs


def archive_inputs(record: dict[str, Any], record_dir: Path, folder: str) -> None:
    """Move a replaced live record's standard-JSON inputs to ``<record_dir>/<folder>/`` and point its entries there,
    so that the archived record still verifies (the new deployment's inputs take ``<chainId>/``)."""
    moved = record_dir / folder
    for entry in record["contracts"].values():
        relative = entry.get("standardJsonInput")
        if not relative or not (record_dir / relative).is_file():
            continue
        moved.mkdir(exist_ok=True)
        target = moved / Path(relative).name
        (record_dir / relative).replace(target)
        entry["standardJsonInput"] = f"{folder}/{target.name}"


# ------------------------------------------------------------------------------------------------------ the dry run


@dataclass
class PlannedTransaction:
    label: str  # "CarbonRegistry (create)", "CarbonRegistry.grantRole"
    gas: int


@dataclass
class DryRun:
    """What a deployment would send, measured on a fork of the chain: each transaction's gas, and the cost at the
    chain's gas price now."""

    chain_id: int
    block: int  # the block the fork was taken at
    deployer: str
    nonce: int
    transactions: list[PlannedTransaction]
    gas_price: int  # wei, the chain's eth_gasPrice
    balance: int  # wei, the deployer's

    @property
    def gas(self) -> int:
        return sum(t.gas for t in self.transactions)

    @property
    def cost(self) -> int:
        return self.gas * self.gas_price


def dry_run(
    project: Any,
    provider: Any,
    deployer: Any,
    *,
    permissioned: bool = False,
    admin_delay: int = 0,
    roles: dict[str, list[str]] | None = None,
    options: dict[str, Any] | None = None,
) -> DryRun:
    """Run the whole deployment on an Anvil fork of the chain behind ``provider`` (from its latest block) and
    measure it; nothing is signed or sent to the chain itself.

    On the fork the deployer is impersonated (no key or passphrase needed) and given ample ether, so the dry run
    also tells an unfunded account how much it needs. Its nonce is the real one, so the fork deploys to the very
    addresses and with the same gas as the real deployment, up to state that changes in between.
    """
    from ape import accounts, networks
    from ape.api.accounts import ImpersonatedAccount
    from ape.logging import LogLevel, logger

    from tonne.core.localchain import anvil_fork

    address = str(deployer.address)
    gas_price = int(provider.gas_price)
    balance = int(provider.get_balance(address))
    nonce = int(provider.get_nonce(address))
    with anvil_fork(provider.http_uri or provider.uri) as fork:
        block = int(fork.rpc("eth_blockNumber"), 16)
        fork.rpc("anvil_setBalance", [address, hex(10**24)])
        fork.rpc("anvil_impersonateAccount", [address])
        signer = ImpersonatedAccount(raw_address=address)
        # ape sends an impersonated account's transactions unsigned once it knows the account as impersonated
        accounts.test_accounts._impersonated_accounts[signer.address] = signer
        try:
            # ape's "Confirmed ... total fees paid" lines would read as if the fork's transactions were real ones
            with (
                logger.at_level(LogLevel.WARNING),
                networks.parse_network_choice(fork.url) as forked,
                _no_confirmations(forked.network),
            ):
                _, contracts, _ = deploy_contracts(
                    project, signer, permissioned=permissioned, admin_delay=admin_delay, roles=roles, options=options
                )
        finally:
            accounts.test_accounts._impersonated_accounts.pop(signer.address, None)
        transactions = _sent(fork, block, contracts)
    return DryRun(provider.chain_id, block, address, nonce, transactions, gas_price, balance)


@contextmanager
def _no_confirmations(network: Any) -> Iterator[None]:
    """The fork is the chain's own network to ape (same chain id), which waits for confirmations on a live network;
    the fork mines only what is sent, so none would come. Waits for none while the dry run runs."""
    config = network.config
    before = config.get("required_confirmations", 0)
    config.required_confirmations = 0
    try:
        yield
    finally:
        config.required_confirmations = before


def _sent(fork: Any, block: int, contracts: dict[str, Any]) -> list[PlannedTransaction]:
    """Every transaction mined on the fork after ``block``, labelled from the address book's ABIs."""
    from eth_utils import function_abi_to_4byte_selector

    names = {entry["address"].lower(): name for name, entry in contracts.items()}
    methods: dict[tuple[str, str], str] = {}
    for entry in contracts.values():
        for item in entry["abi"]:
            if item.get("type") == "function":
                methods[(entry["address"].lower(), function_abi_to_4byte_selector(item).hex())] = item["name"]
    out: list[PlannedTransaction] = []
    for number in range(block + 1, int(fork.rpc("eth_blockNumber"), 16) + 1):
        for tx in fork.rpc("eth_getBlockByNumber", [hex(number), True])["transactions"]:
            receipt = fork.rpc("eth_getTransactionReceipt", [tx["hash"]])
            gas = int(receipt["gasUsed"], 16)
            if receipt.get("contractAddress"):
                created = receipt["contractAddress"].lower()
                out.append(PlannedTransaction(f"{names.get(created, created)} (create)", gas))
            else:
                to = (tx.get("to") or "").lower()
                method = methods.get((to, tx["input"][2:10]), tx["input"][:10])
                out.append(PlannedTransaction(f"{names.get(to, to)}.{method}", gas))
    return out
