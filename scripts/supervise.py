"""Supervision (issue 15): index every Tonne event into a database, rebuild the market from it, check it against the
chain and against a regulator's rules, and write a report people can read (see docs/supervise.md).

    ape run supervise index --rpc http://127.0.0.1:8545                  # deployments/supervise-31337.sqlite
    ape run supervise index --rpc http://127.0.0.1:8545 --follow --db postgresql+psycopg://reg@db/tonne
    ape run supervise index --rpc $HOME_RPC --rpc $REMOTE_RPC --deployment deployments/31337.json --deployment b.json
    ape run supervise watch --rpc http://127.0.0.1:8545                  # alerts as they happen, one line each
    ape run supervise watch --once --json --config supervise.toml > alerts.jsonl   # exit 2 when any alert
    ape run supervise reconcile --rpc http://127.0.0.1:8545              # events vs the chain's views; exit 2 if off
    ape run supervise report --db sqlite:///deployments/supervise-31337.sqlite --since 2026-11-01 --out nov.html

Every command reads the chain(s) through --rpc (default http://127.0.0.1:8545) and the contracts from the deployment
records (--deployment, repeatable; default: deployments/<chainId>.json of each chain). The database defaults to
sqlite:///deployments/supervise-<chainIds>.sqlite; PostgreSQL by URL. Amounts are shown in tonnes CO2e (1 t =
1,000 units), times in UTC. index is safe to kill and run again: it goes on from where it stopped, and a
reorganised block is rolled back.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import click

from tonne.core.clihelp import FiniteNumber, UtcTime, WholeNumber, note
from tonne.core.report import table

_SOURCE_HELP = "RPC URL of a chain to follow (repeatable: a bridge's two chains) [default: http://127.0.0.1:8545]."


def source_options(func):
    func = click.option("--db", default=None, metavar="URL", help="Index database: sqlite:///FILE or "
                        "postgresql+psycopg://user@host/db [default: sqlite:///deployments/supervise-<chainIds>"
                        ".sqlite].")(func)  # fmt: skip
    func = click.option("--deployment", "deployments", multiple=True, type=click.Path(), metavar="FILE",
                        help="Deployment record to follow (repeatable) [default: deployments/<chainId>.json of each "
                        "--rpc].")(func)  # fmt: skip
    func = click.option("--rpc", "rpcs", multiple=True, metavar="URL", help=_SOURCE_HELP)(func)
    func = click.option("--confirmations", type=WholeNumber(min=0, max=1000), default=0, show_default=True,
                        help="Blocks left below the head (0: the head; a reorg is rolled back).")(func)  # fmt: skip
    return click.option("--max-range", type=WholeNumber(min=1, max=100_000), default=1000, show_default=True,
                        help="Blocks read per eth_getLogs call.")(func)  # fmt: skip


@click.group()
def cli():
    """Supervision: index, watch, reconcile, report."""


def _ctrl_c_stops() -> None:
    """Ctrl-C as Python's KeyboardInterrupt again (ape's own handler exits 130 at once), so that a long run ends
    its current write, says it stopped, and exits 0."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _open(rpcs, deployments, db, confirmations, max_range):
    from tonne.supervise.cli import indexers, open_sources, open_store

    sources = open_sources(rpcs, deployments)
    store = open_store(db, [s.catalog.chain_id for s in sources])
    return store, indexers(store, sources, confirmations=confirmations, max_range=max_range)


def _catch_up(found) -> None:
    from tonne.supervise.index import RpcError

    for indexer in found:
        started = time.monotonic()
        first = indexer.store.cursor(indexer.chain_id)
        try:
            stored = indexer.catch_up()
        except RpcError as exc:
            raise click.ClickException(str(exc)) from None
        seconds = time.monotonic() - started
        cursor = indexer.store.cursor(indexer.chain_id)
        rate = f", {stored / seconds:,.0f} events/s" if stored and seconds > 0 else ""
        start = (first.block_number + 1) if first else indexer.catalog.start_block
        end = cursor.block_number if cursor else start - 1
        blocks = f"blocks {start:,}..{end:,}" if end >= start else f"no new block (at {end:,})"
        total = indexer.store.count(indexer.chain_id)
        note(f"chain {indexer.chain_id}: {blocks}: {stored:,} events stored{rate}; {total:,} in the index")


@cli.command()
@source_options
@click.option("--follow", is_flag=True, help="Keep following the head after catching up (Ctrl-C stops).")
@click.option("--interval", type=FiniteNumber(min=0.1, max=3600), default=2.0, show_default=True,
              help="Seconds between polls with --follow.")  # fmt: skip
def index(rpcs, deployments, db, confirmations, max_range, follow, interval):
    """Index every event of the records' contracts into the database, then stop (or --follow)."""
    store, found = _open(rpcs, deployments, db, confirmations, max_range)
    _ctrl_c_stops()
    try:
        _catch_up(found)
        if follow:
            _follow(found, interval)
    finally:
        store.close()


def _config(path):
    from tonne.supervise.config import ConfigError
    from tonne.supervise.rules import load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _print_alerts(alerts, as_json: bool, header: bool) -> None:
    from tonne.supervise.monitor import ALERT_HEADERS, alert_row

    if not alerts:
        return
    if as_json:
        for alert in alerts:
            click.echo(alert.json_line())
        return
    text = table(ALERT_HEADERS, [alert_row(a) for a in alerts])
    lines = text.splitlines()
    click.echo("\n".join(lines if header else lines[2:]))


@cli.command()
@source_options
@click.option("--config", "config_path", type=click.Path(), default=None, metavar="FILE",
              help="Thresholds and windows (TOML; every key and its default: docs/supervise.toml).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object an alert (rule, severity, evidence, ...).")
@click.option("--once", is_flag=True, help="Catch up, print every alert, and stop (exit 2 when there is any).")
@click.option("--interval", type=FiniteNumber(min=0.1, max=3600), default=2.0, show_default=True,
              help="Seconds between polls.")  # fmt: skip
@click.option("--reconcile", "with_reconcile", is_flag=True, help="Also reconcile with the chains' views after each "
              "change (the reconcile command's mismatches as alerts).")  # fmt: skip
def watch(rpcs, deployments, db, confirmations, max_range, config_path, as_json, once, interval, with_reconcile):
    """Follow the chain(s) and print each alert of the rules once, as it happens (Ctrl-C stops)."""
    from tonne.supervise.index import RpcError
    from tonne.supervise.monitor import Monitor

    config = _config(config_path)
    store, found = _open(rpcs, deployments, db, confirmations, max_range)
    monitor = Monitor(store, found, config)
    if with_reconcile:
        monitor.extra = lambda ledger: _reconciled(store, found, ledger).alerts
    _ctrl_c_stops()
    try:
        _catch_up(found)
        alerts = monitor.new(monitor.findings())
        _print_alerts(alerts, as_json, header=True)
        note(f"{len(alerts)} alert(s)" + ("" if once else f"; watching (every {interval:g} s, Ctrl-C stops)"))
        if once:
            raise SystemExit(2 if alerts else 0)
        printed_header = bool(alerts)
        while True:
            time.sleep(interval)
            try:
                fresh = monitor.step()
            except RpcError as exc:
                note(str(exc))
                continue
            _print_alerts(fresh, as_json, header=not printed_header)
            printed_header |= bool(fresh)
    except KeyboardInterrupt:
        note("stopping")
    finally:
        store.close()


def _reconciled(store, found, ledger=None):
    from tonne.supervise.ledger import Ledger
    from tonne.supervise.reconcile import ReconcileError, reconcile

    sources = store.sources()
    blocks = {}
    for indexer in found:
        cursor = store.cursor(indexer.chain_id)
        if cursor is None:
            raise click.ClickException(f"chain {indexer.chain_id}: nothing indexed yet (its first block is not mined)")
        blocks[indexer.chain_id] = cursor.block_number
    ledger = ledger or Ledger.build(store.events(), sources)
    try:
        return reconcile(ledger, {i.chain_id: i.reader for i in found}, sources, blocks)
    except ReconcileError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@source_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object a mismatch.")
def reconcile(rpcs, deployments, db, confirmations, max_range, as_json):
    """Catch up, rebuild the books from the events alone, and compare them with every contract's views at the
    index's block: supply per id, every balance the events name, escrow, certificates and beneficiaries,
    compliance, positions, pledges, bridges. Exit 2 when anything differs."""
    from tonne.supervise.index import RpcError

    store, found = _open(rpcs, deployments, db, confirmations, max_range)
    try:
        _catch_up(found)
        try:
            result = _reconciled(store, found)
        except RpcError as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    blocks = ", ".join(f"chain {c} at block {b:,}" for c, b in sorted(result.blocks.items()))
    compared = sum(result.compared.values())
    if not as_json:
        rows = [[kind, f"{count:,}"] for kind, count in sorted(result.compared.items())]
        click.echo(table(["compared", "values"], rows, title=f"Reconciliation ({blocks})"))
    for line in result.notes:
        note(line)
    _print_alerts(result.alerts, as_json, header=True)
    note(f"{compared:,} values compared, {len(result.alerts)} mismatch(es)")
    raise SystemExit(2 if result.alerts else 0)


@cli.command()
@click.option("--db", default=None, metavar="URL", help="Index database, as index wrote it [default: the one "
              "deployments/supervise-*.sqlite].")  # fmt: skip
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    required=True,
    metavar="FILE",
    help="The HTML file to write (one self-contained file: charts inlined, no script, no network).",
)
@click.option("--since", type=UtcTime(), default=None, help="Period start: unix seconds or a UTC date YYYY-MM-DD "
              "[default: the first event].")  # fmt: skip
@click.option("--until", type=UtcTime(), default=None, help="Period end (excluded): unix seconds or a UTC date "
              "[default: after the last event].")  # fmt: skip
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    default=None,
    metavar="FILE",
    help="The rules' thresholds (TOML, as for watch).",
)
@click.option("--decimals", "decimals_given", multiple=True, metavar="TOKEN=N", help="Decimals of a payment token "
              "(repeatable), e.g. 0x5FbD..=6; prices of other tokens are shown in base units.")  # fmt: skip
def report(db, out_path, since, until, config_path, decimals_given):
    """Write one HTML report of a period from the index alone (no node needed): supply of each project and batch
    over time, retirements by beneficiary and jurisdiction, compliance per period, trades and prices, and every
    alert of the rules."""
    from tonne.supervise.cli import open_store, report_db
    from tonne.supervise.ledger import Ledger
    from tonne.supervise.report import write_report
    from tonne.supervise.rules import evaluate

    config = _config(config_path)
    decimals = _decimals(decimals_given)
    if since is not None and until is not None and until <= since:
        raise click.BadParameter(f"--until ({until}) must come after --since ({since})", param_hint="--until")
    out = Path(out_path)
    if not out.parent.is_dir():
        raise click.BadParameter(f"the folder {out.parent} does not exist", param_hint="--out")
    store = open_store(report_db(db), [], must_exist=True)
    try:
        started = time.monotonic()
        ledger = Ledger.build(store.events(until=until), store.sources())
        # Deadlines and interest are judged at the period's end, or at the chain's time at the index's newest block
        # (the moment the data describes, as watch judges at the head), never at this machine's clock.
        now = until if until is not None else store.indexed_until()
        alerts = evaluate(ledger, config, now)
        try:
            write_report(ledger, alerts, out, sources=store, since=since, until=until, decimals=decimals,
                         as_of=now)  # fmt: skip
        except OSError as exc:
            raise click.ClickException(f"--out {out}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        store.close()
    note(f"{out}: {ledger.events:,} events, {len(alerts)} alert(s), {time.monotonic() - started:.1f} s")


def _decimals(given: tuple[str, ...]) -> dict[str, int]:
    from eth_utils import is_address, to_checksum_address

    out = {}
    for item in given:
        token, _, digits = item.partition("=")
        if not is_address(token.strip()) or not digits.strip().isascii() or not digits.strip().isdigit():
            raise click.BadParameter(f"{item!r}: TOKEN=N, e.g. 0x5FbDB2315678afecb367f032d93F642f64180aa3=6",
                                     param_hint="--decimals")  # fmt: skip
        if int(digits) > 36:
            raise click.BadParameter(f"{item!r}: at most 36 decimals", param_hint="--decimals")
        out[to_checksum_address(token.strip())] = int(digits)
    return out


def _follow(found, interval: float) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(target=i.run, args=(stop, interval, note), name=f"index-{i.chain_id}", daemon=True)
        for i in found
    ]
    for thread in threads:
        thread.start()
    try:
        while True:
            time.sleep(interval)
    except KeyboardInterrupt:
        note("stopping")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "supervise")
