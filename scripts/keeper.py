"""The liquidation keeper: find unhealthy or matured positions from the facility's events and liquidate them.

    ape run keeper --account keeper --network ...          # safe to run on a schedule (cron, systemd timer)
    ape run keeper --dry-run

Idempotent: the chain is its only state. Each liquidation is dry-run first; a position already brought back
to health is skipped; while the account's earlier transactions are pending, a run does nothing.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.core.clihelp import connect_deployment, note, whole_number_option
from tonne.pledge.chain import connect_pledge
from tonne.pledge.ids import describe_class
from tonne.pledge.keeper import Keeper, ape_send


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--dry-run", is_flag=True, help="Find and dry-run liquidations; send nothing.")
@whole_number_option("--max-liquidations", min=1, help="At most this many per run.")
def cli(provider, account, dry_run, max_liquidations):
    """Liquidate every position the facility would accept now."""
    d = connect_deployment(provider, connect_pledge)
    send = ape_send(account, provider)
    keeper = Keeper(
        provider.web3,
        d.facility.address,
        d.record["contracts"]["CreditFacility"]["abi"],
        d.record["contracts"]["CreditPriceOracle"]["abi"],
        account.address,
        send,
        start_block=d.start_block,
        log=note,
    )
    report = keeper.run(dry_run=dry_run, max_liquidations=max_liquidations)
    for item in report.liquidations:
        click.echo(
            f"{'would liquidate' if dry_run else 'liquidated'} position {item.position_id}: repaid "
            f"{d.money(item.repaid)}, received {item.seized} units of {describe_class(item.token_id)}"
            + (f" (tx {item.tx_hash})" if item.tx_hash else "")
        )
    for line in report.skipped:
        click.echo(f"skipped: {line}")
    click.echo(report.describe())


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "keeper")
