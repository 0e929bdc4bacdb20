"""The SP-MIS's durable memory, one SQLite file: callbacks received, the message ids of verified
callbacks (replay memory), async requests sent, and push checkpoints.

SQLite in WAL mode lets the receiver (which writes) and a CLI or SDK process (which waits for a
callback) share the file. Every write is its own transaction, so a crash loses nothing that was
acknowledged.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["ClientStore", "StoredCallback"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS callback (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at     TEXT NOT NULL,
    action          TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    transaction_id  TEXT,
    correlation_id  TEXT,
    header          TEXT NOT NULL,
    message         TEXT NOT NULL,
    UNIQUE (sender_id, message_id)
);
CREATE INDEX IF NOT EXISTS ix_callback_txn ON callback (transaction_id, action);
CREATE TABLE IF NOT EXISTS seen_message (
    sender_id       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    expires_at      REAL NOT NULL,
    PRIMARY KEY (sender_id, message_id)
);
CREATE INDEX IF NOT EXISTS ix_seen_message_expiry ON seen_message (expires_at);
CREATE TABLE IF NOT EXISTS sent_request (
    transaction_id  TEXT PRIMARY KEY,
    operation       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    sent_at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS push_checkpoint (
    source_key      TEXT NOT NULL,
    batch_index     INTEGER NOT NULL,
    transaction_id  TEXT NOT NULL,
    record_count    INTEGER NOT NULL,
    done_at         TEXT NOT NULL,
    PRIMARY KEY (source_key, batch_index)
);
"""


_SELECT_CALLBACK = (
    "SELECT id, received_at, action, sender_id, message_id, transaction_id,"
    " correlation_id, header, message FROM callback "
)


@dataclass(frozen=True)
class StoredCallback:
    id: int
    received_at: str
    action: str
    sender_id: str
    message_id: str
    transaction_id: str | None
    correlation_id: str | None
    header: dict[str, Any]
    message: dict[str, Any]


def _business_key(action: str, message: dict[str, Any]) -> tuple[str, ...] | None:
    """What identifies a callback's business content across redeliveries (None: unknown)."""
    if action == "notify":
        events = message.get("notify_event")
        if not isinstance(events, list) or not message.get("transaction_id"):
            return None
        references = sorted(str(e.get("reference_id")) for e in events if isinstance(e, dict))
        return (str(message["transaction_id"]), *references)
    # An on-* callback redelivered by the IBR carries the same message under a new header;
    # comparing whole messages keeps distinct callbacks of one correlation (pages) apart.
    return (hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest(),)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ClientStore:
    """Thread-safe access to the SQLite file at ``path`` (created with its folder if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- callbacks ----------------------------------------------------------------------------

    def record_callback(
        self, action: str, header: dict[str, Any], message: dict[str, Any]
    ) -> StoredCallback | None:
        """Store a callback; None when it is a repeat of one already stored.

        A repeat is the same sender's ``message_id`` again, or a redelivery with a new
        ``message_id`` of the same business message: the same message (same ``correlation_id``)
        for on-* callbacks, the same ``transaction_id`` and event ``reference_id`` set for
        notify (IBR-NOTIFY-003).
        """
        business_key = _business_key(action, message)
        with self._tx() as db:
            if business_key is not None and self._has_business_key(
                db, action, str(header.get("sender_id", "")), message, business_key
            ):
                return None
            cursor = db.execute(
                "INSERT OR IGNORE INTO callback (received_at, action, sender_id, message_id,"
                " transaction_id, correlation_id, header, message)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    action,
                    str(header.get("sender_id", "")),
                    str(header["message_id"]),
                    message.get("transaction_id"),
                    message.get("correlation_id"),
                    json.dumps(header),
                    json.dumps(message),
                ),
            )
            if cursor.rowcount == 0:
                return None
            row_id = cursor.lastrowid
        return self.callback(int(row_id or 0))

    @staticmethod
    def _has_business_key(
        db: sqlite3.Connection,
        action: str,
        sender_id: str,
        message: dict[str, Any],
        business_key: tuple[str, ...],
    ) -> bool:
        rows = db.execute(
            "SELECT message FROM callback WHERE action = ? AND sender_id = ?"
            " AND transaction_id IS ? AND correlation_id IS ?",
            (action, sender_id, message.get("transaction_id"), message.get("correlation_id")),
        ).fetchall()
        return any(_business_key(action, json.loads(row[0])) == business_key for row in rows)

    def callback(self, callback_id: int) -> StoredCallback | None:
        rows = self._select("WHERE id = ?", (callback_id,))
        return rows[0] if rows else None

    def find_callback(self, transaction_id: str, action: str) -> StoredCallback | None:
        """The first callback ``action`` that answers ``transaction_id``."""
        rows = self._select(
            "WHERE transaction_id = ? AND action = ? ORDER BY id LIMIT 1", (transaction_id, action)
        )
        return rows[0] if rows else None

    def callbacks(self, *, action: str | None = None, after_id: int = 0) -> list[StoredCallback]:
        """Callbacks received after ``after_id``, oldest first, optionally of one action."""
        if action is None:
            return self._select("WHERE id > ? ORDER BY id", (after_id,))
        return self._select("WHERE id > ? AND action = ? ORDER BY id", (after_id, action))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[StoredCallback]:
        # `where` is always one of this class's literal clauses; values go through `params`.
        sql = _SELECT_CALLBACK + where
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [
            StoredCallback(
                id=row[0],
                received_at=row[1],
                action=row[2],
                sender_id=row[3],
                message_id=row[4],
                transaction_id=row[5],
                correlation_id=row[6],
                header=json.loads(row[7]),
                message=json.loads(row[8]),
            )
            for row in rows
        ]

    # -- replay memory ------------------------------------------------------------------------

    def remember(self, sender_id: str, message_id: str, expires_at: datetime) -> bool:
        """Record a verified message id until ``expires_at``; False when it was seen before.

        This is :class:`ibr_protocol.ReplayGuard` over the store, so it survives restarts.
        """
        with self._tx() as db:
            db.execute(
                "DELETE FROM seen_message WHERE expires_at <= ?", (datetime.now(UTC).timestamp(),)
            )
            cursor = db.execute(
                "INSERT OR IGNORE INTO seen_message VALUES (?, ?, ?)",
                (sender_id, message_id, expires_at.timestamp()),
            )
            return cursor.rowcount == 1

    # -- async requests sent ------------------------------------------------------------------

    def record_sent(self, transaction_id: str, operation: str, message_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO sent_request VALUES (?, ?, ?, ?)",
                (transaction_id, operation, message_id, _now()),
            )

    def sent_operation(self, transaction_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT operation FROM sent_request WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    # -- push checkpoints ---------------------------------------------------------------------

    def completed_batches(self, source_key: str) -> set[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT batch_index FROM push_checkpoint WHERE source_key = ?", (source_key,)
            ).fetchall()
        return {int(row[0]) for row in rows}

    def mark_batch_done(
        self, source_key: str, batch_index: int, transaction_id: str, record_count: int
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO push_checkpoint VALUES (?, ?, ?, ?, ?)",
                (source_key, batch_index, transaction_id, record_count, _now()),
            )
