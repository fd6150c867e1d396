"""The registry's deploy step: the core suite (registry, credit token, retirement, compliance periods), with
its roles granted, in every deployment."""

from __future__ import annotations

from typing import Any

from tonne.core.deployments import DeployContext, contract_entry
from tonne.registry.suite import deploy_suite

CORE_CONTRACTS = ("CarbonRegistry", "CarbonCredit", "CarbonRetirement", "CompliancePeriods")
_ATTRIBUTES = dict(zip(CORE_CONTRACTS, ("registry", "credit", "retirement", "compliance"), strict=True))


def deploy_step(ctx: DeployContext) -> tuple[dict[str, Any], None]:
    """Deploy the suite onto ``ctx.suite``; returns its address-book entries."""
    ctx.suite = suite = deploy_suite(
        ctx.project, ctx.deployer, permissioned=ctx.permissioned, admin_delay=ctx.admin_delay, roles=ctx.roles
    )
    return {
        name: contract_entry(getattr(suite, _ATTRIBUTES[name]), suite.receipts[name]) for name in CORE_CONTRACTS
    }, None
