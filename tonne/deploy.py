"""Deploy the suite to the connected network and write its deployment record."""

from __future__ import annotations

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
    replaced = None
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
            archived = path.with_name(f"{chain_id}.{registry['blockNumber']}.json")
            archived.write_text(path.read_text())
            replaced = f"live record kept as {archived}"
        elif status is not None:
            replaced = f"stale record replaced ({status.reason})"

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
    return DeployResult(suite=ctx.suite, record=record, path=write_record(record, directory), replaced=replaced)
