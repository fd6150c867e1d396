"""The foundation's bench rows: gas per operation of the core suite next to OpenZeppelin baselines
(``tonne.bench.gas``), and the gas of the n-th batch registration, verification, issuance and retirement over
thousands of them (``tonne.bench.constancy``)."""

from __future__ import annotations

import time
from typing import Any

from tonne.bench.common import BenchContext, bench_roles, yes
from tonne.bench.constancy import FIRST_DIFFERS, measure_constancy
from tonne.bench.gas import _register, measure_gas
from tonne.core.report import table
from tonne.registry.suite import deploy_suite


def gas_rows(ctx: BenchContext) -> dict[str, Any]:
    echo = ctx.echo
    echo("Gas per operation (one run, same chain, same conditions for Tonne and OpenZeppelin)")
    report = measure_gas(ctx.project, ctx.accounts)
    ratios = report.ratios()
    echo(table(["operation", "gas"], [[k, f"{v:,}"] for k, v in report.gas.items()]))
    echo("")
    echo(
        table(
            ["comparison", "ratio", "target", "met"],
            [
                [name, f"{r['ratio']:.3f}x", f"<= {r['target']:.2f}x" if r["target"] else "-", yes(r["met"])]
                for name, r in ratios.items()
            ],
        )
    )
    return {"gas": report.gas, "ratios": ratios}


def constancy_rows(ctx: BenchContext) -> dict[str, Any]:
    echo, batches = ctx.echo, ctx.batches
    echo("")
    echo(
        f"Gas of the n-th batch registration, verification, issuance and retirement ({batches:,} batches in one "
        "project, one retirement of each)"
    )
    started = time.perf_counter()
    constancy = _constancy(ctx.project, ctx.provider, ctx.accounts, batches)
    result = {"batches": batches, "seconds": round(time.perf_counter() - started, 1), **constancy}
    rows_out = []
    for op, points in constancy["points"].items():
        for n, p in points.items():
            rows_out.append([op, f"{int(n):,}", f"{p['gas']:,}", f"{p['execution']:,}"])
    echo(table(["operation", "n", "gas used", "execution gas"], rows_out))
    echo(f"execution gas constant from the 2nd to the {batches:,}th: {yes(constancy['constant'])}")
    return {"constancy": result}


def _constancy(project: Any, provider: Any, accounts: list[Any], count: int) -> dict[str, Any]:
    admin, registrar, verifier, issuer = accounts[:4]
    suite = deploy_suite(project, admin, roles=bench_roles(accounts))
    project_id = _register(None, suite.registry, registrar, issuer, accounts[6], "constancy")
    points = measure_constancy(
        provider.uri,
        provider.web3,
        suite.registry,
        suite.credit,
        project_id,
        dict(registrar=registrar, verifier=verifier, issuer=issuer),
        accounts[6],
        count=count,
        retirement=suite.retirement,
    )
    constant = all(
        len({p["execution"] for n, p in pts.items() if not (op in FIRST_DIFFERS and n == 1)}) == 1
        for op, pts in points.items()
    )
    return {"points": {op: {str(n): p for n, p in pts.items()} for op, pts in points.items()}, "constant": constant}
