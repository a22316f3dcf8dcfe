"""The registry's writes to its SQLite, and the lookups its decisions need.

Two writers, one process: the gate registers candidates and records its decisions; the
projection (the registry's consumer of its own model.promoted and model.rollout streams)
records promotions and rollout changes and crowns champions. Nothing else writes.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from driftloop_contracts import Metrics, ModelPromoted, RolloutChanged, TrainingCompleted, utcnow
from pydantic import BaseModel, ConfigDict, Field

from .db import Database
from .projection import Applied, Crown, Effect, Position, RecordPromotion, RecordRollout, Retire


class DecisionRecord(BaseModel):
    """What the gate decided about a candidate, and the evidence (stored as JSON)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    promote: bool
    reason: str
    candidate: Metrics = Field(description="Candidate metrics on its holdout, as re-measured.")
    champion: Metrics | None = Field(description="The champion's metrics on the same holdout.")
    champion_version: int | None = Field(description="The champion judged against.")
    decided_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class VersionRow:
    dataset: str
    version: int
    run_id: str
    status: str
    created_at: datetime
    training: TrainingCompleted
    decision: DecisionRecord | None


class Repository:
    def __init__(self, db: Database | Path | str) -> None:
        self.db = db if isinstance(db, Database) else Database(db)

    # ------------------------------------------------------------------- the gate

    def register(self, event: TrainingCompleted) -> VersionRow:
        """Record a candidate (idempotent on run_id) and return its row."""
        with self.db.transaction() as db:
            found = _by_run(db, event.run_id)
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
                found = _by_run(db, event.run_id)
        assert found is not None
        return version_row(found)

    def record_decision(self, dataset: str, version: int, decision: DecisionRecord) -> None:
        """A rejected candidate is done; a winning one stays a candidate until its promotion
        comes back on the stream (projection) and crowns it."""
        with self.db.transaction() as db:
            db.execute(
                "UPDATE versions SET decision = ?, "
                "status = CASE WHEN ? THEN status ELSE 'rejected' END "
                "WHERE dataset = ? AND version = ?",
                (decision.model_dump_json(), decision.promote, dataset, version),
            )

    def get(self, dataset: str, version: int) -> VersionRow | None:
        with self.db.read() as db:
            found = db.execute(
                "SELECT * FROM versions WHERE dataset = ? AND version = ?", (dataset, version)
            ).fetchone()
        return version_row(found) if found else None

    def trainings(self, dataset: str) -> dict[int, TrainingCompleted]:
        """The training event of every version of a dataset, by version."""
        with self.db.read() as db:
            rows = db.execute(
                "SELECT version, training FROM versions WHERE dataset = ?", (dataset,)
            ).fetchall()
        return {r["version"]: TrainingCompleted.model_validate_json(r["training"]) for r in rows}

    def promoted_versions(self, dataset: str) -> list[int]:
        """Every promotion's version, in stream order (the read side's history)."""
        with self.db.read() as db:
            rows = db.execute(
                f"SELECT version FROM promotions WHERE dataset = ? ORDER BY {HISTORY_ORDER}",
                (dataset,),
            ).fetchall()
        return [r["version"] for r in rows]

    # ------------------------------------------------------------- the projection

    @staticmethod
    def applied(db: sqlite3.Connection, event: ModelPromoted | RolloutChanged) -> Applied:
        table = "promotions" if isinstance(event, ModelPromoted) else "rollout_changes"
        seen = db.execute(
            f"SELECT 1 FROM {table} WHERE event_id = ?", (str(event.event_id),)
        ).fetchone()
        latest = db.execute(
            f"SELECT stream_ms, stream_seq FROM {table} "
            "WHERE dataset = ? AND stream_ms IS NOT NULL "
            "ORDER BY stream_ms DESC, stream_seq DESC LIMIT 1",
            (event.dataset,),
        ).fetchone()
        return Applied(
            seen=seen is not None,
            latest=Position(latest["stream_ms"], latest["stream_seq"]) if latest else None,
        )

    @staticmethod
    def apply(db: sqlite3.Connection, effects: Sequence[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, RecordPromotion):
                _insert_promotion(db, effect)
            elif isinstance(effect, Crown):
                _crown(db, effect)
            elif isinstance(effect, Retire):
                db.execute(
                    "UPDATE versions SET status = 'retired' "
                    "WHERE dataset = ? AND version = ? AND status != 'champion'",
                    (effect.dataset, effect.version),
                )
            elif isinstance(effect, RecordRollout):
                _insert_rollout(db, effect)

    def has_event(self, event_id: uuid.UUID) -> bool:
        """Whether the read side shows this promotion or rollout change yet."""
        with self.db.read() as db:
            found = db.execute(
                "SELECT 1 FROM promotions WHERE event_id = ?1 "
                "UNION ALL SELECT 1 FROM rollout_changes WHERE event_id = ?1",
                (str(event_id),),
            ).fetchone()
        return found is not None


#: Stream order; rows written before the registry followed its stream (no position) first.
HISTORY_ORDER = "stream_ms IS NOT NULL, stream_ms, stream_seq, id"


def _by_run(db: sqlite3.Connection, run_id: uuid.UUID) -> sqlite3.Row | None:
    found: sqlite3.Row | None = db.execute(
        "SELECT * FROM versions WHERE run_id = ?", (str(run_id),)
    ).fetchone()
    return found


def _insert_promotion(db: sqlite3.Connection, effect: RecordPromotion) -> None:
    r = effect.record
    at = r.position
    db.execute(
        "INSERT OR IGNORE INTO promotions (dataset, version, previous_version, reason, actor, "
        "event_id, correlation_id, at, stream_ms, stream_seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            r.dataset,
            r.version,
            r.previous_version,
            r.reason,
            r.actor,
            str(r.event_id),
            str(r.correlation_id),
            r.at.isoformat(),
            at.ms if at else None,
            at.seq if at else None,
        ),
    )


def _crown(db: sqlite3.Connection, effect: Crown) -> None:
    db.execute(
        "UPDATE versions SET status = 'retired' "
        "WHERE dataset = ? AND status = 'champion' AND version != ?",
        (effect.dataset, effect.version),
    )
    db.execute(
        "UPDATE versions SET status = 'champion' WHERE dataset = ? AND version = ?",
        (effect.dataset, effect.version),
    )


def _insert_rollout(db: sqlite3.Connection, effect: RecordRollout) -> None:
    r = effect.record
    db.execute(
        "INSERT OR IGNORE INTO rollout_changes (dataset, stage, outcome, model_version, share, "
        "actor, event_id, at, stream_ms, stream_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            r.dataset,
            r.stage,
            r.outcome,
            r.model_version,
            r.share,
            r.actor,
            str(r.event_id),
            r.at.isoformat(),
            r.position.ms,
            r.position.seq,
        ),
    )


def version_row(r: sqlite3.Row) -> VersionRow:
    return VersionRow(
        dataset=r["dataset"],
        version=r["version"],
        run_id=r["run_id"],
        status=r["status"],
        created_at=datetime.fromisoformat(r["created_at"]),
        training=TrainingCompleted.model_validate_json(r["training"]),
        decision=DecisionRecord.model_validate_json(r["decision"]) if r["decision"] else None,
    )
