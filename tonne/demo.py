"""The main job: the whole credit lifecycle so far, on whatever chain ape is connected to (local Anvil by default).

Deploys the suite in permissioned mode, then runs every module's demo steps (``tonne.modules``, in the order of
their ``at``): registers and approves projects at three standards, adds batches (one out of serial order, one
refused by the on-chain overlap guard), verifies them, puts buyers on the KYC allowlist, issues credits from a CSV
file with the resumable issuance tool, moves credits between KYC'd accounts, shows the refusals a regulated
deployment must make, retires credits (one batch, two batches in one certificate, and an issue-and-retire), prints
each certificate's data, writes one rendered certificate, and prints a summary; then the market, pledge and
bridge steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tonne.certificate import DEFAULT_OUT
from tonne.core.demo import Actors, DemoContext, Ledger, short
from tonne.core.ids import describe
from tonne.core.report import table
from tonne.core.units import format_tonnes
from tonne.deploy import deploy_and_record
from tonne.modules import MODULES, Step, load, steps
from tonne.registry.ops import ProjectStatus
from tonne.registry.suite import REGISTRY_ROLES, TOKEN_ROLES

SUMMARY = Step(80, "tonne.demo:summary", "Summary")


def run_demo(
    project: Any,
    provider: Any,
    accounts: list[Any],
    echo: Callable[[str], None] = print,
    *,
    out: Path | str = DEFAULT_OUT,
) -> dict[str, Any]:
    """Run the whole demo and return its summary (also printed through ``echo``); one rendered certificate is
    written under ``out``."""
    ctx = DemoContext(project, provider, Actors.from_accounts(accounts), echo, out)
    story = steps("demo", extra=(SUMMARY,))
    numbered = 1 + sum(1 for step in story if step.title)
    echo(f"[1/{numbered}] Deploying the suite (permissioned mode)")
    _deploy(ctx)
    number = 1
    for step in story:
        if step.title:
            number += 1
            echo(f"[{number}/{numbered}] {step.title}")
        load(step.run)(ctx)
    return ctx.result


def _deploy(ctx: DemoContext) -> None:
    actors = ctx.actors
    roles = {
        "REGISTRAR_ROLE": [actors.registrar],
        "VERIFIER_ROLE": [actors.verifier],
        "ISSUER_ROLE": [actors.issuer],
        "COMPLIANCE_ROLE": [actors.compliance],
        "REGULATOR_ROLE": [actors.regulator],
    }
    assert set(roles) == set(REGISTRY_ROLES + TOKEN_ROLES)
    provider = ctx.provider
    network = f"{provider.network.ecosystem.name}:{provider.network.name}:{provider.name}"
    options = {m.name: load(m.demo_options)(actors.admin) for m in MODULES if m.demo_options}
    ctx.deployed = deployed = deploy_and_record(
        ctx.project, provider, network, actors.admin, permissioned=True, roles=roles, options=options
    )
    for receipt in deployed.suite.receipts.values():
        ctx.gas.add("deploy", receipt)
    for name, entry in deployed.record["contracts"].items():
        ctx.echo(f"      {name:15} {entry['address']}")
    ctx.echo(f"      record: {deployed.path}" + (f" ({deployed.replaced})" if deployed.replaced else ""))
    ctx.start_block = min(e["blockNumber"] for e in deployed.record["contracts"].values())


def summary(ctx: DemoContext) -> None:
    """The tables of projects, batches, holders, certificates and gas; they open the demo's result."""
    ctx.result.update(
        _summary(ctx.registry, ctx.credit, ctx.project_ids, ctx.token_ids, ctx.actors, ctx.gas, ctx.certificates)
    )
    for block in ctx.result["tables"]:
        ctx.echo("")
        ctx.echo(block)


def _summary(registry, credit, project_ids, token_ids, actors, gas: Ledger, certificates=()) -> dict[str, Any]:
    projects = []
    for project_id in project_ids:
        p = registry.project(project_id)
        projects.append(
            [
                project_id,
                f"{p.standard}:{p.externalId}",
                p.name,
                bytes(p.country).decode(),
                ProjectStatus(p.status).name.title(),
                p.batchCount,
            ]
        )
    batches, holders = [], []
    holder_accounts = actors.buyers + [actors.outsider]
    for token_id in token_ids:
        b = registry.batch(token_id)
        supply = credit.totalSupply(token_id)
        balances = [credit.balanceOf(h, token_id) for h in holder_accounts]
        assert sum(balances) == supply, f"balances of {describe(token_id)} do not add up to its supply"
        batches.append(
            [
                describe(token_id),
                b.issuanceReference,
                f"{b.serialFirst}-{b.serialLast}",
                format_tonnes(credit.issuanceCap(token_id)),
                format_tonnes(credit.totalIssued(token_id)),
                format_tonnes(credit.totalRetired(token_id)),
                format_tonnes(supply),
            ]
        )
        for h, bal in zip(holder_accounts, balances, strict=True):
            if bal:
                holders.append([short(h), describe(token_id), format_tonnes(bal)])
    gas_rows = [[step, len(v), f"{sum(v):,}", f"{sum(v) // len(v):,}"] for step, v in gas.steps.items()]
    total_gas = sum(sum(v) for v in gas.steps.values())
    tables = [
        table(["id", "project", "name", "country", "status", "batches"], projects, title="Projects"),
        table(
            ["batch", "issuance ref", "serials", "quantity", "issued", "retired", "supply"], batches, title="Batches"
        ),
        table(["holder", "batch", "balance"], holders, title="Holders"),
        table(
            ["certificate", "amount", "beneficiary", "batches", "jurisdiction"],
            [
                [f"#{c.certificate_id}", format_tonnes(c.total_units), c.beneficiary_name, len(c.lines), c.jurisdiction]
                for c in certificates
            ],
            title="Retirement certificates",
        ),
        table(["step", "txs", "gas", "gas/tx"], gas_rows, title=f"Gas used: {total_gas:,} in all"),
    ]
    return {
        "projects": projects,
        "batches": batches,
        "holders": holders,
        "certificates": [c.as_dict() for c in certificates],
        "gas": gas.steps,
        "total_gas": total_gas,
        "tables": tables,
    }
