"""Deploying the market beside a suite: the CreditExchange, and the payment token its orders are priced in.

The exchange's constructor takes the retirement module (the credit token and the registry are read from it), the
admin transfer delay and the admin (the deployer). The payment token is not the exchange's: each order names its
own; the deployment records one as the market tools' default (``config.market.paymentToken``), the given ERC-20 or,
on a local or test chain, a TestStablecoin (6 decimals, open mint), the pledge's when `--pledge` deployed one.

In permissioned mode the exchange moves credits as an operator, so it must itself be on the token's allowlist; the
step puts it there: with the deployer's COMPLIANCE_ROLE when it holds it, else by granting itself the role (it is
the token's admin), allowlisting, and renouncing the role again. Its output (the record's notes) says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXCHANGE = "CreditExchange"


@dataclass
class MarketOptions:
    """What `ape run deploy --market` deploys: the default payment token (None: a TestStablecoin)."""

    payment_token: str | None = None


@dataclass
class MarketContracts:
    exchange: Any
    payment_token: Any
    receipts: dict[str, Any]
    test_token: bool
    allowlisted: bool
    notes: list[str]


def deploy_market(
    project: Any,
    suite: Any,
    deployer: Any,
    *,
    payment_token: str | None = None,
    reuse_test_token: str | None = None,
    admin_delay: int = 0,
) -> MarketContracts:
    """Deploy the CreditExchange on ``suite`` (``deployer`` its admin) and, without ``payment_token`` or
    ``reuse_test_token``, a TestStablecoin; allowlist the exchange in permissioned mode."""
    receipts: dict[str, Any] = {}
    notes: list[str] = []
    exchange = project.CreditExchange.deploy(suite.retirement.address, admin_delay, deployer, sender=deployer)
    receipts[EXCHANGE] = exchange.creation_metadata.receipt
    test_token = payment_token is None
    if payment_token is not None:
        token = project.TestStablecoin.at(payment_token)  # the ERC-20 part of its ABI is all the tools use
    elif reuse_test_token is not None:
        token = project.TestStablecoin.at(reuse_test_token)
    else:
        token = project.TestStablecoin.deploy(sender=deployer)
        receipts["TestStablecoin"] = token.creation_metadata.receipt
    allowlisted = False
    credit = suite.credit
    if credit.permissioned():
        role = credit.COMPLIANCE_ROLE()
        if credit.hasRole(role, deployer):
            receipts["allowlist exchange"] = credit.setAllowed([exchange.address], True, sender=deployer)
            notes.append(f"permissioned mode: the exchange {exchange.address} was allowlisted on {credit.address}")
        else:
            credit.grantRole(role, deployer, sender=deployer)
            receipts["allowlist exchange"] = credit.setAllowed([exchange.address], True, sender=deployer)
            credit.renounceRole(role, deployer, sender=deployer)
            notes.append(
                f"permissioned mode: the exchange {exchange.address} was allowlisted on {credit.address} (the "
                f"deployer granted itself COMPLIANCE_ROLE for it and renounced it again)"
            )
        allowlisted = True
    return MarketContracts(exchange, token, receipts, test_token, allowlisted, notes)


def deploy_step(ctx: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The market module's deploy step (``tonne.modules``): with options (``MarketOptions``, `deploy --market`),
    the exchange beside ``ctx.suite``; without, nothing."""
    if ctx.options is None:
        return {}, None
    from tonne.core.deployments import contract_entry

    options: MarketOptions = ctx.options
    earlier = getattr(ctx, "contracts", {}) or {}
    reuse = earlier["TestStablecoin"]["address"] if "TestStablecoin" in earlier else None
    m = deploy_market(
        ctx.project,
        ctx.suite,
        ctx.deployer,
        payment_token=options.payment_token,
        reuse_test_token=reuse if options.payment_token is None else None,
        admin_delay=ctx.admin_delay,
    )
    entries = {EXCHANGE: contract_entry(m.exchange, m.receipts[EXCHANGE])}
    if "TestStablecoin" in m.receipts:
        entries["TestStablecoin"] = contract_entry(m.payment_token, m.receipts["TestStablecoin"])
    config = {
        "paymentToken": str(m.payment_token.address),
        "testPaymentToken": m.test_token,
        "feeBps": 0,
        "allowlisted": m.allowlisted,
        "notes": m.notes,
    }
    return entries, config
