"""The main job: `ape run demo` (what `make demo` runs) on a local Anvil chain started and stopped by ape.

Uses the chain's funded development accounts, so it is meant for local or development chains.
"""

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from ape.logging import logger

from tonne.demo import run_demo


@click.command(cls=ConnectedProviderCommand)
def cli(ecosystem, network, provider):
    """Deploy, register, verify, issue from CSV, trade between KYC'd accounts, and print a summary."""
    logger.set_level("WARNING")  # a line per transaction would drown the report
    test_accounts = list(accounts.test_accounts)[:10]
    if len(test_accounts) < 10:
        raise click.ClickException("the demo needs 10 funded development accounts (see ape-config.yaml, test:)")
    click.echo(f"Tonne demo on {ecosystem.name}:{network.name}:{provider.name} (chain {provider.chain_id})")
    run_demo(project, provider, test_accounts, echo=click.echo)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "demo")
