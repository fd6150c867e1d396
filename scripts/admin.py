"""Administer a deployment: roles, the allowlist, freezes, pause, and the two-step admin transfer.

    ape run admin roles                                          # every role, its contract and its holders
    ape run admin grant ISSUER 0xISSUER --account admin          # granted on the contract that checks it
    ape run admin revoke COMPLIANCE 0x.. --account admin
    ape run admin allow --csv kyc.csv --account compliance       # column `account` (and an optional `note`)
    ape run admin allow 0xA.. 0xB.. [--revoke] --account compliance
    ape run admin freeze 0x.. --reason "court order 2026/114" --account regulator
    ape run admin unfreeze 0x.. --reason "order lifted" --account regulator
    ape run admin pause --account regulator / ape run admin unpause --account regulator
    ape run admin transfer-admin --contract registry 0xNEW --account admin   # then, after the delay:
    ape run admin accept-admin --contract registry --account new-admin

Who may: grant/revoke, the contract's DEFAULT_ADMIN; allow, COMPLIANCE (token); freeze and pause, REGULATOR
(token). Every command checks the input and the sender's role on the chain before sending anything, and a
command that finds nothing to change sends nothing.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.bulk.chain import pinned
from tonne.chain.errors import ToolError
from tonne.chain.refusal import role_name
from tonne.chain.view import ChainView
from tonne.core.clihelp import connect_deployment, run_action, whole_number_option
from tonne.registry.admin import (
    DEFAULT_ADMIN,
    allowlist_changes,
    parse_account,
    parse_nonzero_account,
    read_allowlist,
    require_allowlist,
    require_role,
    resolve_contract,
    resolve_role,
    role_admin_check,
    role_holders,
    role_id,
    role_names,
    set_allowed,
)


def _deployed(provider):
    return connect_deployment(provider)


def _contracts(d) -> dict:
    return {
        "CarbonRegistry": d.registry,
        "CarbonCredit": d.credit,
        "CarbonRetirement": d.retirement,
        "CompliancePeriods": d.compliance,
    }


def _run(action):
    return run_action(action, (ToolError,), lambda exc: exc.report())


@click.group()
def cli():
    """Administer a Tonne deployment (roles, allowlist, freeze, pause, admin transfer)."""


@cli.command(cls=ConnectedProviderCommand)
def roles(provider):
    """List every role with the contract that checks it and its holders (rebuilt from RoleGranted/RoleRevoked)."""
    d = _deployed(provider)
    names = role_names()
    stop = provider.get_block("latest").number + 1
    for contract_name, contract in _contracts(d).items():
        holders = role_holders(contract, d.start_block, stop)
        click.echo(f"{contract_name} {contract.address}")
        if not any(holders.values()):
            click.echo("  (no roles held)")
        for role, accounts in sorted(holders.items(), key=lambda item: names.get(item[0], "~")):
            for account in sorted(accounts):
                click.echo(f"  {names.get(role) or role_name(role).removesuffix('_ROLE'):<17} {account}")


def _role_command(name: str, grant: bool):
    verb = "grant" if grant else "revoke"

    @cli.command(
        name=name,
        cls=ConnectedProviderCommand,
        help=f"{verb.capitalize()} ROLE (ISSUER, REGISTRAR, COMPLIANCE, ...) {'to' if grant else 'from'} MEMBER.",
    )
    @account_option()
    @click.argument("role")
    @click.argument("member")
    @click.option("--contract", help="registry, token, retirement or compliance; found from the role if omitted.")
    def command(provider, account, role, member, contract):
        ref = _run(lambda: resolve_role(role, contract))
        if grant:  # a role granted to the zero address is never usable; revoking from it is harmless
            member_address = _run(lambda: parse_nonzero_account(member, "MEMBER", ref.name))
        else:
            member_address = _run(lambda: parse_account(member, "MEMBER"))
        d = _deployed(provider)
        target = _contracts(d)[ref.contract]
        _run(lambda: role_admin_check(target, ref, account.address))
        if bool(target.hasRole(ref.role_id, member_address)) == grant:
            click.echo(f"{member_address} {'already holds' if grant else 'does not hold'} {ref.name} on {ref.contract}")
            return
        action = target.grantRole if grant else target.revokeRole
        _run(lambda: action(ref.role_id, member_address, sender=account))
        click.echo(
            f"{verb}ed {ref.name} on {ref.contract} ({target.address}) {'to' if grant else 'from'} {member_address}"
        )

    return command


_role_command("grant", True)
_role_command("revoke", False)


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("accounts", nargs=-1)
@click.option(
    "--csv", "csv_path", type=click.Path(exists=True, dir_okay=False), help="CSV file with an `account` column."
)
@click.option("--revoke", is_flag=True, help="Take the accounts off the allowlist instead.")
@whole_number_option("--chunk-size", min=1, default=200, help="Accounts per transaction, e.g. --chunk-size 100.")
def allow(provider, account, accounts, csv_path, revoke, chunk_size):
    """Put ACCOUNTS (or the accounts of --csv) on the token's allowlist (COMPLIANCE role), or take them off."""
    if bool(accounts) == bool(csv_path):
        raise click.UsageError("give either ACCOUNTS or --csv FILE")
    if csv_path:
        listed = _run(lambda: read_allowlist(csv_path))
    else:
        listed = [_run(lambda a=a, i=i: parse_account(a, f"ACCOUNTS[{i}]")) for i, a in enumerate(accounts, 1)]
        listed = list(dict.fromkeys(listed))
    d = _deployed(provider)
    _run(lambda: require_allowlist(d.credit))
    _run(lambda: require_role(d.credit, "CarbonCredit", role_id("COMPLIANCE"), "COMPLIANCE", account.address))
    view = ChainView(provider.web3)
    with pinned(view, None, 0):
        changes = allowlist_changes(view, str(d.credit.address), listed, not revoke)
    if not changes:
        click.echo(f"nothing to change: all {len(listed)} accounts are already {'off' if revoke else 'on'} the list")
        return
    sent = _run(lambda: set_allowed(d.credit, view, changes, not revoke, account, chunk_size=chunk_size))
    click.echo(
        f"{'removed' if revoke else 'allowed'} {sent} accounts "
        f"({len(listed) - sent} already {'off' if revoke else 'on'} the list)"
    )


def _freeze_command(name: str, frozen: bool):
    @cli.command(
        name=name,
        cls=ConnectedProviderCommand,
        help=f"{'Freeze' if frozen else 'Unfreeze'} TARGET on the credit token (REGULATOR role).",
    )
    @account_option()
    @click.argument("target")
    @click.option("--reason", required=True, help="Why; recorded in the AccountFrozen event.")
    def command(provider, account, target, reason):
        address = _run(lambda: parse_account(target, "TARGET"))
        if not reason.strip():
            raise click.BadParameter("must say why", param_hint="--reason")
        d = _deployed(provider)
        _run(lambda: require_role(d.credit, "CarbonCredit", role_id("REGULATOR"), "REGULATOR", account.address))
        if bool(d.credit.isFrozen(address)) == frozen:
            click.echo(f"{address} is already {'frozen' if frozen else 'not frozen'}")
            return
        _run(lambda: d.credit.setFrozen(address, frozen, reason, sender=account))
        click.echo(f"{'froze' if frozen else 'unfroze'} {address}: {reason}")

    return command


_freeze_command("freeze", True)
_freeze_command("unfreeze", False)


def _pause_command(name: str, paused: bool):
    @cli.command(
        name=name,
        cls=ConnectedProviderCommand,
        help=f"{'Pause' if paused else 'Unpause'} every transfer, issue and retirement (REGULATOR role).",
    )
    @account_option()
    def command(provider, account):
        d = _deployed(provider)
        _run(lambda: require_role(d.credit, "CarbonCredit", role_id("REGULATOR"), "REGULATOR", account.address))
        if bool(d.credit.paused()) == paused:
            click.echo(f"the credit token is already {'paused' if paused else 'running'}")
            return
        _run(lambda: (d.credit.pause if paused else d.credit.unpause)(sender=account))
        click.echo(f"the credit token is now {'paused: no credit moves' if paused else 'running'}")

    return command


_pause_command("pause", True)
_pause_command("unpause", False)


@cli.command(
    name="transfer-admin",
    cls=ConnectedProviderCommand,
)
@account_option()
@click.argument("new_admin")
@click.option("--contract", "contract_name", required=True, help="registry, token, retirement or compliance.")
def transfer_admin(provider, account, new_admin, contract_name):
    """Step 1 of 2: propose NEW_ADMIN (0x address) as the contract's DEFAULT_ADMIN; it accepts after the
    contract's delay (defaultAdminDelay, in seconds; the command prints the unix time it may accept from)."""
    name = _run(lambda: resolve_contract(contract_name))
    address = _run(lambda: parse_nonzero_account(new_admin, "NEW_ADMIN", DEFAULT_ADMIN))
    target = _contracts(_deployed(provider))[name]
    _run(lambda: require_role(target, name, role_id(DEFAULT_ADMIN), DEFAULT_ADMIN, account.address))
    _run(lambda: target.beginDefaultAdminTransfer(address, sender=account))
    pending, schedule = target.pendingDefaultAdmin()
    click.echo(f"{name}: {pending} may accept the admin role from unix time {schedule} (ape run admin accept-admin)")


@cli.command(
    name="accept-admin",
    cls=ConnectedProviderCommand,
)
@account_option()
@click.option("--contract", "contract_name", required=True, help="registry, token, retirement or compliance.")
def accept_admin(provider, account, contract_name):
    """Step 2 of 2: the proposed admin accepts DEFAULT_ADMIN once the delay has passed."""
    name = _run(lambda: resolve_contract(contract_name))
    target = _contracts(_deployed(provider))[name]
    pending, schedule = target.pendingDefaultAdmin()
    if pending != account.address:
        raise click.ClickException(f"{account.address} is not the pending admin of {name} (pending: {pending})")
    now = provider.get_block("latest").timestamp
    if schedule == 0 or now < schedule:
        raise click.ClickException(f"{name}: the transfer can be accepted from unix time {schedule}; it is {now}")
    _run(lambda: target.acceptDefaultAdminTransfer(sender=account))
    click.echo(f"{account.address} is now DEFAULT_ADMIN of {name}")


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "admin")
