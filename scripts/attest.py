"""Run one validator: sign every bridge message that checks out against chain data; publish into the store.

ape run attest --home URL --remote URL --key-file validator1.key --db attestations.sqlite
ape run attest ... --ape-account validator1          # or an ape account (keyfile or TEST::n)
"""

import click

from tonne.bridge.attest import run_attester
from tonne.bridge.cli import chain_options, connect_pair, db_option, key_file_option, open_store, validator_signer
from tonne.core.clihelp import FiniteNumber, whole_number_option


@click.command(
    epilog="\b\nExample:\n  ape run attest --home http://127.0.0.1:8545 --remote http://127.0.0.1:8546 "
    "--key-file validator1.key --db attestations.sqlite --confirmations 2"
)
@chain_options
@key_file_option("Validator")
@click.option("--ape-account", help="Validator as an ape account alias (e.g. TEST::1).")
@db_option
@whole_number_option(
    "--confirmations",
    default=0,
    help="Blocks a message's block must have on top of it before it is signed (reorg safety).",
)
@click.option("--poll", type=FiniteNumber(min=0), default=0.5, show_default=True, help="Seconds between scans.")
@click.option("--once", is_flag=True, help="Scan once and exit.")
def cli(home, remote, record, key_file, ape_account, db, confirmations, poll, once):
    """Watch both gateways and attest each bridge message (one process per validator key)."""
    signer = validator_signer(key_file, ape_account)
    pair = connect_pair(home, remote, record)
    run_attester(pair, signer, open_store(db), confirmations=confirmations, poll=poll, once=once, log=click.echo)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "attest")
