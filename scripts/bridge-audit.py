"""Audit the bridge: per id, home locked = remote supply + remote retired + in flight; every message's state.

ape run bridge-audit --home URL --remote URL [--db attestations.sqlite]

Exits 1 when the books of any id do not balance.
"""

import sys

import click

from tonne.bridge.audit import audit
from tonne.bridge.cli import chain_options, connect_pair, open_store


@click.command()
@chain_options
@click.option("--db", type=click.Path(exists=True, dir_okay=False), help="Attestation store (shows signature counts).")
def cli(home, remote, record, db):
    """Check the cross-chain books and list every message."""
    pair = connect_pair(home, remote, record)
    report = audit(pair, open_store(db) if db else None)
    click.echo(report.render())
    sys.exit(0 if report.ok else 1)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "bridge-audit")
