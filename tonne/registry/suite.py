"""Deploying and wiring the Tonne contract suite with ape.

Used by the deploy script, the demo, the tests and the benchmarks, so every path deploys the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REGISTRY_ROLES = ("REGISTRAR_ROLE", "VERIFIER_ROLE", "ISSUER_ROLE")
TOKEN_ROLES = ("COMPLIANCE_ROLE", "REGULATOR_ROLE")
# Distinct from the token's REGULATOR_ROLE (freeze and pause): whoever sets compliance obligations need not be able
# to halt transfers, nor the other way round.
COMPLIANCE_PERIODS_ROLES = ("PERIOD_REGULATOR_ROLE",)
ALL_ROLES = REGISTRY_ROLES + TOKEN_ROLES + COMPLIANCE_PERIODS_ROLES
DEFAULT_FALLBACK_URI = "https://metadata.tonne.invalid/credit/{id}.json"


@dataclass
class Suite:
    """The deployed contracts and the receipts of their deployment."""

    registry: Any
    credit: Any
    retirement: Any
    compliance: Any  # CompliancePeriods, or None when deployed without it
    receipts: dict[str, Any] = field(default_factory=dict)
    permissioned: bool = False


def deploy_suite(
    project: Any,
    deployer: Any,
    *,
    permissioned: bool = False,
    admin_delay: int = 0,
    fallback_uri: str = DEFAULT_FALLBACK_URI,
    roles: dict[str, list[Any]] | None = None,
    compliance_periods: bool = True,
) -> Suite:
    """Deploy registry, credit token, retirement and compliance periods, bind them, and grant ``roles`` (role
    name -> accounts).

    ``deployer`` becomes the admin of every contract; its transfer is two-step (OpenZeppelin
    AccessControlDefaultAdminRules) with ``admin_delay`` seconds between the steps. ``compliance_periods=False``
    leaves the retirement module's compliance hook unbound (for tests of the hook itself).
    """
    registry = project.CarbonRegistry.deploy(admin_delay, deployer, sender=deployer)
    credit = project.CarbonCredit.deploy(
        registry.address, permissioned, fallback_uri, admin_delay, deployer, sender=deployer
    )
    bind = registry.bindCreditToken(credit.address, sender=deployer)
    retirement = project.CarbonRetirement.deploy(credit.address, admin_delay, deployer, sender=deployer)
    bind_retirement = credit.bindRetirement(retirement.address, sender=deployer)
    receipts = {
        "CarbonRegistry": registry.creation_metadata.receipt,
        "CarbonCredit": credit.creation_metadata.receipt,
        "CarbonRetirement": retirement.creation_metadata.receipt,
        "bindCreditToken": bind,
        "bindRetirement": bind_retirement,
    }
    compliance = None
    if compliance_periods:
        compliance = project.CompliancePeriods.deploy(retirement.address, admin_delay, deployer, sender=deployer)
        receipts["CompliancePeriods"] = compliance.creation_metadata.receipt
        receipts["bindCompliance"] = retirement.bindCompliance(compliance.address, sender=deployer)
    suite = Suite(
        registry=registry,
        credit=credit,
        retirement=retirement,
        compliance=compliance,
        receipts=receipts,
        permissioned=permissioned,
    )
    for role, accounts in (roles or {}).items():
        grant_role(suite, role, accounts, sender=deployer)
    return suite


def grant_role(suite: Suite, role: str, accounts: list[Any], *, sender: Any) -> None:
    """Grant ``role`` (e.g. ``"ISSUER_ROLE"``) on whichever contract defines it."""
    if role in REGISTRY_ROLES:
        contract = suite.registry
    elif role in TOKEN_ROLES:
        contract = suite.credit
    elif role in COMPLIANCE_PERIODS_ROLES:
        if suite.compliance is None:
            raise ValueError(f"{role} is a role of CompliancePeriods, which this suite was deployed without")
        contract = suite.compliance
    else:
        raise ValueError(f"unknown role {role!r}; expected one of {ALL_ROLES}")
    role_id = getattr(contract, role)()
    for account in accounts:
        contract.grantRole(role_id, account, sender=sender)
