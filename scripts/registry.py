"""Registry administration: projects, statuses, issuers and batches.

    ape run registry register --standard VCS --external-id 1234 --name "..." --methodology VM0007 \
        --type REDD+ --country BR --region Para --owner 0x.. --metadata-uri ipfs://.. --documents pdd.pdf
    ape run registry approve VCS:1234 --reason "validation report accepted"
    ape run registry suspend VCS:1234 --reason "reversal under investigation"
    ape run registry terminate VCS:1234 --reason "..."
    ape run registry authorize-issuer VCS:1234 0xISSUER [--revoke]
    ape run registry add-batch VCS:1234 --serials 1001-2000 --period 2021-01-01:2021-12-31 --issuance-ref VCU-2021-7
    ape run registry verify-batch VCS:1234 VCU-2021-7
    ape run registry show VCS:1234

Projects are named by numeric id or STANDARD:EXTERNAL_ID; batches by number within the project or by their
issuance reference. Every command takes ape's --network and --account.
"""

from functools import partial
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.core.clihelp import connect_deployment, run_action
from tonne.core.csvinput import parse_address
from tonne.core.ids import describe
from tonne.core.units import format_tonnes
from tonne.registry.ops import (
    InputError,
    ProjectStatus,
    add_batch,
    document_hash,
    parse_period,
    parse_serials,
    project_ranges,
    resolve_batch,
    resolve_project,
)


def _deployed(provider):
    return connect_deployment(provider)


_run = partial(run_action, known=(InputError,))


@click.group()
def cli():
    """Administer the Tonne registry (needs the REGISTRAR or VERIFIER role)."""


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--standard", required=True, help="Standard code, e.g. VCS, GS, CCER.")
@click.option("--external-id", required=True, help="The project's id at the standard.")
@click.option("--name", required=True)
@click.option("--methodology", required=True, help="e.g. VM0007")
@click.option("--type", "project_type", default="", help="Project type, e.g. REDD+, cookstoves.")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2, e.g. BR.")
@click.option("--region", default="")
@click.option("--owner", required=True, help="Project developer's account.")
@click.option("--metadata-uri", required=True, help="Where the project documents live.")
@click.option("--documents", type=click.Path(dir_okay=False, path_type=Path), help="File to hash (SHA-256).")
@click.option("--metadata-hash", help="0x-prefixed 32-byte content hash, if --documents is not given.")
def register(
    provider,
    account,
    standard,
    external_id,
    name,
    methodology,
    project_type,
    country,
    region,
    owner,
    metadata_uri,
    documents,
    metadata_hash,
):
    """Register a project (it starts Pending); every option is checked first, and all bad ones are reported."""
    problems = []
    if bool(documents) == bool(metadata_hash):
        problems.append("--documents / --metadata-hash: give exactly one of them")
    content_hash = b""
    if metadata_hash and not documents:
        try:
            content_hash = bytes.fromhex(metadata_hash.removeprefix("0x"))
        except ValueError:
            content_hash = b"?"
        if len(content_hash) != 32:
            problems.append(f"--metadata-hash {metadata_hash!r}: expected 0x and 64 hex digits (32 bytes)")
    if documents and not metadata_hash:
        if not documents.is_file():
            problems.append(f"--documents {str(documents)!r}: no such file")
        else:
            content_hash = document_hash(documents)
    if len(country) != 2 or not country.isascii() or not country.isupper():
        problems.append(f"--country {country!r}: expected ISO 3166-1 alpha-2 in upper case, e.g. BR")
    try:
        owner = parse_address(owner.strip())
    except ValueError as exc:
        problems.append(f"--owner {owner!r}: {exc}")
    if problems:
        raise click.UsageError("; ".join(problems) + ". Nothing was sent")
    d = _deployed(provider)
    existing = int(d.registry.projectIdOf(standard, external_id))
    if existing:
        raise click.ClickException(
            f"--standard {standard} --external-id {external_id}: already registered as project {existing} "
            f"(RegistryDuplicateProject); see `ape run registry show {existing}`. Nothing was sent"
        )
    receipt = _run(
        lambda: d.registry.registerProject(
            dict(
                standard=standard,
                externalId=external_id,
                name=name,
                methodology=methodology,
                projectType=project_type,
                country=country.encode(),
                region=region,
                owner=owner,
                metadataURI=metadata_uri,
                metadataHash=content_hash,
            ),
            sender=account,
        )
    )
    project_id = next(iter(receipt.decode_logs(d.registry.ProjectRegistered))).projectId
    click.echo(f"registered project {project_id} ({standard}:{external_id}), status Pending")


def _status_command(name: str, status: ProjectStatus, help_text: str):
    @cli.command(name=name, cls=ConnectedProviderCommand, help=help_text)
    @account_option()
    @click.argument("project")
    @click.option("--reason", required=True, help="Why; recorded in the event.")
    def command(provider, account, project, reason):
        d = _deployed(provider)
        project_id = _run(lambda: resolve_project(d.registry, project))
        _run(lambda: d.registry.setProjectStatus(project_id, int(status), reason, sender=account))
        click.echo(f"project {project_id} is now {status.name.title()}")

    return command


_status_command("approve", ProjectStatus.APPROVED, "Approve a Pending project, or reinstate a Suspended one.")
_status_command("suspend", ProjectStatus.SUSPENDED, "Suspend an Approved project: its credits stop moving.")
_status_command("terminate", ProjectStatus.TERMINATED, "Terminate a project, for good.")


@cli.command(name="authorize-issuer", cls=ConnectedProviderCommand)
@account_option()
@click.argument("project")
@click.argument("issuer")
@click.option("--revoke", is_flag=True, help="Withdraw the authorisation instead.")
def authorize_issuer(provider, account, project, issuer, revoke):
    """Authorise ISSUER (who also needs ISSUER_ROLE) to issue credits of PROJECT."""
    try:
        issuer = parse_address(issuer.strip())
    except ValueError as exc:
        raise click.UsageError(f"ISSUER {issuer!r}: {exc}. Nothing was sent") from exc
    d = _deployed(provider)
    project_id = _run(lambda: resolve_project(d.registry, project))
    _run(lambda: d.registry.setProjectIssuer(project_id, issuer, not revoke, sender=account))
    click.echo(f"{issuer} {'may no longer' if revoke else 'may now'} issue credits of project {project_id}")


@cli.command(name="add-batch", cls=ConnectedProviderCommand)
@account_option()
@click.argument("project")
@click.option("--serials", required=True, help="Serial range FIRST-LAST at the standard; one serial per tonne.")
@click.option("--period", required=True, help="Monitoring period START:END, ISO dates.")
@click.option("--issuance-ref", required=True, help="The standard's issuance reference; usable once ever.")
@click.option("--metadata-uri", default="", help="Batch metadata, served as the token's uri(id).")
def add_batch_command(provider, account, project, serials, period, issuance_ref, metadata_uri):
    """Add a batch (vintage) to an Approved project; it holds no credits until verified."""
    d = _deployed(provider)
    project_id = _run(lambda: resolve_project(d.registry, project))
    first, last = _run(lambda: parse_serials(serials))
    start, end = _run(lambda: parse_period(period))
    receipt, _ = _run(
        lambda: add_batch(
            d.registry,
            project_id,
            (first, last),
            (start, end),
            issuance_ref,
            metadata_uri,
            sender=account,
            start_block=d.start_block,
        )
    )
    token_id = next(iter(receipt.decode_logs(d.registry.BatchAdded))).id
    click.echo(
        f"added batch {describe(token_id)} (token id {token_id}), serials {first}-{last}, "
        f"{last - first + 1:,} t; awaiting verification"
    )


@cli.command(name="verify-batch", cls=ConnectedProviderCommand)
@account_option()
@click.argument("project")
@click.argument("batch")
def verify_batch(provider, account, project, batch):
    """Verify BATCH (number or issuance reference) of PROJECT so that it can be issued."""
    d = _deployed(provider)
    project_id = _run(lambda: resolve_project(d.registry, project))
    token_id = _run(lambda: resolve_batch(d.registry, project_id, batch))
    _run(lambda: d.registry.verifyBatch(token_id, sender=account))
    click.echo(
        f"verified batch {describe(token_id)}: up to {format_tonnes(d.credit.issuanceCap(token_id))} may now be issued"
    )


@cli.command(cls=ConnectedProviderCommand)
@click.argument("project")
def show(provider, project):
    """Print a project and its batches."""
    d = _deployed(provider)
    project_id = _run(lambda: resolve_project(d.registry, project))
    p = d.registry.project(project_id)
    click.echo(f"project {project_id}: {p.standard}:{p.externalId} {p.name!r}")
    click.echo(
        f"  status {ProjectStatus(p.status).name.title()}, methodology {p.methodology}, type {p.projectType}, "
        f"country {bytes(p.country).decode()}, region {p.region}, owner {p.owner}"
    )
    click.echo(f"  documents v{p.documentVersion}: {p.metadataURI} sha256 0x{bytes(p.metadataHash).hex()}")
    for r in project_ranges(d.registry, project_id, d.start_block):
        token_id = (project_id << 64) | r.batch_number
        b = d.registry.batch(token_id)
        state = "verified" if b.verified else "unverified"
        click.echo(
            f"  batch {describe(token_id)} serials {r.first}-{r.last} ({state}) ref {b.issuanceReference}: "
            f"issued {format_tonnes(d.credit.totalIssued(token_id))} of "
            f"{format_tonnes((r.last - r.first + 1) * 1000)}"
        )


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "registry")
