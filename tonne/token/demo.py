"""The token's demo steps: the KYC allowlist, then trading between allowlisted accounts and the refusals a
regulated deployment must make (an account not on the allowlist, a frozen account, a suspended project)."""

from __future__ import annotations

from tonne.core.demo import DemoContext, expect_refusal, short
from tonne.core.ids import describe
from tonne.core.units import tonnes_to_units
from tonne.registry.ops import ProjectStatus


def allowlist(ctx: DemoContext) -> None:
    actors = ctx.actors
    ctx.gas.add("allowlist", ctx.credit.setAllowed([b.address for b in actors.buyers], True, sender=actors.compliance))
    for buyer in actors.buyers:
        ctx.echo(f"      allowed {buyer.address}")


def trade(ctx: DemoContext) -> None:
    registry, credit, actors, gas, echo = ctx.registry, ctx.credit, ctx.actors, ctx.gas, ctx.echo
    token_ids, project_ids = ctx.token_ids, ctx.project_ids
    a, b, c = actors.buyers
    vcs_2021 = token_ids[0]
    gas.add("transfer", credit.safeTransferFrom(a, b, vcs_2021, tonnes_to_units(250), b"", sender=a))
    echo(f"      {short(a)} -> {short(b)}: 250 t of {describe(vcs_2021)}")
    gas.add(
        "batch transfer",
        credit.safeBatchTransferFrom(
            b, c, [token_ids[2], vcs_2021], [tonnes_to_units("100.5"), tonnes_to_units(40)], b"", sender=b
        ),
    )
    echo(f"      {short(b)} -> {short(c)}: 100.5 t of {describe(token_ids[2])} and 40 t of {describe(vcs_2021)}")
    refusal = expect_refusal(lambda: credit.safeTransferFrom(a, actors.outsider, vcs_2021, 1000, b"", sender=a))
    echo(f"      refused, to an account not on the allowlist: {refusal}")
    gas.add("freeze", credit.setFrozen(c, True, "court order 2026/17", sender=actors.regulator))
    refusal = expect_refusal(lambda: credit.safeTransferFrom(c, a, token_ids[3], 1000, b"", sender=c))
    echo(f"      refused, from a frozen account: {refusal}")
    gas.add("unfreeze", credit.setFrozen(c, False, "order lifted", sender=actors.regulator))
    gas.add(
        "suspend project",
        registry.setProjectStatus(
            project_ids[2], ProjectStatus.SUSPENDED, "reversal under investigation", sender=actors.registrar
        ),
    )
    refusal = expect_refusal(lambda: credit.safeTransferFrom(c, a, token_ids[3], 1000, b"", sender=c))
    echo(f"      refused, credits of a suspended project: {refusal}")
    gas.add(
        "approve project",
        registry.setProjectStatus(
            project_ids[2], ProjectStatus.APPROVED, "investigation closed", sender=actors.registrar
        ),
    )
    gas.add("transfer", credit.safeTransferFrom(c, a, token_ids[3], tonnes_to_units(10), b"", sender=c))
    echo(f"      after reinstatement: {short(c)} -> {short(a)}: 10 t of {describe(token_ids[3])}")
