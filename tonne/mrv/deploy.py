"""Deploying the MRV module beside a suite: the CarbonMRV contract, holding the registry's REGISTRAR_ROLE (to add
the batch of an approved report) and VERIFIER_ROLE (to verify it), both granted by the deployer, the registry's
admin.

The contract's constructor takes the registry and the admin (the deployer); its two-step admin transfer starts
with no delay, and a deployment's ``admin_delay`` is scheduled at once with ``changeDefaultAdminDelay`` (OpenZeppelin
applies an increase after the new delay, at most 5 days): the deployment record's notes say when it takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MRV = "CarbonMRV"
MRV_ROLES = ("REGISTRAR_ROLE", "VERIFIER_ROLE", "METHODOLOGY_ROLE")


@dataclass
class MrvOptions:
    """What `ape run deploy --mrv` deploys: the CarbonMRV, with its own roles granted (role name -> addresses)."""

    roles: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class MrvContracts:
    mrv: Any
    receipts: dict[str, Any]
    notes: list[str]


def deploy_mrv(
    project: Any,
    suite: Any,
    deployer: Any,
    *,
    roles: dict[str, list[Any]] | None = None,
    admin_delay: int = 0,
) -> MrvContracts:
    """Deploy CarbonMRV on ``suite``'s registry (``deployer`` its admin), grant it the registry's REGISTRAR_ROLE and
    VERIFIER_ROLE (``deployer`` must be the registry's admin), and grant ``roles`` (MRV role name -> accounts) on
    it."""
    unknown = sorted(set(roles or {}) - set(MRV_ROLES))
    if unknown:
        raise ValueError(f"unknown CarbonMRV role(s) {unknown}; expected some of {MRV_ROLES}")
    registry = suite.registry
    mrv = project.CarbonMRV.deploy(registry.address, deployer, sender=deployer)
    receipts: dict[str, Any] = {MRV: mrv.creation_metadata.receipt}
    notes: list[str] = []
    for role in ("REGISTRAR_ROLE", "VERIFIER_ROLE"):
        receipts[f"registry {role} to MRV"] = registry.grantRole(
            getattr(registry, role)(), mrv.address, sender=deployer
        )
    notes.append(f"CarbonMRV {mrv.address} holds REGISTRAR_ROLE and VERIFIER_ROLE on the registry {registry.address}")
    for role, accounts in (roles or {}).items():
        role_id = getattr(mrv, role)()
        for account in accounts:
            receipts[f"MRV {role} to {account}"] = mrv.grantRole(role_id, account, sender=deployer)
    if admin_delay:
        receipts["MRV admin delay"] = mrv.changeDefaultAdminDelay(admin_delay, sender=deployer)
        _, schedule = mrv.pendingDefaultAdminDelay()
        notes.append(f"CarbonMRV's admin delay becomes {admin_delay} s at unix time {schedule} (scheduled at deploy)")
    return MrvContracts(mrv, receipts, notes)


def deploy_step(ctx: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The MRV module's deploy step (``tonne.modules``): with options (``MrvOptions``, `deploy --mrv`), the CarbonMRV
    beside ``ctx.suite``; without, nothing."""
    if ctx.options is None:
        return {}, None
    from tonne.core.deployments import contract_entry

    options: MrvOptions = ctx.options
    m = deploy_mrv(ctx.project, ctx.suite, ctx.deployer, roles=options.roles, admin_delay=ctx.admin_delay)
    config = {
        "roles": {role: [str(a) for a in accounts] for role, accounts in options.roles.items()},
        "notes": m.notes,
    }
    return {MRV: contract_entry(m.mrv, m.receipts[MRV])}, config
