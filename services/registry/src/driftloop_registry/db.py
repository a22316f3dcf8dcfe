"""The registry's SQLite file: one connection, its lock, the schema and its migrations.

The registry is the only writer. Versions and the gate's decisions are written when a candidate
is judged; the promotion and rollout histories only by the registry's own consumer of
model.promoted and model.rollout (projection.py), so they follow the streams in stream order.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    dataset     TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    run_id      TEXT    NOT NULL UNIQUE,
    status      TEXT    NOT NULL CHECK (status IN ('candidate', 'champion', 'rejected', 'retired')),
    created_at  TEXT    NOT NULL,
    training    TEXT    NOT NULL,  -- the training.completed event (JSON): artifact, lineage
    decision    TEXT,              -- the gate's decision (JSON), once made
    PRIMARY KEY (dataset, version)
);
CREATE TABLE IF NOT EXISTS promotions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset          TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    previous_version INTEGER,
    reason           TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    event_id         TEXT    NOT NULL UNIQUE,
    correlation_id   TEXT    NOT NULL,
    at               TEXT    NOT NULL,
    stream_ms        INTEGER,  -- entry id in model.promoted (ms-seq): the history's order
    stream_seq       INTEGER
);
CREATE TABLE IF NOT EXISTS rollout_changes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset        TEXT    NOT NULL,
    stage          TEXT    NOT NULL CHECK (stage IN ('canary', 'shadow', 'ended')),
    outcome        TEXT    NOT NULL,
    model_version  INTEGER NOT NULL,
    share          REAL    NOT NULL,
    actor          TEXT    NOT NULL,
    event_id       TEXT    NOT NULL UNIQUE,
    at             TEXT    NOT NULL,
    stream_ms      INTEGER NOT NULL,  -- entry id in model.rollout: the latest one is current
    stream_seq     INTEGER NOT NULL
);
"""

#: Files written before the registry followed its own streams: promotions had no stream
#: position (they sort first, by id), and the current rollout had a table of its own.
MIGRATIONS = [
    ("promotions", "stream_ms", "ALTER TABLE promotions ADD COLUMN stream_ms INTEGER"),
    ("promotions", "stream_seq", "ALTER TABLE promotions ADD COLUMN stream_seq INTEGER"),
]
#: After the migrations (old files gain the columns first).
INDEXES = [
    "CREATE INDEX IF NOT EXISTS promotions_order ON promotions (dataset, stream_ms, stream_seq)",
    "CREATE INDEX IF NOT EXISTS rollout_changes_order "
    "ON rollout_changes (dataset, stream_ms, stream_seq)",
]
MIGRATED_ROLLOUT = (
    "INSERT OR IGNORE INTO rollout_changes (dataset, stage, outcome, model_version, share, "
    "actor, event_id, at, stream_ms, stream_seq) VALUES (?, ?, 'started', ?, ?, ?, ?, ?, 0, 0)"
)


class Database:
    """A connection shared by the writer and the read side, serialised by one lock."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        self._db.executescript(SCHEMA)  # idempotent; executescript commits by itself
        with self.transaction() as db:
            for table, column, statement in MIGRATIONS:
                columns = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    db.execute(statement)
            legacy = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollouts'"
            ).fetchone()
            if legacy:
                _migrate_rollouts(db)
            for statement in INDEXES:
                db.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back if the block raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Reads under the lock (one connection serves both sides)."""
        with self._lock:
            yield self._db


def _migrate_rollouts(db: sqlite3.Connection) -> None:
    """The old table's current rollout becomes the first entry of the history."""
    for r in db.execute("SELECT * FROM rollouts").fetchall():
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"driftloop:migrated-rollout:{r['dataset']}")
        db.execute(
            MIGRATED_ROLLOUT,
            (
                r["dataset"],
                r["stage"],
                r["model_version"],
                r["share"],
                r["actor"],
                str(event_id),
                r["started_at"],
            ),
        )
    db.execute("DROP TABLE rollouts")
