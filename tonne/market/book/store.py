"""The order book's database, through SQLAlchemy Core: SQLite by default, PostgreSQL by URL.

Tables:
- ``orders``: one row per order hash, every signed field, the signature, the state (open, filled, cancelled,
  expired, unfillable), the units filled (from events), the units fillable and why, as last checked;
- ``changes``: the change feed, one row per change of an order, with a sequence number that only grows;
- ``events``: the exchange events applied, unique by (block hash, tx hash, log index), so applying a block range
  twice changes nothing; the orders' filled amounts and cancels are recomputed from them after a reorg;
- ``counters``: each maker's counter as raised on-chain; ``cursor`` and ``checkpoints``: the follower's position
  (block number and hash) and the hashes of the ranges it covered, to find where a reorg forked;
- ``rechecks``: a queue of makers and orders whose fillability must be read again, written in the same transaction
  as the events that caused it (a crash loses no re-check);
- ``ids``: each token id's batch data (project, standard, vintage years, country), for criteria queries.

Integers above 2^63 are exact: ``UInt`` is NUMERIC(78,0) on PostgreSQL and a zero-padded fixed-width decimal
string on SQLite, both ordering as numbers. The book's order is one key, ``rank``: for a sell, price then listedAt
then hash, each fixed-width; for a buy, (2^256-1 - price) then listedAt then hash, so that "best first" is ascending
``rank`` on either side, exact on both databases (bytewise "C" collation on PostgreSQL), and a page cursor is the
last rank seen (keyset pagination: stable when orders come and go between pages).

Writes: every write is one transaction. On SQLite it is ``BEGIN IMMEDIATE`` (WAL mode, busy timeout, as the bridge's
store); on PostgreSQL it first takes a transaction-level advisory lock, so that change sequence numbers are
committed in their order and a reader polling ``seq > N`` never skips one committed late.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tonne.core.database import Database, DatabaseError, Prepared, UInt, id_type
from tonne.market.book.chain import FILLABLE_REASONS, FINAL_REASONS, BatchInfo, ChainEvent
from tonne.market.orders import BUY, ORDER_FIELDS, SELL, Order

UINT256_MAX = (1 << 256) - 1
OPEN, FILLED, CANCELLED, EXPIRED, UNFILLABLE = "open", "filled", "cancelled", "expired", "unfillable"
LIVE = (OPEN, UNFILLABLE)  # states an event, an expiry or a re-check can still change
ADVISORY_LOCK = 0x746F6E6E65  # "tonne": serialises the book's writers on PostgreSQL
CHECKPOINTS_KEPT = 512


def _rank_type():
    return String(162).with_variant(String(162, collation="C"), "postgresql")


metadata = MetaData()
orders = Table(
    "orders",
    metadata,
    Column("hash", String(66), primary_key=True),
    Column("maker", String(42), nullable=False),
    Column("side", Integer, nullable=False),
    Column("token_id", UInt(), nullable=False),
    Column("project_id", UInt(64), nullable=False),
    Column("standard_hash", String(66), nullable=False),
    Column("vintage_from", Integer, nullable=False),
    Column("vintage_to", Integer, nullable=False),
    Column("country", String(6), nullable=False),
    Column("amount", UInt(), nullable=False),
    Column("price_per_unit", UInt(), nullable=False),
    Column("payment_token", String(42), nullable=False),
    Column("min_fill", UInt(), nullable=False),
    Column("listed_at", UInt(64), nullable=False),
    Column("expiry", UInt(64), nullable=False),
    Column("taker", String(42), nullable=False),
    Column("nonce", UInt(), nullable=False),
    Column("counter", UInt(), nullable=False),
    Column("signature", String(4100), nullable=False),
    Column("rank", _rank_type(), nullable=False),
    Column("state", String(12), nullable=False),
    Column("filled", UInt(), nullable=False),
    Column("fillable", UInt(), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("checked_at", Float, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("updated", Float, nullable=False),
)
changes = Table(
    "changes",
    metadata,
    Column("seq", id_type(), primary_key=True, autoincrement=True),
    Column("order_hash", String(66), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(12), nullable=False),
    Column("filled", UInt(), nullable=False),
    Column("fillable", UInt(), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("at", Float, nullable=False),
    sqlite_autoincrement=True,  # never reuse a sequence number, even of a deleted last row
)
events = Table(
    "events",
    metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("order_hash", String(66)),
    Column("maker", String(42)),
    Column("taker", String(42)),
    Column("token_id", UInt()),
    Column("units", UInt()),
    Column("price_per_unit", UInt()),
    Column("payment_token", String(42)),
    Column("fee", UInt()),
    Column("filled_total", UInt()),
    Column("counter", UInt()),
    UniqueConstraint("block_hash", "tx_hash", "log_index", name="events_once"),
)
counters = Table(
    "counters",
    metadata,
    Column("maker", String(42), primary_key=True),
    Column("counter", UInt(), nullable=False),
)
cursor_table = Table(
    "cursor",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("updated", Float, nullable=False),
)
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("block_number", BigInteger, primary_key=True),
    Column("block_hash", String(66), nullable=False),
)
rechecks = Table(
    "rechecks",
    metadata,
    Column("key", String(66), primary_key=True),  # a maker address (its live orders) or an order hash
    Column("queued_at", Float, nullable=False),
)
ids = Table(
    "ids",
    metadata,
    Column("token_id", UInt(), primary_key=True),
    Column("project_id", UInt(64), nullable=False),
    Column("standard_hash", String(66), nullable=False),
    Column("vintage_start", Integer, nullable=False),
    Column("vintage_end", Integer, nullable=False),
    Column("country", String(6), nullable=False),
    Column("fetched_at", Float, nullable=False),
)
service = Table(
    "service",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(80), nullable=False),
)
# The book queries: one id's side in rank order; criteria over all ids of a side; a maker's live orders; expiry.
Index("orders_book", orders.c.token_id, orders.c.side, orders.c.state, orders.c.rank)
Index("orders_side_rank", orders.c.side, orders.c.state, orders.c.rank)
Index("orders_maker", orders.c.maker, orders.c.state)
Index("orders_expiry", orders.c.state, orders.c.expiry)
Index("orders_first_seen", orders.c.first_seen)
Index("events_order", events.c.order_hash)
Index("events_block", events.c.block_number)
Index("events_time", events.c.timestamp)
Index("ids_criteria", ids.c.project_id, ids.c.vintage_start)


def rank_of(side: int, price: int, listed_at: int, order_hash: str) -> str:
    """The book's sort key: ascending is best first on either side (see the module docstring)."""
    key = price if side == SELL else UINT256_MAX - price
    return f"{key:078d}{listed_at:020d}{order_hash[2:].lower()}"


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def order_row(order: Order, order_hash: str, signature: bytes) -> dict[str, Any]:
    row = {attr: getattr(order, attr) for _, _, attr in ORDER_FIELDS}
    row["standard_hash"] = _hex(order.standard_hash)
    row["country"] = _hex(order.country)
    row["hash"] = order_hash
    row["signature"] = _hex(signature)
    row["rank"] = rank_of(order.side, order.price_per_unit, order.listed_at, order_hash)
    return row


def order_of(row: Any) -> Order:
    """The Order of a stored row."""
    values = {attr: row[attr] for _, _, attr in ORDER_FIELDS}
    values["standard_hash"] = bytes.fromhex(row["standard_hash"][2:])
    values["country"] = bytes.fromhex(row["country"][2:])
    return Order(**values)


@dataclass(frozen=True)
class Criteria:
    """What a criteria query asks of a batch; None (or 0 for the country) is "any"."""

    project_id: int | None = None
    standard_hash: bytes | None = None
    vintage_from: int | None = None
    vintage_to: int | None = None
    country: bytes | None = None


@dataclass(frozen=True)
class Cursor:
    block_number: int
    block_hash: str


class StoreMismatch(RuntimeError):
    """The database belongs to another chain or exchange."""


class BookStore(Database):
    lock_key = ADVISORY_LOCK

    def __init__(self, url: str, *, pool_size: int = 5):
        try:
            super().__init__(url, pool_size=pool_size)
        except DatabaseError as exc:
            raise ValueError(str(exc)) from exc
        # One SELECT needs no transaction around it: a lone statement is its own, one snapshot (SQLite's autocommit
        # mode; PostgreSQL's AUTOCOMMIT: no BEGIN and ROLLBACK round trips around it).
        self._single_reader = self.engine.execution_options(tonne_read="single")
        if self.dialect == "postgresql":
            self._single_reader = self._single_reader.execution_options(isolation_level="AUTOCOMMIT")
        metadata.create_all(self.engine)
        self._insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        # Built once: a statement made per call costs its cache key each time (a fifth of a submission's time).
        self._order_insert = self._insert(orders).on_conflict_do_nothing().returning(orders.c.hash)
        self._change_insert = changes.insert()
        # precheck: one row whatever exists (a one-row select, outer-joined to the order, the counter, the id).
        one = select(literal_column("1").label("one")).subquery("one")
        self._precheck = select(
            *orders.c, counters.c.counter.label("_counter"), ids.c.token_id.label("_id_known")
        ).select_from(
            one.outerjoin(orders, orders.c.hash == bindparam("hash"))
            .outerjoin(counters, counters.c.maker == bindparam("maker"))
            .outerjoin(ids, ids.c.token_id == bindparam("token_id", type_=UInt()))
        )
        # The submission path's three statements, run through Prepared (see there).
        dialect = self.engine.dialect
        self._fast_precheck = Prepared(self._precheck, dialect)
        self._fast_order_insert = Prepared(self._order_insert, dialect, [c.name for c in orders.c])
        self._change_names = ["order_hash", "kind", "state", "filled", "fillable", "reason", "at"]
        self._fast_change_insert = Prepared(self._change_insert, dialect, self._change_names)

    # ---------------------------------------------------------------- the service this database belongs to

    def bind_service(self, chain_id: int, exchange: str) -> None:
        """Record the chain and exchange on first use; refuse a database of another one."""
        wanted = {"chain_id": str(chain_id), "exchange": exchange.lower()}
        with self.write() as conn:
            stored = dict(conn.execute(select(service.c.key, service.c.value)).all())
            for key, value in wanted.items():
                if key in stored and stored[key] != value:
                    raise StoreMismatch(f"{self.url}: the book of {key} {stored[key]}, not {value}")
                if key not in stored:
                    conn.execute(service.insert().values(key=key, value=value))

    # ---------------------------------------------------------------- orders

    def _new_row(self, order, order_hash, signature, fillable, reason, now) -> dict[str, Any]:
        row = order_row(order, order_hash, signature)
        row.update(
            state=OPEN if fillable > 0 else UNFILLABLE,
            filled=0,
            fillable=fillable,
            reason=FILLABLE_REASONS.get(reason, f"reason {reason}"),
            checked_at=now,
            first_seen=now,
            updated=now,
        )
        return row

    def _insert_new(self, conn: Connection, row: dict[str, Any]) -> bool:
        if conn.execute(self._order_insert, row).first() is None:
            return False
        self._change(conn, row["hash"], "new", row["state"], 0, row["fillable"], row["reason"], row["first_seen"])
        return True

    def _insert_batch(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[bool]:
        """The orders of a batch (each one INSERT .. ON CONFLICT DO NOTHING: whether it was new), then the "new"
        change rows of those that were, in the batch's order, in one executemany."""
        created = []
        for row in rows:
            cursor = self._fast_order_insert.execute(conn, row)
            created.append(cursor.fetchone() is not None)
            cursor.close()
        news = [
            {
                "order_hash": r["hash"],
                "kind": "new",
                "state": r["state"],
                "filled": 0,
                "fillable": r["fillable"],
                "reason": r["reason"],
                "at": r["first_seen"],
            }  # fmt: skip
            for r, new in zip(rows, created, strict=True)
            if new
        ]
        if len(news) == 1:  # psycopg's executemany is a pipeline: round trips more than one execute
            self._fast_change_insert.execute(conn, news[0]).close()
        elif news:
            self._fast_change_insert.executemany(conn, news)
        return created

    def add_order(
        self, order: Order, order_hash: str, signature: bytes, fillable: int, reason: int, now: float | None = None
    ) -> tuple[dict, bool]:
        """Insert the order (its hash is its identity) and its "new" change; (row, True) when it was new, (the
        stored row, False) when it was known."""
        row = self._new_row(order, order_hash, signature, fillable, reason, time.time() if now is None else now)
        with self.write() as conn:
            if self._insert_new(conn, row):
                return row, True
        return self.get_order(order_hash), False

    def add_orders(
        self, batch: Sequence[tuple[Order, str, bytes, int, int]], now: float | None = None
    ) -> list[tuple[dict, bool]]:
        """``add_order`` for many orders in one transaction (group commit, the bench's filling)."""
        now = time.time() if now is None else now
        rows = [self._new_row(*item, now) for item in batch]
        with self.write() as conn:
            created = self._insert_batch(conn, rows)
        return [
            (row, True) if new else (self.get_order(row["hash"]), False) for row, new in zip(rows, created, strict=True)
        ]

    def precheck(self, order_hash: str, maker: str, token_id: int) -> tuple[dict | None, int, bool]:
        """What a submission reads first, in one statement: the stored order (or None), the maker's counter, and
        whether the id's batch data is cached."""
        with self._single_reader.connect() as conn:
            row = self._fast_precheck.one(conn, {"hash": order_hash, "maker": maker, "token_id": token_id})
        known_id = token_id == 0 or row["_id_known"] is not None
        order = {c.name: row[c.name] for c in orders.c} if row["hash"] is not None else None
        return order, row["_counter"] or 0, known_id

    def has_order(self, order_hash: str) -> bool:
        with self.read() as conn:
            return conn.execute(select(orders.c.hash).where(orders.c.hash == order_hash)).first() is not None

    def get_order(self, order_hash: str) -> dict | None:
        with self.read() as conn:
            row = conn.execute(select(orders).where(orders.c.hash == order_hash)).mappings().first()
        return dict(row) if row else None

    def counter_of(self, maker: str) -> int:
        with self.read() as conn:
            value = conn.execute(select(counters.c.counter).where(counters.c.maker == maker)).scalar()
        return value or 0

    def _change(self, conn: Connection, order_hash, kind, state, filled, fillable, reason, now) -> None:
        conn.execute(
            self._change_insert,
            {
                "order_hash": order_hash,
                "kind": kind,
                "state": state,
                "filled": filled,
                "fillable": fillable,
                "reason": reason,
                "at": now,
            },
        )

    # ---------------------------------------------------------------- ids (batch data for criteria)

    def has_id(self, token_id: int) -> bool:
        with self.read() as conn:
            return conn.execute(select(ids.c.token_id).where(ids.c.token_id == token_id)).first() is not None

    def add_id(self, info: BatchInfo) -> None:
        with self.write() as conn:
            conn.execute(
                self._insert(ids)
                .values(
                    token_id=info.token_id,
                    project_id=info.project_id,
                    standard_hash=_hex(info.standard_hash),
                    vintage_start=info.vintage_start,
                    vintage_end=info.vintage_end,
                    country=_hex(info.country),
                    fetched_at=time.time(),
                )
                .on_conflict_do_nothing()
            )

    def id_for_bid(self, order: Order) -> int | None:
        """A known id (``ids``) whose batch meets criteria bid ``order``'s terms, the lowest; None when the book knows
        none (the exchange's ``fillable`` needs an id to check a bid's criteria against)."""
        terms = []
        if order.project_id:
            terms.append(ids.c.project_id == order.project_id)
        if order.standard_hash != b"\x00" * 32:
            terms.append(ids.c.standard_hash == _hex(order.standard_hash))
        if order.vintage_from:
            terms.append(ids.c.vintage_start >= order.vintage_from)
        if order.vintage_to:
            terms.append(ids.c.vintage_end <= order.vintage_to)
        if order.country != b"\x00\x00":
            terms.append(ids.c.country == _hex(order.country))
        with self.read() as conn:
            return conn.execute(select(func.min(ids.c.token_id)).where(*terms)).scalar()

    # ---------------------------------------------------------------- queries

    def book(
        self,
        side: int,
        *,
        token_id: int | None = None,
        criteria: Criteria | None = None,
        limit: int = 50,
        after: str | None = None,
        states: Sequence[str] = (OPEN,),
    ) -> list[dict]:
        """One side of the book, best first: the orders of ``token_id`` (for buys, with the criteria bids that
        the id's batch meets), or those matching ``criteria`` (see ``_criteria_clause``); ``after`` a rank (the
        previous page's last) for the next page."""
        query = select(orders).where(orders.c.side == side, orders.c.state.in_(list(states)))
        if token_id is not None:
            if side == BUY:
                query = query.where(or_(orders.c.token_id == token_id, self._bids_for_id(token_id)))
            else:
                query = query.where(orders.c.token_id == token_id)
        if criteria is not None:
            query = query.where(self._criteria_clause(side, criteria))
        if after is not None:
            query = query.where(orders.c.rank > after)
        query = query.order_by(orders.c.rank).limit(limit)
        with self.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def _bids_for_id(token_id: int):
        """Criteria bids (tokenId 0) that the batch of ``token_id`` meets, through its cached ``ids`` row.

        The vintage rule is the contract's (``CreditCriteria.vintageWithin``): a batch meets [vintageFrom, vintageTo]
        when its monitoring period starts in or after vintageFrom and ends in or before vintageTo (0: unbounded),
        its years being the UTC calendar years of the period's start and end (``CreditCriteria.vintageOf``)."""
        batch = select(ids).where(ids.c.token_id == token_id).subquery()
        meets = (
            select(batch.c.token_id)
            .where(
                or_(orders.c.project_id == 0, orders.c.project_id == batch.c.project_id),
                or_(orders.c.standard_hash == _hex(b"\x00" * 32), orders.c.standard_hash == batch.c.standard_hash),
                orders.c.vintage_from <= batch.c.vintage_start,
                or_(orders.c.vintage_to == 0, orders.c.vintage_to >= batch.c.vintage_end),
                or_(orders.c.country == "0x0000", orders.c.country == batch.c.country),
            )
            .exists()
        )
        return and_(orders.c.token_id == 0, meets)

    @staticmethod
    def _criteria_clause(side: int, c: Criteria):
        """Orders of a specific id whose batch (``ids``) meets the query; and, for buys, criteria bids compatible
        with it (each criterion the query gives is the bid's or "any" in the bid; vintage ranges overlap)."""
        batch_terms = []
        if c.project_id is not None:
            batch_terms.append(ids.c.project_id == c.project_id)
        if c.standard_hash is not None:
            batch_terms.append(ids.c.standard_hash == _hex(c.standard_hash))
        if c.vintage_from is not None:
            batch_terms.append(ids.c.vintage_start >= c.vintage_from)
        if c.vintage_to is not None:
            batch_terms.append(ids.c.vintage_end <= c.vintage_to)
        if c.country is not None:
            batch_terms.append(ids.c.country == _hex(c.country))
        of_id = and_(
            orders.c.token_id != 0,
            select(ids.c.token_id).where(ids.c.token_id == orders.c.token_id, *batch_terms).exists(),
        )
        if side == SELL:
            return of_id
        bid_terms = []
        if c.project_id is not None:
            bid_terms.append(or_(orders.c.project_id == 0, orders.c.project_id == c.project_id))
        if c.standard_hash is not None:
            bid_terms.append(
                or_(orders.c.standard_hash == _hex(b"\x00" * 32), orders.c.standard_hash == _hex(c.standard_hash))
            )
        if c.country is not None:
            bid_terms.append(or_(orders.c.country == "0x0000", orders.c.country == _hex(c.country)))
        if c.vintage_to is not None:
            bid_terms.append(orders.c.vintage_from <= c.vintage_to)
        if c.vintage_from is not None:
            bid_terms.append(or_(orders.c.vintage_to == 0, orders.c.vintage_to >= c.vintage_from))
        return or_(of_id, and_(orders.c.token_id == 0, *bid_terms))

    def changes_since(self, since: int, limit: int = 100) -> list[dict]:
        query = select(changes).where(changes.c.seq > since).order_by(changes.c.seq).limit(limit)
        with self.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def last_seq(self) -> int:
        with self.read() as conn:
            return conn.execute(select(func.max(changes.c.seq))).scalar() or 0

    def count(self, state: str | None = OPEN) -> int:
        query = select(func.count()).select_from(orders)
        if state is not None:
            query = query.where(orders.c.state == state)
        with self.read() as conn:
            return conn.execute(query).scalar()

    # ---------------------------------------------------------------- the follower's cursor and events

    def cursor(self, name: str) -> Cursor | None:
        with self.read() as conn:
            row = conn.execute(
                select(cursor_table.c.block_number, cursor_table.c.block_hash).where(cursor_table.c.name == name)
            ).first()
        return Cursor(row[0], row[1]) if row else None

    def checkpoints(self, name: str) -> list[Cursor]:
        """The block hashes the follower saw at the end of each range, newest first."""
        with self.read() as conn:
            rows = conn.execute(
                select(checkpoints.c.block_number, checkpoints.c.block_hash)
                .where(checkpoints.c.name == name)
                .order_by(checkpoints.c.block_number.desc())
            ).all()
        return [Cursor(n, h) for n, h in rows]

    def apply(self, name: str, chain_events: Iterable[ChainEvent], to_block: int, to_hash: str) -> int:
        """Apply a range's events and move the cursor to (``to_block``, ``to_hash``), in ONE transaction: a crash
        anywhere leaves the database at the previous cursor with none of the range applied. Events already
        applied (same block hash, tx hash, log index) are skipped. Returns the number of changes written."""
        now = time.time()
        written = 0
        with self.write() as conn:
            for ev in chain_events:
                if ev.kind == "touched":
                    for maker in ev.makers:
                        self._queue(conn, maker, now)
                    continue
                inserted = _inserted(
                    conn,
                    self._insert(events)
                    .values(
                        block_number=ev.block_number,
                        block_hash=ev.block_hash,
                        tx_hash=ev.tx_hash,
                        log_index=ev.log_index,
                        timestamp=ev.timestamp,
                        kind=ev.kind,
                        order_hash=ev.order_hash,
                        maker=ev.maker,
                        taker=ev.taker,
                        token_id=ev.token_id,
                        units=ev.units,
                        price_per_unit=ev.price_per_unit,
                        payment_token=ev.payment_token,
                        fee=ev.fee,
                        filled_total=ev.filled_total,
                        counter=ev.counter,
                    )
                    .on_conflict_do_nothing(),
                    events.c.id,
                )
                if inserted:
                    written += self._effect(conn, ev, now)
            conn.execute(
                self._insert(cursor_table)
                .values(name=name, block_number=to_block, block_hash=to_hash, updated=now)
                .on_conflict_do_update(
                    index_elements=["name"], set_={"block_number": to_block, "block_hash": to_hash, "updated": now}
                )
            )
            conn.execute(
                self._insert(checkpoints)
                .values(name=name, block_number=to_block, block_hash=to_hash)
                .on_conflict_do_update(index_elements=["name", "block_number"], set_={"block_hash": to_hash})
            )
            conn.execute(
                delete(checkpoints).where(
                    checkpoints.c.name == name, checkpoints.c.block_number < to_block - CHECKPOINTS_KEPT * 16
                )
            )
        return written

    def _effect(self, conn: Connection, ev: ChainEvent, now: float) -> int:
        if ev.kind == "filled":
            row = conn.execute(select(orders).where(orders.c.hash == ev.order_hash)).mappings().first()
            if row is None:
                return 0  # an order this book never held: kept as a trade, nothing to update
            filled = max(row["filled"], ev.filled_total or 0)
            if filled >= row["amount"]:
                state, fillable, reason = FILLED, 0, "filled"
            else:
                state, fillable, reason = row["state"], min(row["fillable"], row["amount"] - filled), row["reason"]
                self._queue(conn, ev.order_hash, now)  # the rest may be short of balance now
            self._set(conn, ev.order_hash, "filled", state, filled, fillable, reason, now)
            return 1
        if ev.kind == "cancelled":
            row = conn.execute(select(orders.c.state, orders.c.filled).where(orders.c.hash == ev.order_hash)).first()
            if row is None or row[0] == CANCELLED:
                return 0
            self._set(conn, ev.order_hash, "cancelled", CANCELLED, row[1], 0, "cancelled", now)
            return 1
        if ev.kind == "counter":
            conn.execute(
                self._insert(counters)
                .values(maker=ev.maker, counter=ev.counter)
                .on_conflict_do_update(index_elements=["maker"], set_={"counter": ev.counter})
            )
            return self._cancel_below_counter(conn, ev.maker, ev.counter, now)
        raise ValueError(f"unknown event kind {ev.kind!r}")

    def _cancel_below_counter(self, conn: Connection, maker: str, counter: int, now: float) -> int:
        rows = conn.execute(
            select(orders.c.hash, orders.c.filled).where(
                orders.c.maker == maker, orders.c.state.in_(LIVE), orders.c.counter < counter
            )
        ).all()
        for order_hash, filled in rows:
            self._set(conn, order_hash, "cancelled", CANCELLED, filled, 0, "counter raised", now)
        return len(rows)

    def _set(self, conn, order_hash, kind, state, filled, fillable, reason, now) -> None:
        conn.execute(
            update(orders)
            .where(orders.c.hash == order_hash)
            .values(state=state, filled=filled, fillable=fillable, reason=reason, updated=now)
        )
        self._change(conn, order_hash, kind, state, filled, fillable, reason, now)

    def _queue(self, conn: Connection, key: str, now: float) -> None:
        # Re-queued with the new time: a re-check taken before this event must not drop it (``done_rechecks``).
        conn.execute(
            self._insert(rechecks)
            .values(key=key, queued_at=now)
            .on_conflict_do_update(index_elements=["key"], set_={"queued_at": now})
        )

    def rewind(self, name: str, to: Cursor | None, start_block: int) -> int:
        """Undo everything after block ``to`` (a reorg forked after it; None: back to before ``start_block``), in
        one transaction: drop those events and checkpoints, recompute the filled amount, cancel and counter of
        every order and maker they touched from the events that remain, queue those orders for a re-check, and
        move the cursor back. Returns the number of orders recomputed."""
        number = to.block_number if to else start_block - 1
        now = time.time()
        with self.write() as conn:
            gone = conn.execute(select(events.c.order_hash, events.c.maker).where(events.c.block_number > number)).all()
            conn.execute(delete(events).where(events.c.block_number > number))
            conn.execute(delete(checkpoints).where(checkpoints.c.name == name, checkpoints.c.block_number > number))
            if to is None:
                conn.execute(delete(cursor_table).where(cursor_table.c.name == name))
            else:
                conn.execute(
                    update(cursor_table)
                    .where(cursor_table.c.name == name)
                    .values(block_number=to.block_number, block_hash=to.block_hash, updated=now)
                )
            makers = {m for _, m in gone if m}
            for maker in makers:  # the counter from the events that remain
                counter = conn.execute(
                    select(func.max(events.c.counter)).where(events.c.kind == "counter", events.c.maker == maker)
                ).scalar()
                if counter is None:
                    conn.execute(delete(counters).where(counters.c.maker == maker))
                else:
                    conn.execute(update(counters).where(counters.c.maker == maker).values(counter=counter))
            touched = {h for h, _ in gone if h}
            touched |= {
                r[0]
                for r in conn.execute(
                    select(orders.c.hash).where(
                        orders.c.maker.in_(makers), orders.c.state == CANCELLED, orders.c.reason == "counter raised"
                    )
                )
            }
            for order_hash in sorted(touched):
                self._recompute(conn, order_hash, now)
        return len(touched)

    def _recompute(self, conn: Connection, order_hash: str, now: float) -> None:
        row = conn.execute(select(orders).where(orders.c.hash == order_hash)).mappings().first()
        if row is None:
            return
        filled = (
            conn.execute(
                select(func.max(events.c.filled_total)).where(
                    events.c.kind == "filled", events.c.order_hash == order_hash
                )
            ).scalar()
            or 0
        )
        cancelled = conn.execute(
            select(events.c.id).where(events.c.kind == "cancelled", events.c.order_hash == order_hash)
        ).first()
        counter = conn.execute(select(counters.c.counter).where(counters.c.maker == row["maker"])).scalar() or 0
        if cancelled:
            state, fillable, reason = CANCELLED, 0, "cancelled"
        elif counter > row["counter"]:
            state, fillable, reason = CANCELLED, 0, "counter raised"
        elif filled >= row["amount"]:
            state, fillable, reason = FILLED, 0, "filled"
        elif row["state"] == EXPIRED:
            state, fillable, reason = EXPIRED, 0, "expired"
        else:  # live again: how much is fillable is for the re-check to say
            state, fillable, reason = OPEN, row["amount"] - filled, "reorg: to re-check"
            self._queue(conn, order_hash, now)
        self._set(conn, order_hash, "reorg", state, filled, fillable, reason, now)

    # ---------------------------------------------------------------- expiry and re-checks

    def expire(self, now_chain: int, limit: int = 1000) -> int:
        """Orders whose expiry has passed become expired; at most ``limit`` a call. The contract's rule: an order
        fills while ``block.timestamp <= expiry`` (inclusive), so it is dropped only once ``now_chain > expiry``."""
        now = time.time()
        with self.write() as conn:
            rows = conn.execute(
                select(orders.c.hash, orders.c.filled)
                .where(orders.c.state.in_(LIVE), orders.c.expiry < now_chain)
                .limit(limit)
            ).all()
            for order_hash, filled in rows:
                self._set(conn, order_hash, "expired", EXPIRED, filled, 0, "expired", now)
        return len(rows)

    def take_rechecks(self, max_orders: int) -> tuple[list[tuple[str, float]], list[dict]]:
        """Up to ``max_orders`` live orders of the queued makers and queued orders (oldest queued first); returns the
        queue keys wholly covered, to be dropped by ``done_rechecks`` once checked (a crash re-checks them)."""
        keys: list[tuple[str, float]] = []
        found: dict[str, dict] = {}
        with self.read() as conn:
            queued = conn.execute(
                select(rechecks.c.key, rechecks.c.queued_at).order_by(rechecks.c.queued_at, rechecks.c.key).limit(256)
            )
            for key, queued_at in queued.all():
                room = max_orders - len(found)
                if room <= 0:
                    break
                where = orders.c.hash == key if len(key) == 66 else orders.c.maker == key
                rows = conn.execute(
                    select(orders)
                    .where(where, orders.c.state.in_(LIVE), orders.c.checked_at <= queued_at)
                    .order_by(orders.c.checked_at, orders.c.hash)
                    .limit(room + 1)
                ).mappings()
                rows = [dict(r) for r in rows]
                for r in rows[:room]:
                    found[r["hash"]] = r
                if len(rows) > room:
                    break  # more of them than room: the key stays queued; those checked since it was queued
                    # are not taken again, so the next polls reach the rest
                keys.append((key, queued_at))
        return keys, list(found.values())

    def done_rechecks(self, keys: Sequence[tuple[str, float]]) -> None:
        """Drop the re-checks done, unless queued again since they were taken."""
        if keys:
            with self.write() as conn:
                for key, queued_at in keys:
                    conn.execute(delete(rechecks).where(rechecks.c.key == key, rechecks.c.queued_at == queued_at))

    def set_fillable(self, order_hash: str, units: int, reason: int) -> bool:
        """Record a fillability check; a change row when the state or the fillable units moved."""
        now = time.time()
        why = FILLABLE_REASONS.get(reason, f"reason {reason}")
        with self.write() as conn:
            row = conn.execute(select(orders).where(orders.c.hash == order_hash)).mappings().first()
            if row is None or row["state"] not in LIVE:
                return False
            if units > 0:
                state = OPEN
            elif reason in FINAL_REASONS:
                state = FINAL_REASONS[reason]
            else:
                state = UNFILLABLE
            if state == row["state"] and units == row["fillable"]:
                conn.execute(update(orders).where(orders.c.hash == order_hash).values(checked_at=now, reason=why))
                return False
            conn.execute(update(orders).where(orders.c.hash == order_hash).values(checked_at=now))
            self._set(conn, order_hash, "fillable", state, row["filled"], units, why, now)
        return True

    # ---------------------------------------------------------------- export

    def export_day(self, day: date) -> tuple[str, str]:
        """(orders CSV, trades CSV) of one UTC day: the orders first seen that day, the fills mined that day."""
        start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        end = start + timedelta(days=1).total_seconds()
        order_cols = ["hash"] + [a for _, _, a in ORDER_FIELDS] + ["state", "filled", "fillable", "reason"]
        order_cols += ["first_seen", "updated"]
        trade_cols = ["block_number", "block_hash", "tx_hash", "log_index", "timestamp", "order_hash", "maker"]
        trade_cols += ["taker", "token_id", "units", "price_per_unit", "payment_token", "fee", "filled_total"]
        with self.read() as conn:
            order_rows = conn.execute(
                select(*[orders.c[c] for c in order_cols])
                .where(orders.c.first_seen >= start, orders.c.first_seen < end)
                .order_by(orders.c.first_seen, orders.c.hash)
            ).all()
            trade_rows = conn.execute(
                select(*[events.c[c] for c in trade_cols])
                .where(events.c.kind == "filled", events.c.timestamp >= int(start), events.c.timestamp < int(end))
                .order_by(events.c.block_number, events.c.log_index)
            ).all()
        return _csv(order_cols, order_rows), _csv(trade_cols, trade_rows)


def _inserted(conn: Connection, statement, column) -> bool:
    """Whether an INSERT .. ON CONFLICT DO NOTHING inserted its row (RETURNING: psycopg's rowcount is -1 here)."""
    return conn.execute(statement.returning(column)).first() is not None


def _csv(columns: list[str], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()
