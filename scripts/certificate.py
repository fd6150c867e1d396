"""Render retirement certificates from chain data alone; see docs/retirement.md, "Certificate documents".

ape run certificate --id 12 --network ethereum:sepolia:node
ape run certificate --tx 0x5c50...e1 [--out out/certificates] --network http://127.0.0.1:8545

Writes certificate-<chainId>-<id>.svg (one page), .html (the page, every field in full, how to verify) and .json
(the data) for each certificate, and prints the data. Reads only; needs no account.
"""

import click
from ape.cli import ConnectedProviderCommand

from tonne.certificate import DEFAULT_OUT, CertificateError, load_deployed, write_documents
from tonne.core.clihelp import connect_deployment, run_action, whole_number_option


def _tx_hash(ctx, param, value):
    if value is None:
        return None
    text = value.strip().lower()
    if len(text) != 66 or not text.startswith("0x") or any(c not in "0123456789abcdef" for c in text[2:]):
        raise click.BadParameter(f"{value!r} is not a transaction hash (0x followed by 64 hex digits)")
    return text


@click.command(cls=ConnectedProviderCommand)
@whole_number_option("--id", "certificate_id", min=1, help="The certificate id.")
@click.option("--tx", "tx_hash", callback=_tx_hash, help="A transaction that retired credits (all its certificates).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=str),
    default=str(DEFAULT_OUT),
    show_default=True,
    help="Folder for the documents.",
)
def cli(provider, certificate_id, tx_hash, out):
    """Write SVG and HTML certificate documents (and the data as JSON), from the chain alone."""
    if (certificate_id is None) == (tx_hash is None):
        raise click.UsageError("give --id or --tx (one of them)")
    deployed = connect_deployment(provider)
    certificates = run_action(
        lambda: load_deployed(deployed, certificate_id=certificate_id, tx_hash=tx_hash), known=(CertificateError,)
    )
    for data in certificates:
        click.echo(data.describe())
        for kind, path in write_documents(data, out).items():
            click.echo(f"  {kind:<5} {path}")


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "certificate")
