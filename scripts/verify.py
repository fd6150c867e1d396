"""Check a deployment against its sources: the code at each recorded address is exactly what the stored standard-JSON
input compiles to (immutables blanked), and each deploy transaction is that creation code with the recorded
constructor arguments. Compiling is offline (the recorded solc version); the chain is only read.

ape run verify --network ethereum:sepolia:https://RPC
ape run verify --network http://127.0.0.1:8545 --contract CarbonCredit --contract CarbonRegistry
ape run verify --record deployments/11155111.7412345.json --network ethereum:sepolia:https://RPC

It reads deployments/<chainId>.json of the chain it is connected to (or --record) and the inputs beside it
(deployments/<chainId>/<Contract>.input.json). Exit status: 0 when every contract matches, 1 when one does not or
an input is missing or malformed.
"""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand


class _Chain:
    """What the check reads from the node: code, and deploy transactions with their receipts."""

    def __init__(self, provider):
        self.w3 = provider.web3

    def code(self, address: str) -> bytes:
        return bytes(self.w3.eth.get_code(address))

    def deploy_tx(self, tx_hash: str) -> dict | None:
        from web3.exceptions import TransactionNotFound

        try:
            tx = self.w3.eth.get_transaction(tx_hash)
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None
        return {"input": bytes(tx["input"]), "contractAddress": receipt["contractAddress"]}


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--record",
    type=click.Path(path_type=Path),
    default=None,
    help="Deployment record to check [default: deployments/<chainId>.json of the connected chain].",
)
@click.option("--contract", "only", multiple=True, metavar="NAME", help="Check only this contract (repeatable).")
@click.option(
    "--solc",
    type=click.Path(path_type=Path),
    default=None,
    help="solc binary to compile with [default: solc-v<recorded version> in SOLCX_BINARY_PATH].",
)
def cli(provider, record, only, solc):
    """Recompile each recorded contract from its stored standard-JSON input and compare it with the chain."""
    from requests.exceptions import RequestException

    from tonne.core.deployments import DeploymentError, read_record, read_record_file, record_path
    from tonne.core.verification import VerificationError, inputs_of, load_input, solc_binary, verify_contract

    chain_id = provider.chain_id
    path = record or record_path(chain_id)
    try:
        data = read_record_file(path, chain_id) if record else read_record(chain_id)
    except DeploymentError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        inputs = inputs_of(data, path.parent, tuple(only))
    except VerificationError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    folders = {p.parent for p in inputs.values()}
    for folder in sorted(folders):
        if not folder.is_dir():
            raise click.ClickException(
                f"{folder}: no such folder of standard-JSON inputs (named by {path}); `ape run deploy` writes it "
                "beside the record: copy it along with the record"
            )
    problems, loaded = [], {}
    for name, input_path in inputs.items():
        try:
            loaded[name] = load_input(input_path)
        except VerificationError as exc:
            problems.append(str(exc))
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{len(problems)} input(s) unusable; nothing was compiled")
    try:
        binary = solc_binary(data["compiler"]["version"], solc)
    except (KeyError, TypeError) as exc:
        raise click.ClickException(f"{path}: compiler.version: missing") from exc
    except VerificationError as exc:
        raise click.ClickException(str(exc)) from exc

    chain, results = _Chain(provider), []
    for i, (name, input_data) in enumerate(loaded.items(), 1):
        click.echo(f"checking {name} ({i}/{len(loaded)}): compiling its input ...", err=True)
        try:
            results.append(verify_contract(name, data["contracts"][name], input_data, binary, chain, str(inputs[name])))
        except VerificationError as exc:
            raise click.ClickException(str(exc)) from exc
        except (RequestException, OSError) as exc:
            raise click.ClickException(f"lost the node while checking {name}: {exc}") from exc
    click.echo(f"{'contract':20} {'address':42}  {'runtime code':30} creation (tx input)")
    for r in results:
        runtime = r.runtime + (f" ({r.immutables} immutables blanked)" if r.runtime == "match" and r.immutables else "")
        click.echo(f"{r.name:20} {r.address:42}  {runtime:30} {r.creation}")
    failed = [r.name for r in results if not r.ok]
    version = data["compiler"]["version"]
    if failed:
        click.echo(f"{len(failed)} of {len(results)} do NOT match their sources: {', '.join(failed)}", err=True)
        raise SystemExit(1)
    click.echo(f"all {len(results)} contracts match their sources (solc {version}, chain {chain_id})")


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "verify")
