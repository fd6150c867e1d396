"""The glue of ``ape run supervise``: which chains and records to follow, which database, and errors as one line.

Sources: each ``--rpc URL`` is one chain; each ``--deployment FILE`` one record (a suite's ``<chainId>.json`` or a
bridge's ``bridge-<home>-<remote>.json``, which names two chains). Without ``--deployment``, each chain's suite
record is read from the deployments folder (``TONNE_DEPLOYMENTS_DIR``, default ``deployments/``). Every record's
chain must have an ``--rpc``, every ``--rpc`` a record, and each node must be the chain its record names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click
from web3 import Web3

from tonne.core.deployments import deployments_dir
from tonne.supervise.catalog import Catalog, CatalogError, catalogs_of_file, merged
from tonne.supervise.index import NOT_JSON_RPC, ChainReader, Indexer, RpcError
from tonne.supervise.store import IndexStore, StoreMismatch

DEFAULT_RPC = "http://127.0.0.1:8545"


def default_db(chain_ids: list[int]) -> str:
    """``sqlite:///deployments/supervise-<chainId>[-<chainId>].sqlite``: one index per set of chains."""
    name = "-".join(str(c) for c in sorted(chain_ids))
    return f"sqlite:///{deployments_dir() / f'supervise-{name}.sqlite'}"


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise click.ClickException(f"{path}: is a folder, not a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read the {what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None


@dataclass
class Source:
    catalog: Catalog
    reader: ChainReader
    url: str


def open_sources(rpcs: tuple[str, ...], deployments: tuple[str, ...]) -> list[Source]:
    """The chains to follow, each with its merged catalog and a reader (see the module docstring)."""
    readers: dict[int, tuple[str, ChainReader]] = {}
    for url in rpcs or (DEFAULT_RPC,):
        reader = ChainReader(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}), url)
        try:
            chain_id = reader.chain_id()
        except RpcError as exc:
            cause = str(exc).removeprefix(f"{url}: ").removeprefix("eth_chainId failed: ")
            if cause.startswith(NOT_JSON_RPC):
                raise click.ClickException(f"--rpc {url}: {cause}") from None
            raise click.ClickException(f"--rpc {url}: no node answers ({cause})") from None
        if chain_id in readers:
            raise click.ClickException(f"--rpc {url} and --rpc {readers[chain_id][0]} are both chain {chain_id}")
        readers[chain_id] = (url, reader)
    paths = [Path(p) for p in deployments] or [deployments_dir() / f"{c}.json" for c in readers]
    catalogs, named_by = [], {}
    for path in paths:
        try:
            found = catalogs_of_file(read_json(path, "deployment record"), str(path))
        except CatalogError as exc:
            raise click.ClickException(str(exc)) from None
        catalogs += found
        for catalog in found:
            named_by.setdefault(catalog.chain_id, str(path))
    try:
        by_chain = merged(catalogs)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    for chain_id in by_chain:
        if chain_id not in readers:
            known = ", ".join(f"{c} ({u})" for c, (u, _) in readers.items())
            raise click.ClickException(
                f"the deployment records name chain {chain_id}, but no --rpc is that chain (given: {known}); "
                f"add --rpc for chain {chain_id}"
            )
    for chain_id, (url, _) in readers.items():
        if chain_id not in by_chain:
            raise click.ClickException(f"--rpc {url} is chain {chain_id}, which no --deployment record names")
    for chain_id, catalog in by_chain.items():
        _check_code(catalog, readers[chain_id][1], named_by[chain_id])
    return [Source(by_chain[c], readers[c][1], readers[c][0]) for c in sorted(by_chain)]


def _check_code(catalog: Catalog, reader: ChainReader, path: str) -> None:
    """Refuse a stale record: a chain without code at its contracts' addresses (an Anvil restarted since the deploy,
    or a record of another deployment). An index of it would hold no event, and watch would say all is well."""
    try:
        missing = [
            f"{name} {address}" for address, name in catalog.contracts.items() if reader.code(address) in ("0x", "")
        ]
    except RpcError as exc:
        raise click.ClickException(str(exc)) from None
    if missing:
        raise click.ClickException(
            f"{path}: chain {catalog.chain_id} has no code at {missing[0]}"
            + (f" (nor at {len(missing) - 1} other contracts)" if len(missing) > 1 else "")
            + ": a stale record (the chain was restarted since the deploy?); deploy again or give its record"
        )


def report_db(db: str | None) -> str:
    """``--db`` as given, or the one index of the deployments folder (an error when there are none or several)."""
    if db:
        return db
    found = sorted(deployments_dir().glob("supervise-*.sqlite"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise click.ClickException(
            f"--db: give the index to report on ({deployments_dir()}/supervise-*.sqlite: {names})"
        )
    return f"sqlite:///{found[0]}"


def open_store(db: str | None, chain_ids: list[int], *, must_exist: bool = False) -> IndexStore:
    """The index at ``db`` (None: ``default_db``); ``must_exist``: an index written before, opened without writing to
    it (a database that is not an index is refused, unchanged)."""
    from tonne.core.database import DatabaseError

    url = db or default_db(chain_ids)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if must_exist and not path.exists():
            raise click.ClickException(f"--db {url}: no such database (run `ape run supervise index` first)")
        if not path.parent.is_dir():
            raise click.ClickException(f"--db {url}: the folder {path.parent} does not exist")
    try:
        return IndexStore(url, create=not must_exist)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # a server that refuses the connection, a bad URL the driver rejects
        cause = " ".join(str(exc).split())  # one line: drivers' messages may span several
        raise click.ClickException(f"--db {url}: cannot open the database: {type(exc).__name__}: {cause}") from None


def indexers(store: IndexStore, sources: list[Source], *, confirmations: int, max_range: int) -> list[Indexer]:
    """One indexer per chain, each bound to the database (a database of other contracts is refused)."""
    found = []
    for source in sources:
        indexer = Indexer(store, source.reader, source.catalog, confirmations=confirmations, max_range=max_range)
        try:
            indexer.bind()
        except (RpcError, StoreMismatch) as exc:
            raise click.ClickException(str(exc)) from None
        found.append(indexer)
    return found
