"""Deploy the Tonne suite and write deployments/<chainId>.json.

ape run deploy --network ethereum:sepolia:node --account deployer --registrar 0x.. --issuer 0x.. \
    --period-regulator 0x..
ape run deploy --dev-roles            # local Anvil: every role to the deployer
ape run deploy --dev-roles --market   # and the CreditExchange, with a TestStablecoin to price orders in
ape run deploy --dev-roles --mrv      # and the CarbonMRV (holding the registry's REGISTRAR and VERIFIER roles)
ape run deploy --dry-run --network ethereum:sepolia:https://RPC --account deployer --dev-roles  # gas and cost
    first, measured on a fork of the chain: nothing is signed or sent

Beside the record it writes deployments/<chainId>/<Contract>.input.json, each contract's standard-JSON compiler
input for Etherscan and Sourcify; `ape run verify` checks the chain's code against them.
"""

import click
from ape import project
from ape.cli import ConnectedProviderCommand, account_option

from tonne.core.clihelp import WholeNumber
from tonne.deploy import AlreadyDeployed, deploy_and_record
from tonne.deploy import dry_run as run_dry
from tonne.market.deploy import MarketOptions
from tonne.mrv.deploy import MrvOptions
from tonne.pledge.deploy import PledgeOptions
from tonne.registry.suite import ALL_ROLES

ROLE_OPTIONS = {
    "registrar": "REGISTRAR_ROLE",
    "verifier": "VERIFIER_ROLE",
    "issuer": "ISSUER_ROLE",
    "compliance": "COMPLIANCE_ROLE",
    "regulator": "REGULATOR_ROLE",
    "period-regulator": "PERIOD_REGULATOR_ROLE",
}


def _role_options(func):
    for option, role in ROLE_OPTIONS.items():
        func = click.option(f"--{option}", multiple=True, metavar="ADDRESS", help=f"Grant {role} (repeatable).")(func)
    return func


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--permissioned", is_flag=True, help="Permissioned mode: holders must be on the KYC allowlist.")
@click.option(
    "--admin-delay",
    type=WholeNumber(min=0, max=2**48 - 1),  # the contracts' uint48 (OpenZeppelin's AccessControlDefaultAdminRules)
    default=0,
    show_default=True,
    help="Seconds the two-step admin transfer must wait (e.g. 86400: a day).",
)
@click.option("--dev-roles", is_flag=True, help="Grant every role to the deployer (local testing).")
@click.option("--force", is_flag=True, help="Deploy even though a live deployment is recorded for this chain.")
@click.option(
    "--out",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory of deployment records [default: deployments/].",
)
@click.option("--pledge", is_flag=True, help="Also deploy the price oracle, credit facility and bilateral pledge.")
@click.option(
    "--loan-token", metavar="ADDRESS", help="ERC-20 to lend in [default with --pledge: a new TestStablecoin]."
)
@click.option("--lender", multiple=True, metavar="ADDRESS", help="Grant LENDER_ROLE on the facility (repeatable).")
@click.option("--price-feeder", multiple=True, metavar="ADDRESS", help="Grant PRICE_FEEDER_ROLE (repeatable).")
@click.option("--market", is_flag=True, help="Also deploy the CreditExchange (allowlisted in permissioned mode).")
@click.option(
    "--payment-token",
    metavar="ADDRESS",
    help="ERC-20 the market tools price orders in [default with --market: the pledge's or a new TestStablecoin].",
)
@click.option(
    "--mrv", is_flag=True, help="Also deploy the CarbonMRV (it gets the registry's REGISTRAR and VERIFIER roles)."
)
@click.option("--mrv-registrar", multiple=True, metavar="ADDRESS", help="Grant the MRV REGISTRAR_ROLE (repeatable).")
@click.option("--mrv-verifier", multiple=True, metavar="ADDRESS", help="Grant the MRV VERIFIER_ROLE (repeatable).")
@click.option("--methodologist", multiple=True, metavar="ADDRESS", help="Grant the MRV METHODOLOGY_ROLE (repeatable).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Measure the deployment's gas and cost on a fork of the chain, then stop: nothing is signed or sent.",
)
@_role_options
def cli(
    ecosystem,
    network,
    provider,
    account,
    permissioned,
    admin_delay,
    dev_roles,
    force,
    directory,
    pledge,
    loan_token,
    lender,
    price_feeder,
    market,
    payment_token,
    mrv,
    mrv_registrar,
    mrv_verifier,
    methodologist,
    dry_run,
    **role_args,
):
    """Deploy CarbonRegistry, CarbonCredit, CarbonRetirement and CompliancePeriods (and, with --pledge, the pledge
    contracts; with --market, the CreditExchange; with --mrv, the CarbonMRV), grant roles, and record the deployment."""
    roles: dict[str, list[str]] = {}
    for option, role in ROLE_OPTIONS.items():
        if role_args[option.replace("-", "_")]:
            roles[role] = list(role_args[option.replace("-", "_")])
    if dev_roles:
        for role in ALL_ROLES:
            roles.setdefault(role, []).append(str(account.address))
    pledge_options = None
    if pledge:
        dev = [str(account.address)] if dev_roles else []
        pledge_options = PledgeOptions(
            loan_token=loan_token, lenders=list(lender) + dev, feeders=list(price_feeder) + dev
        )
    elif loan_token or lender or price_feeder:
        raise click.UsageError("--loan-token, --lender and --price-feeder need --pledge")
    options = {"pledge": pledge_options} if pledge_options else {}
    if market:
        if payment_token is not None:
            from tonne.core.csvinput import parse_address

            try:
                payment_token = parse_address(payment_token)
            except ValueError as exc:
                raise click.UsageError(f"--payment-token {payment_token!r}: {exc}") from exc
        options["market"] = MarketOptions(payment_token=payment_token)
    elif payment_token:
        raise click.UsageError("--payment-token needs --market")
    if mrv:
        from tonne.core.csvinput import parse_address

        flags = (
            ("--mrv-registrar", mrv_registrar),
            ("--mrv-verifier", mrv_verifier),
            ("--methodologist", methodologist),
        )
        for flag, given in flags:
            for text in given:
                try:
                    parse_address(text)
                except ValueError as exc:
                    raise click.UsageError(f"{flag} {text!r}: {exc}") from exc
        dev = [str(account.address)] if dev_roles else []
        mrv_roles = {
            "REGISTRAR_ROLE": list(mrv_registrar) + dev,
            "VERIFIER_ROLE": list(mrv_verifier) + dev,
            "METHODOLOGY_ROLE": list(methodologist) + dev,
        }
        options["mrv"] = MrvOptions(roles={role: accounts for role, accounts in mrv_roles.items() if accounts})
    elif mrv_registrar or mrv_verifier or methodologist:
        raise click.UsageError("--mrv-registrar, --mrv-verifier and --methodologist need --mrv")
    if dry_run:
        _dry_run(provider, account, permissioned, admin_delay, roles, options or None)
        return
    try:
        result = deploy_and_record(
            project,
            provider,
            f"{ecosystem.name}:{network.name}:{provider.name}",
            account,
            permissioned=permissioned,
            admin_delay=admin_delay,
            roles=roles,
            force=force,
            directory=directory,
            options=options or None,
        )
    except AlreadyDeployed as exc:
        raise click.ClickException(str(exc)) from exc
    if result.replaced:
        click.echo(f"note: {result.replaced}")
    for name, entry in result.record["contracts"].items():
        click.echo(f"{name:17} {entry['address']}  block {entry['blockNumber']}  tx {entry['transactionHash']}")
    for module in ("pledge", "market", "mrv"):
        for note in result.record["config"].get(module, {}).get("notes", []):
            click.echo(f"note: {note}")
    click.echo(f"mode {result.record['config']['mode']}; record written to {result.path}")
    if result.inputs_error:
        click.echo(f"warning: {result.inputs_error}", err=True)
    else:
        click.echo(f"standard-JSON inputs written to {result.path.with_suffix('')}/ (check with `ape run verify`)")


def _dry_run(provider, account, permissioned, admin_delay, roles, options) -> None:
    from ape.exceptions import ApeException

    from tonne.core.units import format_ether

    try:
        plan = run_dry(
            project, provider, account, permissioned=permissioned, admin_delay=admin_delay, roles=roles, options=options
        )
    except (ApeException, RuntimeError) as exc:
        raise click.ClickException(f"dry run failed: {exc}") from exc
    click.echo(
        f"dry run: the deployment measured on a fork of chain {plan.chain_id} at block {plan.block}, from "
        f"{plan.deployer} (nonce {plan.nonce}); nothing was signed or sent"
    )
    for tx in plan.transactions:
        click.echo(f"  {tx.label:48} {tx.gas:>12,} gas")
    gwei = plan.gas_price / 10**9
    click.echo(
        f"{len(plan.transactions)} transactions, {plan.gas:,} gas; at {gwei:,.9g} gwei (the chain's gas price now): "
        f"{format_ether(plan.cost)} ETH"
    )
    if plan.balance >= plan.cost:
        click.echo(f"the deployer holds {format_ether(plan.balance)} ETH: enough at this gas price")
    else:
        click.echo(
            f"the deployer holds {format_ether(plan.balance)} ETH: fund it with at least "
            f"{format_ether(plan.cost - plan.balance)} ETH more before deploying"
        )


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "deploy")
