"""Deploy the bridge between the home chain (where the Tonne suite is deployed) and a remote chain.

ape run bridge_deploy --home http://127.0.0.1:8545 --remote http://127.0.0.1:8546 --sender 0x.. \
    --validator 0x.. --validator 0x.. --validator 0x.. --threshold 2

Reads the home suite's record (deployments/<homeChainId>.json) and writes deployments/bridge-<home>-<remote>.json.
In permissioned mode it puts the home bridge on the allowlist when the sender holds COMPLIANCE_ROLE.
"""

from functools import partial
from pathlib import Path

import click

from tonne.bridge.cli import chain_options, connect_both, sender_options, sending_account
from tonne.bridge.deploy import (
    DEFAULT_LIMIT,
    WINDOW_SECONDS,
    BridgeDeployError,
    archive_record,
    deploy_bridge_pair,
    live_record,
    record_path,
    require_artifacts,
    transact,
    write_record,
)
from tonne.core.clihelp import run_action, whole_number_option
from tonne.core.deployments import DeploymentError, deployments_dir, read_record

EPILOG = """\b
Example:
  ape run bridge_deploy --home http://127.0.0.1:8545 --remote http://127.0.0.1:8546 \\
      --sender 0xf39F... --validator 0xA.. --validator 0xB.. --validator 0xC.. --threshold 2 \\
      --window 86400 --limit 1000000000
"""

_run = partial(run_action, known=(BridgeDeployError, DeploymentError))


@click.command(epilog=EPILOG)
@chain_options
@sender_options("Admin")
@click.option("--validator", "validators", multiple=True, required=True, help="Validator address (repeat, N).")
@whole_number_option("--threshold", min=1, required=True, help="Signatures per delivery (M).")
@whole_number_option("--window", min=1, default=WINDOW_SECONDS, help="Length of the rate-limit window, in seconds.")
@whole_number_option(
    "--limit",
    default=DEFAULT_LIMIT,
    help="Most token units (1 unit = 1 kg; 1000 = 1 t) bridged per credit id per window.",
)
@click.option("--force", is_flag=True, help="Deploy even though a live bridge is recorded; the old record is kept.")
def cli(home, remote, record, sender, key_file, validators, threshold, window, limit, force):
    """Deploy gateways, home bridge, mirror and remote bridge, link them, and write the bridge record."""
    _run(require_artifacts)
    home_w3, remote_w3 = connect_both(home, remote)
    admin = sending_account([home_w3, remote_w3], sender, key_file)
    suite = _run(partial(read_record, home_w3.eth.chain_id))
    if threshold > len(validators):
        raise click.ClickException(f"--threshold {threshold} is more than the {len(validators)} validators given")
    path = Path(record) if record else record_path(deployments_dir(), home_w3.eth.chain_id, remote_w3.eth.chain_id)
    live = live_record(path, home_w3, remote_w3)
    if live and not force:
        raise click.ClickException(
            f"{path} records a live bridge ({live}). Use it, or pass --force to deploy a second one "
            "(the old record is kept beside it)."
        )
    credit = suite["contracts"]["CarbonCredit"]["address"]
    pair = _run(
        partial(
            deploy_bridge_pair,
            home_w3,
            remote_w3,
            credit,
            home_admin=admin,
            remote_admin=admin,
            validators=list(validators),
            threshold=threshold,
            window_seconds=window,
            default_limit=limit,
            pauser=(admin, admin),
        )
    )
    if suite["config"]["mode"] == "permissioned":
        token = pair.home.token.functions
        if token.hasRole(token.COMPLIANCE_ROLE().call(), admin).call():
            transact(home_w3, token.setAllowed([pair.home.bridge.address], True), admin)
            click.echo(f"home bridge {pair.home.bridge.address} put on the allowlist")
        else:
            click.echo(f"permissioned token: COMPLIANCE must allowlist the home bridge {pair.home.bridge.address}")
    if live:
        click.echo(f"the live record is kept as {archive_record(path)}")
    path = write_record(pair, path.parent, path=path)
    click.echo(f"bridge {pair.home.chain_id} <-> {pair.remote.chain_id} recorded in {path}")


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "bridge_deploy")
