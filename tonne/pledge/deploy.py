"""Deploying the pledge contracts beside a suite: price oracle, credit facility and bilateral pledge.

In permissioned mode the facility and the bilateral pledge hold credits, so they must be on the token's
allowlist; ``deploy_pledge`` puts them there when it is given (or the deployer holds) the COMPLIANCE role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Defaults of a local or test deployment; a real one sets its own (see docs/pledge.md).
MAX_MOVE_BPS = 2_000  # a price may move 20 % per update
ANNUAL_RATE_BPS = 800  # 8 % a year
CLOSE_FACTOR_BPS = 5_000  # one liquidation repays at most half the debt (all of it once matured)
BONUS_BPS = 500  # the liquidator receives collateral worth 105 % of what it repays
PLEDGE_CONTRACTS = ("CreditPriceOracle", "CreditFacility", "BilateralPledge")


@dataclass
class PledgeContracts:
    """The deployed pledge contracts, their loan currency, and the receipts of their deployment."""

    oracle: Any
    facility: Any
    bilateral: Any
    loan_token: Any
    receipts: dict[str, Any] = field(default_factory=dict)
    allowlisted: bool = False  # False in open mode, or when nobody with COMPLIANCE_ROLE was at hand
    notes: list[str] = field(default_factory=list)


def deploy_pledge(
    project: Any,
    credit: Any,
    deployer: Any,
    *,
    loan_token: str | None = None,
    admin_delay: int = 0,
    max_move_bps: int = MAX_MOVE_BPS,
    annual_rate_bps: int = ANNUAL_RATE_BPS,
    close_factor_bps: int = CLOSE_FACTOR_BPS,
    bonus_bps: int = BONUS_BPS,
    compliance: Any | None = None,
) -> PledgeContracts:
    """Deploy oracle, facility and bilateral pledge against ``credit``; ``deployer`` becomes their admin.

    ``loan_token`` is the ERC-20 address to lend in; without it a TestStablecoin (6 decimals, open mint) is
    deployed, which only a local or test chain should get. In permissioned mode the facility and the bilateral
    pledge are allowlisted by ``compliance`` (default: the deployer, if it holds COMPLIANCE_ROLE); otherwise a
    note says which addresses compliance must still allowlist.
    """
    receipts: dict[str, Any] = {}
    if loan_token is None:
        token = project.TestStablecoin.deploy(sender=deployer)
        receipts["TestStablecoin"] = token.creation_metadata.receipt
    else:
        token = _erc20_at(project, loan_token)
    oracle = project.CreditPriceOracle.deploy(max_move_bps, admin_delay, deployer, sender=deployer)
    facility = project.CreditFacility.deploy(
        credit.address,
        token.address,
        oracle.address,
        annual_rate_bps,
        close_factor_bps,
        bonus_bps,
        admin_delay,
        deployer,
        sender=deployer,
    )
    bilateral = project.BilateralPledge.deploy(credit.address, sender=deployer)
    for name, contract in (("CreditPriceOracle", oracle), ("CreditFacility", facility), ("BilateralPledge", bilateral)):
        receipts[name] = contract.creation_metadata.receipt
    result = PledgeContracts(oracle, facility, bilateral, token, receipts)
    if credit.permissioned():
        holders = [facility.address, bilateral.address]
        signer = compliance
        if signer is None and credit.hasRole(credit.COMPLIANCE_ROLE(), deployer):
            signer = deployer
        if signer is None:
            result.notes.append(
                "permissioned mode: COMPLIANCE must allowlist the facility and the bilateral pledge: "
                f"setAllowed([{', '.join(holders)}], true) on {credit.address}"
            )
        else:
            receipts["allowlist pledge contracts"] = credit.setAllowed(holders, True, sender=signer)
            result.allowlisted = True
    return result


def _erc20_at(project: Any, address: str) -> Any:
    """The loan currency at ``address``, with the ERC-20 ABI (TestStablecoin's is a superset of it)."""
    return project.TestStablecoin.at(address)


def grant_pledge_roles(contracts: PledgeContracts, *, lenders=(), feeders=(), sender: Any) -> None:
    """Grant LENDER_ROLE on the facility and PRICE_FEEDER_ROLE on the oracle."""
    for account in lenders:
        contracts.facility.grantRole(contracts.facility.LENDER_ROLE(), account, sender=sender)
    for account in feeders:
        contracts.oracle.grantRole(contracts.oracle.PRICE_FEEDER_ROLE(), account, sender=sender)


@dataclass
class PledgeOptions:
    """What `ape run deploy --pledge` deploys: the loan currency (None: a TestStablecoin), role holders, terms."""

    loan_token: str | None = None
    lenders: list[str] = field(default_factory=list)
    feeders: list[str] = field(default_factory=list)
    max_move_bps: int = MAX_MOVE_BPS
    annual_rate_bps: int = ANNUAL_RATE_BPS
    close_factor_bps: int = CLOSE_FACTOR_BPS
    bonus_bps: int = BONUS_BPS


def deploy_step(ctx: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The pledge module's deploy step (``tonne.modules``): with options (``PledgeOptions``, `deploy --pledge`),
    the pledge contracts beside ``ctx.suite``; without, nothing."""
    if ctx.options is None:
        return {}, None
    return deploy_for_record(ctx.project, ctx.suite, ctx.deployer, ctx.options, ctx.admin_delay)


def deploy_for_record(
    project: Any, suite: Any, deployer: Any, options: PledgeOptions, admin_delay: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deploy the pledge contracts beside ``suite`` for a deployment record: (contract entries, config)."""
    from tonne.core.deployments import contract_entry

    contracts = deploy_pledge(
        project,
        suite.credit,
        deployer,
        loan_token=options.loan_token,
        admin_delay=admin_delay,
        max_move_bps=options.max_move_bps,
        annual_rate_bps=options.annual_rate_bps,
        close_factor_bps=options.close_factor_bps,
        bonus_bps=options.bonus_bps,
    )
    grant_pledge_roles(contracts, lenders=options.lenders, feeders=options.feeders, sender=deployer)
    entries = {
        "CreditPriceOracle": contract_entry(contracts.oracle, contracts.receipts["CreditPriceOracle"]),
        "CreditFacility": contract_entry(contracts.facility, contracts.receipts["CreditFacility"]),
        "BilateralPledge": contract_entry(contracts.bilateral, contracts.receipts["BilateralPledge"]),
    }
    if "TestStablecoin" in contracts.receipts:
        entries["TestStablecoin"] = contract_entry(contracts.loan_token, contracts.receipts["TestStablecoin"])
    config = {
        "loanToken": str(contracts.loan_token.address),
        "testLoanToken": "TestStablecoin" in contracts.receipts,
        "maxMoveBps": options.max_move_bps,
        "annualRateBps": options.annual_rate_bps,
        "closeFactorBps": options.close_factor_bps,
        "bonusBps": options.bonus_bps,
        "lenders": [str(a) for a in options.lenders],
        "priceFeeders": [str(a) for a in options.feeders],
        "allowlisted": contracts.allowlisted,
        "notes": contracts.notes,
    }
    return entries, config
