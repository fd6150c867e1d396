"""The registry's demo steps: projects registered and approved at three standards, batches added (one out of
serial order, one refused by the on-chain overlap guard) and verified."""

from __future__ import annotations

from tonne.core.demo import DemoContext, expect_refusal
from tonne.core.ids import describe
from tonne.registry.ops import ProjectStatus, add_batch, parse_period

# The projects as registerProject takes them (owner and metadataURI added when registering).
PROJECT_FIELDS = ("standard", "externalId", "name", "methodology", "projectType", "country", "region")
PROJECTS = [
    dict(zip(PROJECT_FIELDS, row, strict=True))
    for row in (
        ("VCS", "VCS-1748", "Kasigau Corridor REDD+", "VM0009", "REDD+", b"KE", "Taita-Taveta"),
        ("GS", "GS-5678", "Efficient Cookstoves Ashanti", "GS-TPDDTEC", "Cookstoves", b"GH", "Ashanti"),
        ("CCER", "CCER-0231", "Inner Mongolia Wind", "CM-001-V02", "Wind", b"CN", "Inner Mongolia"),
    )
]

# (project index, serial range, period, issuance reference): the 2021 vintage comes before 2020 (it goes to
# the head of the serial list) and 2022 after both (appended after 2021), to show the position hints.
BATCHES = [
    (0, (50_001, 120_000), "2021-01-01:2021-12-31", "VCS-VCU-1748-2021"),
    (0, (1, 50_000), "2020-01-01:2020-12-31", "VCS-VCU-1748-2020"),
    (1, (1, 20_000), "2022-01-01:2022-12-31", "GS-VER-5678-2022"),
    (2, (1, 80_000), "2023-01-01:2023-12-31", "CCER-0231-2023"),
    (0, (120_001, 160_000), "2022-01-01:2022-12-31", "VCS-VCU-1748-2022"),
]


def register_projects(ctx: DemoContext) -> None:
    registry, actors, gas, echo = ctx.registry, ctx.actors, ctx.gas, ctx.echo
    for spec in PROJECTS:
        receipt = gas.add(
            "register project",
            registry.registerProject(
                dict(
                    spec,
                    owner=actors.buyers[0],
                    metadataURI=f"ipfs://tonne-demo/{spec['externalId']}",
                    metadataHash=bytes.fromhex("ab" * 32),
                ),
                sender=actors.registrar,
            ),
        )
        project_id = receipt.return_value
        gas.add(
            "approve project",
            registry.setProjectStatus(
                project_id, ProjectStatus.APPROVED, "validation report accepted", sender=actors.registrar
            ),
        )
        gas.add("authorise issuer", registry.setProjectIssuer(project_id, actors.issuer, True, sender=actors.registrar))
        ctx.project_ids.append(project_id)
        echo(f"      project {project_id}: {spec['standard']}:{spec['externalId']} {spec['name']} (Approved)")


def add_batches(ctx: DemoContext) -> None:
    registry, actors, gas, echo, project_ids = ctx.registry, ctx.actors, ctx.gas, ctx.echo, ctx.project_ids
    for index, (first, last), period, reference in BATCHES:
        project_id = project_ids[index]
        receipt, hint = add_batch(
            registry,
            project_id,
            (first, last),
            parse_period(period),
            reference,
            f"ipfs://tonne-demo/batch/{reference}.json",
            sender=actors.registrar,
            start_block=ctx.start_block,
        )
        gas.add("add batch", receipt)
        token_id = receipt.return_value
        gas.add("verify batch", registry.verifyBatch(token_id, sender=actors.verifier))
        ctx.token_ids.append(token_id)
        echo(f"      {describe(token_id)} {reference}: serials {first}-{last}, hint {hint}, verified")
    overlap_error = expect_refusal(
        lambda: registry.addBatch(
            project_ids[0],
            dict(
                serialFirst=49_990,
                serialLast=50_010,
                periodStart=1,
                periodEnd=2,
                issuanceReference="VCS-DUPLICATE",
                metadataURI="",
            ),
            ctx.token_ids[1] & 0xFFFFFFFFFFFFFFFF,
            sender=actors.registrar,
        )
    )
    echo(f"      refused on-chain, serials 49990-50010 of project {project_ids[0]}: {overlap_error}")
