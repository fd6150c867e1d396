"""What every Tonne database shares: one engine setup for SQLite (the default, nothing to install) and PostgreSQL (by
URL, when a team shares the data), write transactions that queue instead of failing, exact 256-bit integers, and
statements compiled once for the hot paths. The order book (``tonne.market.book.store``), the MRV readings
(``tonne.mrv.store``) and the supervision index (``tonne.supervise.store``) are each a ``Database``.

Writes: every write is one transaction (``Database.write``). On SQLite it is ``BEGIN IMMEDIATE`` in WAL mode with a
busy timeout, so two writers queue at BEGIN; on PostgreSQL it first takes a transaction-level advisory lock, one key
per kind of database, so that what one writer numbers is committed in its order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, Numeric, String, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator


class DatabaseError(ValueError):
    """A database URL that cannot be used, or a file that is not a database."""


def id_type():
    """An auto-incrementing 64-bit id: BIGINT on PostgreSQL, INTEGER on SQLite (only an INTEGER PRIMARY KEY is the
    rowid alias there, which autoincrement needs)."""
    return BigInteger().with_variant(Integer(), "sqlite")


class UInt(TypeDecorator):
    """An unsigned integer of ``bits`` bits, exact and ordered as a number on both databases."""

    impl = String
    cache_ok = True

    def __init__(self, bits: int = 256):
        self.bits = bits
        self.width = len(str((1 << bits) - 1))
        super().__init__(self.width)

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(self.width, 0))
        return dialect.type_descriptor(String(self.width))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = int(value)
        if not 0 <= value < 1 << self.bits:
            raise ValueError(f"{value} is not a uint{self.bits}")
        return Decimal(value) if dialect.name == "postgresql" else str(value).zfill(self.width)

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


class Prepared:
    """A statement of the submission path compiled once for the engine's dialect and run on the DBAPI cursor of a
    SQLAlchemy Connection (inside its transaction), its parameters and results converted by the columns' own types
    (``UInt`` and the rest): SQLAlchemy's per-execute work (cache lookup, parameter and result objects, events) cost
    more than SQLite itself there. ``names``: the bound parameters, e.g. the columns an INSERT sets."""

    def __init__(self, statement, dialect, names: Sequence[str] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=list(names) if names is not None else None)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        self.binds = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in self.names
        ]
        # Results as the drivers give them (str, int, float), but UInt's, which become exact ints (the driver's
        # Decimal or zero-padded string).
        selected = list(getattr(statement, "selected_columns", ()))
        self.results = [isinstance(col.type, UInt) for col in selected]
        self.keys = [col.key for col in selected]

    def params(self, values: dict[str, Any]):
        out = [(name, values[name] if process is None else process(values[name])) for name, process in self.binds]
        return [v for _, v in out] if self.positional else dict(out)

    def execute(self, conn: Connection, values: dict[str, Any]):
        cursor = conn.connection.cursor()
        cursor.execute(self.sql, self.params(values))
        return cursor

    def executemany(self, conn: Connection, many: Sequence[dict[str, Any]]) -> None:
        cursor = conn.connection.cursor()
        cursor.executemany(self.sql, [self.params(values) for values in many])
        cursor.close()

    def one(self, conn: Connection, values: dict[str, Any]) -> dict[str, Any] | None:
        """The first row (its values through the result columns' types), or None."""
        cursor = self.execute(conn, values)
        row = cursor.fetchone()
        cursor.close()
        if row is None:
            return None
        return {
            k: int(v) if uint and v is not None else v for k, uint, v in zip(self.keys, self.results, row, strict=True)
        }


def sqlite_setup(engine: Engine) -> None:
    """WAL mode and a busy timeout (as the bridge's store), and transactions that SQLite itself begins: IMMEDIATE
    for writes (the write lock taken at BEGIN, so two writers queue instead of failing at commit), DEFERRED for
    reads."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # pysqlite's own BEGIN handling off; we emit BEGIN below
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        read_only = conn.get_execution_options().get("tonne_read")
        if read_only != "single":  # "single": one statement, in SQLite's autocommit mode its own transaction
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """An engine on ``url`` (``sqlite:///path`` or ``postgresql+psycopg://user@host/db``) with the house's
    transactions. ``lock_key``: the PostgreSQL advisory lock that serialises this kind of database's writers."""

    lock_key: int = 0

    def __init__(self, url: str, *, pool_size: int = 2):
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect == "sqlite" and not url.startswith("sqlite:///"):
            raise DatabaseError(f"database URL {url!r}: a file is sqlite:///relative/path or sqlite:////absolute/path")
        if self.dialect == "sqlite":
            self.engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            sqlite_setup(self.engine)
        elif self.dialect == "postgresql":
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        else:
            raise DatabaseError(f"database URL {url!r}: expected sqlite:///path or postgresql+psycopg://user@host/db")
        self.reader = self.engine.execution_options(tonne_read=True)
        self.insert = pg_insert if self.dialect == "postgresql" else sqlite_insert

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: all of it saved, or none (an exception rolls it back)."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.lock_key})
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as conn:
            yield conn
