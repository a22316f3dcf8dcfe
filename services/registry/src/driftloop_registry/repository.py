"""Model versions, their lineage and the promotion history, in SQLite (the registry's own DB)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from driftloop_contracts import TrainingCompleted, utcnow

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
CREATE TABLE IF NOT EXISTS rollouts (
    dataset       TEXT    PRIMARY KEY,
    stage         TEXT    NOT NULL CHECK (stage IN ('canary', 'shadow')),
    model_version INTEGER NOT NULL,
    share         REAL    NOT NULL,
    actor         TEXT    NOT NULL,
    started_at    TEXT    NOT NULL
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
    at               TEXT    NOT NULL
);
"""


@dataclass(frozen=True)
class VersionRow:
    dataset: str
    version: int
    run_id: str
    status: str
    created_at: datetime
    training: TrainingCompleted
    decision: dict[str, Any] | None

    def public(self) -> dict[str, Any]:
        t = self.training
        return {
            "dataset": self.dataset,
            "version": self.version,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "run_id": self.run_id,
            "trigger": t.trigger,
            "metrics": t.metrics.model_dump(),
            "params": t.params,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class Promotion:
    dataset: str
    version: int
    previous_version: int | None
    reason: str
    actor: str
    event_id: str
    correlation_id: str
    at: str


class Repository:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back if the block raises (e.g. publishing failed)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def register(self, event: TrainingCompleted) -> VersionRow:
        """Record a candidate (idempotent on run_id) and return its row."""
        with self.transaction() as db:
            found = db.execute(
                "SELECT * FROM versions WHERE run_id = ?", (str(event.run_id),)
            ).fetchone()
            if found is None:
                (last,) = db.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM versions WHERE dataset = ?",
                    (event.dataset,),
                ).fetchone()
                db.execute(
                    "INSERT INTO versions (dataset, version, run_id, status, created_at, training) "
                    "VALUES (?, ?, ?, 'candidate', ?, ?)",
                    (
                        event.dataset,
                        last + 1,
                        str(event.run_id),
                        utcnow().isoformat(),
                        event.model_dump_json(),
                    ),
                )
                found = db.execute(
                    "SELECT * FROM versions WHERE run_id = ?", (str(event.run_id),)
                ).fetchone()
        return _row(found)

    def get(self, dataset: str, version: int) -> VersionRow | None:
        with self._lock:
            found = self._db.execute(
                "SELECT * FROM versions WHERE dataset = ? AND version = ?", (dataset, version)
            ).fetchone()
        return _row(found) if found else None

    def versions(self, dataset: str | None = None) -> list[VersionRow]:
        with self._lock:
            if dataset is None:
                rows = self._db.execute(
                    "SELECT * FROM versions ORDER BY dataset, version"
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM versions WHERE dataset = ? ORDER BY version", (dataset,)
                ).fetchall()
        return [_row(r) for r in rows]

    def champion(self, dataset: str) -> VersionRow | None:
        with self._lock:
            found = self._db.execute(
                "SELECT * FROM versions WHERE dataset = ? AND status = 'champion'", (dataset,)
            ).fetchone()
        return _row(found) if found else None

    def promotions(self, dataset: str) -> list[Promotion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM promotions WHERE dataset = ? ORDER BY id", (dataset,)
            ).fetchall()
        return [Promotion(**{k: r[k] for k in r.keys() if k != "id"}) for r in rows]  # noqa: SIM118

    def rollout(self, dataset: str) -> Rollout | None:
        with self._lock:
            found = self._db.execute(
                "SELECT * FROM rollouts WHERE dataset = ?", (dataset,)
            ).fetchone()
        return Rollout(**dict(found)) if found else None

    def set_rollout(self, rollout: Rollout | None, dataset: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM rollouts WHERE dataset = ?", (dataset,))
            if rollout is not None:
                db.execute(
                    "INSERT INTO rollouts (dataset, stage, model_version, share, actor, "
                    "started_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        rollout.dataset,
                        rollout.stage,
                        rollout.model_version,
                        rollout.share,
                        rollout.actor,
                        rollout.started_at,
                    ),
                )

    @staticmethod
    def decide(
        db: sqlite3.Connection, dataset: str, version: int, promote: bool, decision: dict[str, Any]
    ) -> None:
        status = "champion" if promote else "rejected"
        db.execute(
            "UPDATE versions SET status = ?, decision = ? WHERE dataset = ? AND version = ?",
            (status, json.dumps(decision), dataset, version),
        )

    @staticmethod
    def crown(db: sqlite3.Connection, promotion: Promotion) -> None:
        """Make `promotion.version` the one champion of its dataset and record the promotion."""
        db.execute(
            "UPDATE versions SET status = 'retired' WHERE dataset = ? AND status = 'champion'",
            (promotion.dataset,),
        )
        db.execute(
            "UPDATE versions SET status = 'champion' WHERE dataset = ? AND version = ?",
            (promotion.dataset, promotion.version),
        )
        db.execute(
            "INSERT OR IGNORE INTO promotions (dataset, version, previous_version, reason, actor, "
            "event_id, correlation_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                promotion.dataset,
                promotion.version,
                promotion.previous_version,
                promotion.reason,
                promotion.actor,
                promotion.event_id,
                promotion.correlation_id,
                promotion.at,
            ),
        )


@dataclass(frozen=True)
class Rollout:
    dataset: str
    stage: str
    model_version: int
    share: float
    actor: str
    started_at: str


def _row(r: sqlite3.Row) -> VersionRow:
    return VersionRow(
        dataset=r["dataset"],
        version=r["version"],
        run_id=r["run_id"],
        status=r["status"],
        created_at=datetime.fromisoformat(r["created_at"]),
        training=TrainingCompleted.model_validate_json(r["training"]),
        decision=json.loads(r["decision"]) if r["decision"] else None,
    )
