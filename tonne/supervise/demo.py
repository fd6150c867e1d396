"""The demo's supervision steps (``demo_step``, after the pledge's, before the bridge's): the regulator indexes every
event of the deployment's contracts into an SQLite index, rebuilds the books from the events alone and reconciles
them with the chain's state at the index's block, runs the monitor's rules over them, and writes the HTML report.
The demo's flow is the normal scenario: it must reconcile and raise no alert. The report goes to
``out/supervise/report.html``. Everything goes through the code
`ape run supervise` runs. See docs/supervise.md, "The demo".
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tonne.core.demo import DemoContext
from tonne.core.ids import describe
from tonne.core.report import table
from tonne.core.units import format_tonnes
from tonne.supervise.catalog import catalogs_of_file, merged
from tonne.supervise.index import ChainReader, Indexer
from tonne.supervise.ledger import Ledger
from tonne.supervise.monitor import ALERT_HEADERS, alert_row
from tonne.supervise.reconcile import reconcile
from tonne.supervise.report import write_report
from tonne.supervise.rules import RULE_NAMES, evaluate
from tonne.supervise.store import IndexStore

STEPS = 4


def demo_step(ctx: DemoContext) -> None:
    """The supervision steps (see the module's docstring); their summary goes to ``ctx.result["supervise"]``."""
    with tempfile.TemporaryDirectory(prefix="tonne-supervise-demo-") as directory:
        ctx.result["supervise"] = run_supervise_steps(ctx, Path(directory))


def run_supervise_steps(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    echo = ctx.echo
    record = ctx.deployed.record
    chain_id = int(record["chainId"])
    catalog = merged(catalogs_of_file(record, "the demo's record"))[chain_id]
    web3 = ctx.provider.web3

    def step(n: int, title: str) -> None:
        echo(f"[supervise {n}/{STEPS}] {title}")

    echo("")
    step(1, f"The regulator indexes every event of the deployment's {len(catalog.contracts)} contracts")
    store = IndexStore(f"sqlite:///{folder / 'index.sqlite'}")
    indexer = Indexer(store, ChainReader(web3.provider, "the demo chain"), catalog)
    indexer.bind()
    started = time.perf_counter()
    stored = indexer.catch_up()
    seconds = time.perf_counter() - started
    cursor = store.cursor(chain_id)
    echo(
        f"      {stored:,} events of blocks {catalog.start_block:,}..{cursor.block_number:,} in an SQLite index "
        f"({seconds:.2f} s); `ape run supervise index` does the same, and follows the head with --follow"
    )

    step(2, "The books rebuilt from the events alone")
    ledger = Ledger.build(store.events(), store.sources())
    rows = []
    for (chain, token_id), supply in sorted(ledger.supply.items()):
        if not supply.issued:
            continue
        escrow = ledger.escrowed(chain, token_id)
        rows.append([
            describe(token_id),
            format_tonnes(supply.issued),
            format_tonnes(supply.circulating - sum(escrow.values())),
            format_tonnes(escrow.get("pledged", 0)),
            format_tonnes(supply.retired),
            format_tonnes(supply.cancelled),
        ])  # fmt: skip
    echo(table(["id", "issued", "free", "pledged", "retired", "cancelled"], rows))
    echo(
        f"      {len(ledger.certificates)} certificates, {len(ledger.trades)} fills, {len(ledger.positions)} facility "
        f"position(s), {len(ledger.reports)} MRV reports"
    )

    step(3, f"Reconciled with the contracts' views at block {cursor.block_number:,}")
    reader = indexer.reader
    result = reconcile(ledger, {chain_id: reader}, store.sources(), {chain_id: cursor.block_number})
    kinds = ", ".join(f"{kind.removeprefix('reconcile-')} {count}" for kind, count in sorted(result.compared.items()))
    echo(f"      {sum(result.compared.values())} values compared ({kinds}): {len(result.alerts)} mismatch(es)")
    if result.alerts:
        echo(table(ALERT_HEADERS, [alert_row(a) for a in result.alerts]))

    step(4, f"The monitor's {len(RULE_NAMES)} rules over them (the demo's flow is the normal case), and the report")
    now = int(ctx.provider.get_block("latest").timestamp)
    alerts = evaluate(ledger, now=now)
    if alerts:
        echo(table(ALERT_HEADERS, [alert_row(a) for a in alerts]))
    echo(f"      {len(alerts)} alert(s) of the rules: {', '.join(RULE_NAMES)}")
    out = Path(ctx.out).parent / "supervise" / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    money = record["contracts"].get("TestStablecoin")
    decimals = {money["address"]: 6} if money else None  # the demo's test dollar (tUSD, 6 decimals)
    write_report(ledger, result.alerts + alerts, out, sources=store, decimals=decimals,
                 oracle_token=money["address"] if money else None)  # fmt: skip
    echo(f"      report: {out} (`ape run supervise report` writes the same from the index)")
    store.close()
    return {
        "events": stored,
        "mismatches": len(result.alerts),
        "compared": sum(result.compared.values()),
        "alerts": [a.rule for a in alerts],
        "ids": len(rows),
        "report": str(out),
    }
