"""Supervision (issue 15): index every Tonne event into a database, rebuild the market from it, check it against the
chain and against a regulator's rules, and write a report people can read (see docs/supervise.md).

    ape run supervise index --rpc http://127.0.0.1:8545                  # deployments/supervise-31337.sqlite
    ape run supervise index --rpc http://127.0.0.1:8545 --follow --db postgresql+psycopg://reg@db/tonne
    ape run supervise index --rpc $HOME_RPC --rpc $REMOTE_RPC --deployment deployments/31337.json --deployment b.json

Every command reads the chain(s) through --rpc (default http://127.0.0.1:8545) and the contracts from the deployment
records (--deployment, repeatable; default: deployments/<chainId>.json of each chain). The database defaults to
sqlite:///deployments/supervise-<chainIds>.sqlite; PostgreSQL by URL. Amounts are shown in tonnes CO2e (1 t =
1,000 units), times in UTC. index is safe to kill and run again: it goes on from where it stopped, and a
reorganised block is rolled back.
"""

from __future__ import annotations

import threading
import time

import click

from tonne.core.clihelp import WholeNumber, note

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
                        help="Blocks left below the head (0: index the head; a reorg is rolled back).")(func)  # fmt: skip
    return click.option("--max-range", type=WholeNumber(min=1, max=100_000), default=1000, show_default=True,
                        help="Blocks read per eth_getLogs call.")(func)  # fmt: skip


@click.group()
def cli():
    """Supervision: index, watch, reconcile, report."""


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
@click.option("--interval", type=click.FloatRange(min=0.1, max=3600), default=2.0, show_default=True,
              help="Seconds between polls with --follow.")  # fmt: skip
def index(rpcs, deployments, db, confirmations, max_range, follow, interval):
    """Index every event of the records' contracts into the database, then stop (or --follow)."""
    store, found = _open(rpcs, deployments, db, confirmations, max_range)
    try:
        _catch_up(found)
        if follow:
            _follow(found, interval)
    finally:
        store.close()


def _follow(found, interval: float, after_poll=lambda: None) -> None:
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
            after_poll()
    except KeyboardInterrupt:
        note("stopping")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "supervise")
