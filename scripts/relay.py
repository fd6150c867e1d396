"""Relay attested bridge messages to their destination chain, exactly once; safe to kill and run again.

ape run relay --home URL --remote URL --db attestations.sqlite --sender 0x..   (an unlocked dev account)
ape run relay --home URL --remote URL --db attestations.sqlite --key-file relayer.key
"""

import click

from tonne.bridge.cli import chain_options, connect_pair, open_store, sending_account
from tonne.bridge.relay import Relayer


@click.command()
@chain_options
@click.option("--db", type=click.Path(dir_okay=False), required=True, help="The shared attestation store.")
@click.option("--sender", help="Relayer account, unlocked on both nodes.")
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False), help="Relayer private key (hex) file.")
@click.option("--poll", type=float, default=0.5, show_default=True, help="Seconds between passes when idle.")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--until-idle", type=float, default=None, help="Exit after this many seconds with nothing to do.")
def cli(home, remote, record, db, sender, key_file, poll, once, until_idle):
    """Deliver every message with enough attestations; show progress and lag."""
    pair = connect_pair(home, remote, record)
    account = sending_account([pair.home.w3, pair.remote.w3], sender, key_file)
    relayer = Relayer(pair, open_store(db), account, log=click.echo)
    relayer.run(poll=poll, once=once, until_idle=until_idle)


from tonne.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "relay")
