"""Send the home chain's rules (pause, permissioned mode, allowlist, freezes, project restrictions) to the mirror.

ape run sync-rules --home URL --remote URL --sender 0x.. --account 0xHOLDER --project 3
ape run sync-rules --home URL --remote URL --key-file admin.key --account 0xA --account 0xB --no-token

Only keys whose home state differs from the last one sent go out (one attested message per 64 keys); the
validators attest it and the relayer delivers it like a transfer. Exits 0 with "in sync" when nothing changed.
"""

import click

from tonne.bridge.cli import chain_options, connect_pair, key_file_option, sending_account
from tonne.bridge.sync import sync_rules
from tonne.core.clihelp import WholeNumber


@click.command()
@chain_options
@click.option("--account", "accounts", multiple=True, help="Home account whose allowlist and freeze to send.")
@click.option(
    "--project", "projects", multiple=True, type=WholeNumber(min=0), help="Project id whose restriction to send."
)
@click.option("--token/--no-token", default=True, show_default=True, help="Also send pause and permissioned mode.")
@click.option("--sender", help="Account unlocked on the home node that pays the gas (anyone may sync).")
@key_file_option("Sender")
def cli(home, remote, record, accounts, projects, token, sender, key_file):
    """Sync the home rules of the given accounts and projects to the remote mirror."""
    pair = connect_pair(home, remote, record)
    account = sending_account([pair.home.w3], sender, key_file)
    result = sync_rules(pair, account, accounts, projects, token)
    if not result.count:
        click.echo("in sync: nothing to send")
        return
    sent = (["token"] if result.token else []) + result.accounts + [f"project {p}" for p in result.projects]
    for mid in result.message_ids:
        click.echo(f"sent rules message 0x{mid.hex()}")
    click.echo(f"{result.count} key(s): {', '.join(sent)}")


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "sync-rules")
