"""Relay attested bridge messages to their destination chain, exactly once; safe to kill and run again.

ape run relay --home URL --remote URL --db attestations.sqlite --sender 0x..   (an unlocked dev account)
ape run relay --home URL --remote URL --db attestations.sqlite --key-file relayer.key
ape run relay --home URL --remote URL --db attestations.sqlite --sender 0x.. --batch 1   # one tx per message
"""

import click

from tonne.bridge.cli import chain_options, connect_pair, db_option, open_store, sender_options, sending_account
from tonne.bridge.relay import DEFAULT_BATCH, DEFAULT_GAS_PER_MESSAGE, MAX_GAS_PER_MESSAGE, Relayer
from tonne.core.clihelp import FiniteNumber, whole_number_option


@click.command()
@chain_options
@db_option
@sender_options("Relayer")
@click.option(
    "--poll", type=FiniteNumber(min=0), default=0.5, show_default=True, help="Seconds between passes when idle."
)
@whole_number_option(
    "--batch",
    min=1,
    default=DEFAULT_BATCH,
    help="Messages per delivery transaction (the gateway's deliverBatch), e.g. --batch 50; "
    "1 sends one `deliver` transaction per message.",
)
@whole_number_option(
    "--gas-per-message",
    min=100_000,
    max=MAX_GAS_PER_MESSAGE,
    default=DEFAULT_GAS_PER_MESSAGE,
    help="Gas (units) each message of a batch runs with, e.g. 600000; a message needing more is delivered alone; "
    "a delivery of one message must fit the chains' blocks.",
)
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option(
    "--until-idle", type=FiniteNumber(min=0), default=None, help="Exit after this many seconds with nothing to do."
)
def cli(home, remote, record, db, sender, key_file, poll, batch, gas_per_message, once, until_idle):
    """Deliver every message with enough attestations; show progress and lag."""
    pair = connect_pair(home, remote, record)
    account = sending_account([pair.home.w3, pair.remote.w3], sender, key_file)
    relayer = Relayer(pair, open_store(db), account, log=click.echo, batch=batch, gas_per_message=gas_per_message)
    for name, limit in relayer.unfit_chains():
        raise click.BadParameter(
            f"{gas_per_message:,} gas a message needs a {relayer.batch_gas(1):,}-gas delivery, more than the {name} "
            f"chain's block gas limit of {limit:,}",
            param_hint="--gas-per-message",
        )
    relayer.run(poll=poll, once=once, until_idle=until_idle)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "relay")
