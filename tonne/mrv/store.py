"""The MRV readings store, through SQLAlchemy Core: SQLite by default, PostgreSQL by URL (as the order book's store,
``tonne.market.book.store``, whose column types and SQLite set-up it reuses).

Tables:
- ``mrv_readings``: the good readings, one row per (device, sequence) (the primary key: a reading is stored once,
  whatever is ingested twice), with where it came from (file and line) and the ingest run that stored it;
- ``mrv_runs``: one row per ingest run (its files, start and end, counts; ``running`` until it finishes, so a run
  killed midway stays visible as such);
- ``mrv_conflicts``: evidence of double reporting: an authentic reading (signed by the device's key) for a
  sequence already stored with other content, or for an interval overlapping the device's previous reading; both
  readings are kept with their signatures, so that a challenge can be built from the row alone. Unique by (device,
  sequence, other signature): ingesting the same file again records nothing twice.

Every write is one transaction: ``BEGIN IMMEDIATE`` on SQLite (WAL mode, busy timeout), a transaction-level
advisory lock on PostgreSQL, so two ingests of the same files at once queue chunk by chunk and each reading is
stored once.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tonne.core.database import Database, DatabaseError, Prepared, UInt, id_type
from tonne.mrv.readings import Reading

ADVISORY_LOCK = 0x6D7276  # "mrv": serialises the ingests' writers on PostgreSQL


metadata = MetaData()
readings = Table(
    "mrv_readings",
    metadata,
    Column("device", String(66), primary_key=True),
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("meter_id", String(512), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=False),
    Column("value", UInt(256), nullable=False),
    Column("signature", String(132), nullable=False),
    Column("source", String(1024), nullable=False),
    Column("line", Integer, nullable=False),
    Column("run_id", Integer, nullable=False),
)
runs = Table(
    "mrv_runs",
    metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("sources", String(4096), nullable=False),
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("status", String(16), nullable=False),
    Column("lines", BigInteger, nullable=False, default=0),
    Column("stored", BigInteger, nullable=False, default=0),
    Column("duplicates", BigInteger, nullable=False, default=0),
    Column("problems", BigInteger, nullable=False, default=0),
    Column("refused", BigInteger, nullable=False, default=0),
    Column("conflicts", BigInteger, nullable=False, default=0),
    Column("gaps", BigInteger, nullable=False, default=0),
    sqlite_autoincrement=True,
)
conflicts = Table(
    "mrv_conflicts",
    metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # "sequence" (same sequence twice) or "overlap" (intervals)
    Column("device", String(66), nullable=False),
    Column("sequence", BigInteger, nullable=False),  # the stored reading's
    Column("stored_start", BigInteger, nullable=False),
    Column("stored_end", BigInteger, nullable=False),
    Column("stored_value", UInt(256), nullable=False),
    Column("stored_signature", String(132), nullable=False),
    Column("other_sequence", BigInteger, nullable=False),
    Column("other_start", BigInteger, nullable=False),
    Column("other_end", BigInteger, nullable=False),
    Column("other_value", UInt(256), nullable=False),
    Column("other_signature", String(132), nullable=False),
    Column("source", String(1024), nullable=False),
    Column("line", Integer, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("found_at", Float, nullable=False),
    UniqueConstraint("device", "sequence", "other_signature", name="mrv_conflicts_once"),
    sqlite_autoincrement=True,
)

READING_COLUMNS = [c.name for c in readings.c]


@dataclass(frozen=True)
class StoredReading:
    device: bytes
    sequence: int
    meter_id: str
    start: int
    end: int
    value: int
    signature: bytes
    source: str
    line: int

    @property
    def reading(self) -> Reading:
        return Reading(self.device, self.sequence, self.start, self.end, self.value)


def _stored(row: Any) -> StoredReading:
    m = row._mapping if hasattr(row, "_mapping") else row
    return StoredReading(
        device=bytes.fromhex(m["device"][2:]),
        sequence=int(m["sequence"]),
        meter_id=m["meter_id"],
        start=int(m["start_time"]),
        end=int(m["end_time"]),
        value=int(m["value"]),
        signature=bytes.fromhex(m["signature"][2:]),
        source=m["source"],
        line=int(m["line"]),
    )


class StoreError(ValueError):
    """A database URL that cannot be used."""


class ReadingStore(Database):
    lock_key = ADVISORY_LOCK

    def __init__(self, url: str):
        try:
            super().__init__(url)
        except DatabaseError as exc:
            raise StoreError(str(exc)) from exc
        metadata.create_all(self.engine)
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        dialect = self.engine.dialect
        self._insert_readings = Prepared(insert(readings).on_conflict_do_nothing(), dialect, READING_COLUMNS)
        conflict_names = [c.name for c in conflicts.c if c.name != "id"]
        self._insert_conflict = Prepared(insert(conflicts).on_conflict_do_nothing(), dialect, conflict_names)
        latest = select(func.max(readings.c.sequence)).where(readings.c.device == bindparam("device"))
        self._last = Prepared(
            select(*readings.c).where(
                readings.c.device == bindparam("device"), readings.c.sequence == latest.scalar_subquery()
            ),
            dialect,
        )
        self._range = Prepared(
            select(readings.c.sequence, readings.c.start_time, readings.c.end_time, readings.c.value,
                   readings.c.signature)
            .where(readings.c.device == bindparam("device"), readings.c.sequence.between(bindparam("lo"),
                                                                                          bindparam("hi"))),
            dialect,
        )  # fmt: skip

    # ---------------------------------------------------------------- runs

    def start_run(self, sources: Sequence[str]) -> int:
        with self.write() as conn:
            result = conn.execute(
                runs.insert().values(sources="\n".join(sources)[:4096], started=time.time(), status="running")
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, status: str, counts: dict[str, int]) -> None:
        with self.write() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(finished=time.time(), status=status, **counts))

    def runs(self) -> list[dict]:
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(runs).order_by(runs.c.id))]

    # ---------------------------------------------------------------- the ingest's chunk writes

    def last_reading(self, conn: Connection, device_hex: str) -> dict | None:
        return self._last.one(conn, {"device": device_hex})

    def stored_range(self, conn: Connection, device_hex: str, lo: int, hi: int) -> dict[int, tuple]:
        """sequence -> (start, end, value, signature) of the device's stored readings with lo <= sequence <= hi."""
        cursor = self._range.execute(conn, {"device": device_hex, "lo": lo, "hi": hi})
        found = {int(s): (int(a), int(b), int(v), sig) for s, a, b, v, sig in cursor.fetchall()}
        cursor.close()
        return found

    def neighbours(self, conn: Connection, device_hex: str, sequence: int) -> tuple[dict | None, dict | None]:
        """The device's stored readings just below and just above ``sequence``."""
        below = conn.execute(
            select(*readings.c)
            .where(readings.c.device == device_hex, readings.c.sequence < sequence)
            .order_by(readings.c.sequence.desc())
            .limit(1)
        ).first()
        above = conn.execute(
            select(*readings.c)
            .where(readings.c.device == device_hex, readings.c.sequence > sequence)
            .order_by(readings.c.sequence)
            .limit(1)
        ).first()
        return (None if below is None else dict(below._mapping)), (None if above is None else dict(above._mapping))

    def insert_readings(self, conn: Connection, rows: Sequence[dict]) -> None:
        """Insert readings (dicts of READING_COLUMNS) on the DBAPI cursor, the parameters built directly (the
        ingest's hot path: SQLAlchemy's per-row processing cost more than SQLite's insert)."""
        if not rows:
            return
        prepared = self._insert_readings
        if self.dialect == "sqlite" and prepared.positional:
            order = prepared.names
            width = UInt(256).width
            at = order.index("value")
            getter = operator.itemgetter(*order)
            params = []
            for row in rows:
                values = list(getter(row))
                values[at] = str(values[at]).zfill(width)
                params.append(values)
            cursor = conn.connection.cursor()
            cursor.executemany(prepared.sql, params)
            cursor.close()
        elif self.dialect == "postgresql":
            # COPY: several times faster than executemany. Safe without ON CONFLICT: the ingest holds the advisory
            # lock and has checked, in this transaction, that none of these (device, sequence) is stored.
            cursor = conn.connection.cursor()
            with cursor.copy(f"COPY {readings.name} ({', '.join(READING_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[n] for n in READING_COLUMNS])
            cursor.close()
        else:  # pragma: no cover - the two dialects above are the only ones accepted
            prepared.executemany(conn, rows)

    def insert_conflicts(self, conn: Connection, rows: Sequence[dict]) -> None:
        if rows:
            self._insert_conflict.executemany(conn, rows)

    # ---------------------------------------------------------------- queries

    def count(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(readings)).scalar_one())

    def readings_of(self, device: bytes, start: int | None = None, end: int | None = None) -> list[StoredReading]:
        """The device's stored readings in sequence order; with ``start``/``end``, those that overlap [start, end)."""
        clause = [readings.c.device == "0x" + device.hex()]
        if start is not None:
            clause.append(readings.c.end_time > start)
        if end is not None:
            clause.append(readings.c.start_time < end)
        with self.read() as conn:
            rows = conn.execute(select(readings).where(and_(*clause)).order_by(readings.c.sequence))
            return [_stored(r) for r in rows]

    def reading(self, device: bytes, sequence: int) -> StoredReading | None:
        with self.read() as conn:
            row = conn.execute(
                select(readings).where(readings.c.device == "0x" + device.hex(), readings.c.sequence == sequence)
            ).first()
        return None if row is None else _stored(row)

    def all_readings(self) -> list[tuple]:
        """Every stored reading's signed fields and source (tests compare stores with it)."""
        with self.read() as conn:
            rows = conn.execute(
                select(
                    readings.c.device,
                    readings.c.sequence,
                    readings.c.meter_id,
                    readings.c.start_time,
                    readings.c.end_time,
                    readings.c.value,
                    readings.c.signature,
                    readings.c.source,
                    readings.c.line,
                ).order_by(readings.c.device, readings.c.sequence)
            )
            return [tuple(r) for r in rows]

    def conflicts(self) -> list[dict]:
        with self.read() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(select(conflicts).order_by(conflicts.c.device, conflicts.c.sequence))
            ]
