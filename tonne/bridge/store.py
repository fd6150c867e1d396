"""The shared SQLite file where validators publish attestations and the relayer keeps its cursor.

Several processes write to it at once (one `attest` per validator key, one `relay`): WAL mode and a busy timeout
make that safe; every write is one short transaction. The chain stays the source of truth: the store only saves
work (signatures, the point up to which everything is known to be delivered), and losing it loses no message.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tonne.bridge.messages import Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    source_chain INTEGER NOT NULL,
    destination_chain INTEGER NOT NULL,
    source_gateway TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    payload BLOB NOT NULL,
    block_number INTEGER NOT NULL,
    sent_at REAL NOT NULL,          -- source block timestamp
    first_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_route ON messages (source_chain, destination_chain, nonce);
CREATE TABLE IF NOT EXISTS attestations (
    message_id TEXT NOT NULL,
    validator TEXT NOT NULL,
    signature BLOB NOT NULL,
    signed_at REAL NOT NULL,
    PRIMARY KEY (message_id, validator)
);
CREATE TABLE IF NOT EXISTS refusals (       -- messages a validator will not sign, and why
    message_id TEXT NOT NULL,
    validator TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (message_id, validator)
);
CREATE TABLE IF NOT EXISTS cursors (        -- next block to scan, per reader and source chain
    reader TEXT NOT NULL,
    source_chain INTEGER NOT NULL,
    next_block INTEGER NOT NULL,
    PRIMARY KEY (reader, source_chain)
);
CREATE TABLE IF NOT EXISTS deliveries (     -- what the relayer knows is delivered (on-chain processed)
    message_id TEXT PRIMARY KEY,
    tx_hash TEXT,                           -- NULL when someone else delivered it
    delivered_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_txs (    -- write-ahead: deliveries sent but not yet seen mined
    message_id TEXT PRIMARY KEY,
    tx_hash TEXT NOT NULL,
    sent_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredMessage:
    message: Message
    destination_chain: int
    block_number: int
    sent_at: float

    @property
    def id(self) -> bytes:
        return self.message.id


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The writes inside are one store transaction: all saved, or none (an exception rolls them back)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ cursors

    def cursor(self, reader: str, source_chain: int, default: int) -> int:
        row = self.db.execute(
            "SELECT next_block FROM cursors WHERE reader = ? AND source_chain = ?", (reader, source_chain)
        ).fetchone()
        return row[0] if row else default

    def set_cursor(self, reader: str, source_chain: int, next_block: int) -> None:
        self.db.execute(
            "INSERT INTO cursors (reader, source_chain, next_block) VALUES (?, ?, ?) "
            "ON CONFLICT (reader, source_chain) DO UPDATE SET next_block = excluded.next_block",
            (reader, source_chain, next_block),
        )

    # ------------------------------------------------------------------ messages and attestations

    def add_message(self, message: Message, destination_chain: int, block_number: int, sent_at: float) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "0x" + message.id.hex(),
                message.source_chain_id,
                destination_chain,
                message.source_gateway,
                message.sender,
                message.recipient,
                message.nonce,
                message.payload,
                block_number,
                sent_at,
                time.time(),
            ),
        )

    def add_attestation(self, message_id: bytes, validator: str, signature: bytes) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO attestations VALUES (?, ?, ?, ?)",
            ("0x" + message_id.hex(), validator, signature, time.time()),
        )

    def add_refusal(self, message_id: bytes, validator: str, reason: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO refusals VALUES (?, ?, ?)", ("0x" + message_id.hex(), validator, reason)
        )

    def attestations(self, message_id: bytes) -> dict[str, bytes]:
        rows = self.db.execute(
            "SELECT validator, signature FROM attestations WHERE message_id = ?", ("0x" + message_id.hex(),)
        )
        return {validator: bytes(sig) for validator, sig in rows}

    def messages(self, destination_chain: int | None = None, min_nonce: int = 0) -> list[StoredMessage]:
        query = "SELECT * FROM messages WHERE nonce >= ?"
        args: list = [min_nonce]
        if destination_chain is not None:
            query += " AND destination_chain = ?"
            args.append(destination_chain)
        rows = self.db.execute(query + " ORDER BY source_chain, nonce", args).fetchall()
        return [
            StoredMessage(
                Message(r[1], r[3], r[4], r[5], r[6], bytes(r[7])),
                destination_chain=r[2],
                block_number=r[8],
                sent_at=r[9],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ relayer

    def delivered(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT message_id FROM deliveries")}

    def mark_delivered(self, message_id: bytes, tx_hash: str | None) -> None:
        key = "0x" + message_id.hex()
        self.db.execute("BEGIN")
        self.db.execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?)", (key, tx_hash, time.time()))
        self.db.execute("DELETE FROM pending_txs WHERE message_id = ?", (key,))
        self.db.execute("COMMIT")

    def mark_delivered_many(self, message_ids: list[bytes], tx_hash: str | None) -> None:
        """``mark_delivered`` for many messages (a batch's), in one store transaction."""
        if not message_ids:
            return
        keys = ["0x" + m.hex() for m in message_ids]
        now = time.time()
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?)", [(k, tx_hash, now) for k in keys])
        self.db.executemany("DELETE FROM pending_txs WHERE message_id = ?", [(k,) for k in keys])
        self.db.execute("COMMIT")

    def add_pending_many(self, message_ids: list[bytes], tx_hash: str) -> None:
        """The write-ahead note of a batch: one row per message, all naming the batch's transaction, in one store
        transaction (all or none)."""
        now = time.time()
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO pending_txs VALUES (?, ?, ?)", [("0x" + m.hex(), tx_hash, now) for m in message_ids]
        )
        self.db.execute("COMMIT")

    def add_pending(self, message_id: bytes, tx_hash: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO pending_txs VALUES (?, ?, ?)", ("0x" + message_id.hex(), tx_hash, time.time())
        )

    def pending(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT message_id, tx_hash FROM pending_txs").fetchall())

    def drop_pending(self, message_id: str) -> None:
        self.db.execute("DELETE FROM pending_txs WHERE message_id = ?", (message_id,))
