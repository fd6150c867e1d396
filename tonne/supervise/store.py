"""The supervision index: every event of every Tonne contract the indexer follows, on one or more chains, in one
database (SQLite by default, PostgreSQL by URL; ``tonne.core.database``).

Tables:
- ``sources``: one row per chain followed: its chain id, the hash of its block 0 (a restarted Anvil, or another
  chain under the same id, has another), the contracts followed (address -> name) and the first block;
- ``events``: one row per log, unique by (chain, block hash, log index): its block, transaction, contract, event
  name and fields (JSON, integers exact);
- ``cursor``: per chain, the last block applied and its hash; ``checkpoints``: the hash of the end of each range
  applied (the newest ``CHECKPOINTS_KEPT``), to find where a reorganisation forked.

Every range of blocks is applied in one transaction together with its cursor and checkpoint, and only when the
cursor is still the one the indexer started from (compare and set): a crash leaves the range wholly applied or not
at all, and two indexers on one database never apply a range twice. A reorganisation is rolled back by deleting
the events above the fork point and moving the cursor back to it, in one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import DatabaseError as SQLDatabaseError
from sqlalchemy.exc import OperationalError

from tonne.core.database import Database, DatabaseError, Prepared, id_type

ADVISORY_LOCK = 0x7375706572  # "super": serialises the indexers' writers on PostgreSQL
CHECKPOINTS_KEPT = 512


metadata = MetaData()
sources = Table(
    "sources",
    metadata,
    Column("chain_id", BigInteger, primary_key=True, autoincrement=False),
    Column("genesis_hash", String(66), nullable=False),
    Column("contracts", Text, nullable=False),  # JSON: checksummed address -> contract name
    Column("start_block", BigInteger, nullable=False),
    Column("added", Float, nullable=False),
)
events = Table(
    "events",
    metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("contract", String(64), nullable=False),
    Column("address", String(42), nullable=False),
    Column("name", String(64), nullable=False),
    Column("args", Text, nullable=False),
    UniqueConstraint("chain_id", "block_hash", "log_index", name="events_once"),
)
cursor_table = Table(
    "cursor",
    metadata,
    Column("chain_id", BigInteger, primary_key=True, autoincrement=False),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("block_timestamp", BigInteger, nullable=False, default=0),  # the chain's time at the cursor
    Column("updated", Float, nullable=False),
)
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("chain_id", BigInteger, primary_key=True, autoincrement=False),
    Column("block_number", BigInteger, primary_key=True, autoincrement=False),
    Column("block_hash", String(66), nullable=False),
)
Index("events_chain_block", events.c.chain_id, events.c.block_number, events.c.log_index)
Index("events_name", events.c.name)


class StoreMismatch(RuntimeError):
    """The database follows another chain (another genesis) or other contracts under this chain id."""


@dataclass(frozen=True)
class Event:
    """One indexed log."""

    chain_id: int
    block_number: int
    block_hash: str
    timestamp: int
    tx_hash: str
    log_index: int
    contract: str
    address: str
    name: str
    args: dict[str, Any]

    def row(self) -> dict[str, Any]:
        values = {k: getattr(self, k) for k in EVENT_COLUMNS}
        values["args"] = json.dumps(self.args, separators=(",", ":"))
        return values


EVENT_COLUMNS = (
    "chain_id",
    "block_number",
    "block_hash",
    "timestamp",
    "tx_hash",
    "log_index",
    "contract",
    "address",
    "name",
    "args",
)


@dataclass(frozen=True)
class Cursor:
    block_number: int
    block_hash: str


class IndexStore(Database):
    lock_key = ADVISORY_LOCK

    def __init__(self, url: str, *, create: bool = True):
        """``create``: make the tables of a new index; False (a reader: ``supervise report``): refuse a database
        that holds no index, and write nothing to it."""
        super().__init__(url)
        try:
            if create:
                metadata.create_all(self.engine)
            else:
                self._check_index()
        except (SQLDatabaseError, OperationalError) as exc:
            self.close()
            cause = " ".join(str(exc.orig).split())  # one line: the driver's message may span several
            raise DatabaseError(f"{url}: cannot be used as the supervision index ({cause})") from exc
        except DatabaseError:
            self.close()
            raise
        # The hot path, compiled once and run on the DBAPI cursor (tonne.core.database.Prepared): SQLAlchemy's
        # per-row work cost as much as SQLite's.
        self._insert_event = Prepared(self.insert(events).on_conflict_do_nothing(), self.engine.dialect, EVENT_COLUMNS)

    def _check_index(self) -> None:
        """Refuse a database without the index's tables, through an engine of its own: the house's SQLite set-up
        would switch another tool's file to WAL mode, a change to a file this reader must leave as it is."""
        plain = create_engine(self.url)
        try:
            with plain.connect() as conn:
                missing = [t.name for t in metadata.sorted_tables if not plain.dialect.has_table(conn, t.name)]
        finally:
            plain.dispose()
        if missing:
            raise DatabaseError(
                f"{self.url}: not a supervision index (no table {', '.join(missing)}); `ape run supervise index` "
                "writes one"
            )

    # ---------------------------------------------------------------- the chains this database follows

    def bind_source(self, chain_id: int, genesis_hash: str, contracts: dict[str, str], start_block: int) -> None:
        """Record a chain on first use; refuse one whose genesis or contracts differ from what is recorded."""
        with self.write() as conn:
            row = conn.execute(select(sources).where(sources.c.chain_id == chain_id)).mappings().first()
            if row is None:
                conn.execute(
                    sources.insert().values(
                        chain_id=chain_id,
                        genesis_hash=genesis_hash.lower(),
                        contracts=json.dumps(contracts, sort_keys=True),
                        start_block=start_block,
                        added=time.time(),
                    )
                )
                return
            if row["genesis_hash"] != genesis_hash.lower():
                raise StoreMismatch(
                    f"{self.url}: indexes chain {chain_id} whose block 0 is "
                    f"{row['genesis_hash']}, but the node's block "
                    f"0 is {genesis_hash.lower()}: another chain (a restarted Anvil?); use another --db"
                )
            known = json.loads(row["contracts"])
            if known != contracts:
                added = sorted(set(contracts.values()) - set(known.values()))
                moved = sorted(n for a, n in contracts.items() if a not in known and n in known.values())
                raise StoreMismatch(
                    f"{self.url}: indexes other contracts on chain {chain_id}"
                    + (f" (moved: {', '.join(moved)})" if moved else "")
                    + (f" (not followed: {', '.join(added)})" if added else "")
                    + ": a new deployment needs another --db"
                )

    def sources(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.chain_id)).mappings().all()
        return [dict(r, contracts=json.loads(r["contracts"])) for r in rows]

    # ---------------------------------------------------------------- the follower's position

    def cursor(self, chain_id: int, conn=None) -> Cursor | None:
        query = select(cursor_table.c.block_number, cursor_table.c.block_hash).where(
            cursor_table.c.chain_id == chain_id
        )
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self.read() as reader:
                row = reader.execute(query).first()
        return Cursor(row[0], row[1]) if row else None

    def indexed_until(self) -> int | None:
        """The chain's time at the newest cursor of the index (the moment its data describes), or None."""
        with self.read() as conn:
            return conn.execute(select(func.max(cursor_table.c.block_timestamp))).scalar()

    def checkpoints(self, chain_id: int) -> list[Cursor]:
        """Newest first."""
        with self.read() as conn:
            rows = conn.execute(
                select(checkpoints.c.block_number, checkpoints.c.block_hash)
                .where(checkpoints.c.chain_id == chain_id)
                .order_by(checkpoints.c.block_number.desc())
            ).all()
        return [Cursor(n, h) for n, h in rows]

    def apply(
        self,
        chain_id: int,
        found: Sequence[Event],
        expected: Cursor | None,
        last: int,
        last_hash: str,
        last_timestamp: int = 0,
    ) -> bool:
        """Store ``found`` (the events of the blocks after ``expected`` up to ``last``) and move the cursor to
        ``last``, in one transaction; False, and nothing written, when the cursor is no longer ``expected``."""
        with self.write() as conn:
            if self.cursor(chain_id, conn) != expected:
                return False
            if found:
                self._insert_event.executemany(conn, [event.row() for event in found])
            values = {"block_number": last, "block_hash": last_hash, "block_timestamp": last_timestamp}
            values["updated"] = time.time()
            if expected is None:
                conn.execute(cursor_table.insert().values(chain_id=chain_id, **values))
            else:
                conn.execute(update(cursor_table).where(cursor_table.c.chain_id == chain_id).values(**values))
            conn.execute(
                self.insert(checkpoints)
                .values(chain_id=chain_id, block_number=last, block_hash=last_hash)
                .on_conflict_do_nothing()
            )
            oldest = (
                select(checkpoints.c.block_number)
                .where(checkpoints.c.chain_id == chain_id)
                .order_by(checkpoints.c.block_number.desc())
                .offset(CHECKPOINTS_KEPT)
                .limit(1)
                .scalar_subquery()
            )
            conn.execute(
                delete(checkpoints).where(checkpoints.c.chain_id == chain_id, checkpoints.c.block_number <= oldest)
            )
        return True

    def rewind(self, chain_id: int, fork: Cursor | None) -> int:
        """Roll back everything above ``fork`` (None: everything of this chain); the number of events removed."""
        above = -1 if fork is None else fork.block_number
        with self.write() as conn:
            removed = conn.execute(
                delete(events).where(events.c.chain_id == chain_id, events.c.block_number > above)
            ).rowcount
            conn.execute(
                delete(checkpoints).where(checkpoints.c.chain_id == chain_id, checkpoints.c.block_number > above)
            )
            if fork is None:
                conn.execute(delete(cursor_table).where(cursor_table.c.chain_id == chain_id))
            else:
                conn.execute(
                    update(cursor_table)
                    .where(cursor_table.c.chain_id == chain_id)
                    .values(block_number=fork.block_number, block_hash=fork.block_hash, updated=time.time())
                )
        return removed

    # ---------------------------------------------------------------- reading the index

    def events(
        self,
        *,
        names: Iterable[str] | None = None,
        chain_id: int | None = None,
        since: int | None = None,
        until: int | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
        batch: int = 10_000,
    ) -> Iterator[Event]:
        """The indexed events in chain order (chain id, block, log index), optionally only those named, of one
        chain, with a block timestamp in [since, until), or in blocks [from_block, to_block]. Streams in pages of
        ``batch`` rows."""
        query = select(*(events.c[name] for name in EVENT_COLUMNS))  # args last: Event(*row[:-1], args=...)
        if names is not None:
            query = query.where(events.c.name.in_(sorted(set(names))))
        if chain_id is not None:
            query = query.where(events.c.chain_id == chain_id)
        if since is not None:
            query = query.where(events.c.timestamp >= since)
        if until is not None:
            query = query.where(events.c.timestamp < until)
        if from_block is not None:
            query = query.where(events.c.block_number >= from_block)
        if to_block is not None:
            query = query.where(events.c.block_number <= to_block)
        query = query.order_by(events.c.block_number, events.c.log_index)
        if chain_id is not None:
            chains = [chain_id]
        else:
            with self.read() as conn:
                chains = sorted(conn.execute(select(sources.c.chain_id)).scalars())
        # Keyset pages per chain: (block, log index) after the last row seen, a range scan of events_chain_block
        # (an OR of three comparisons across chains made SQLite scan the table again for every page).
        for chain in chains:
            last = None
            while True:
                page = query.where(events.c.chain_id == chain)
                if last is not None:
                    page = page.where(tuple_(events.c.block_number, events.c.log_index) > tuple_(*last))
                with self.read() as conn:
                    rows = conn.execute(page.limit(batch)).all()
                loads = json.loads
                for row in rows:
                    yield Event(*row[:-1], args=loads(row[-1]))
                if len(rows) < batch:
                    break
                last = (rows[-1].block_number, rows[-1].log_index)

    def count(self, chain_id: int | None = None) -> int:
        query = select(func.count()).select_from(events)
        if chain_id is not None:
            query = query.where(events.c.chain_id == chain_id)
        with self.read() as conn:
            return conn.execute(query).scalar_one()

    def fingerprint(self) -> list[tuple]:
        """Every stored event as a tuple, in chain order: two databases that indexed the same chain are equal."""
        return [
            (e.chain_id, e.block_number, e.block_hash, e.tx_hash, e.log_index, e.contract, e.name, e.args)
            for e in self.events()
        ]
