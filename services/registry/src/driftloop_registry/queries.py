"""The read side: queries over the registry's SQLite, answering typed read models.

It shows what the registry has applied from its streams, so right after a promotion it may
lag the serving state by the few milliseconds the registry's consumer takes to catch up.
"""

from __future__ import annotations

import sqlite3

from driftloop_core import NotFound

from .db import Database
from .read_models import (
    DecisionOut,
    LineageOut,
    PromotionOut,
    RolloutOut,
    VersionDetailOut,
    VersionOut,
)
from .repository import HISTORY_ORDER, VersionRow, version_row


class Queries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def versions(self, dataset: str | None = None) -> list[VersionOut]:
        with self.db.read() as db:
            if dataset is None:
                rows = db.execute("SELECT * FROM versions ORDER BY dataset, version").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM versions WHERE dataset = ? ORDER BY version", (dataset,)
                ).fetchall()
        return [version_out(version_row(r)) for r in rows]

    def version(self, dataset: str, version: int) -> VersionDetailOut:
        row = self._row(dataset, version)
        return VersionDetailOut(**version_out(row).model_dump(), artifact=row.training.artifact)

    def champion(self, dataset: str) -> VersionOut:
        with self.db.read() as db:
            found = db.execute(
                "SELECT * FROM versions WHERE dataset = ? AND status = 'champion'", (dataset,)
            ).fetchone()
        if found is None:
            raise NotFound(f"dataset {dataset!r} has no promoted model yet")
        return version_out(version_row(found))

    def promotions(self, dataset: str, version: int | None = None) -> list[PromotionOut]:
        """The promotion history of a dataset (or of one version), in stream order."""
        sql = "SELECT * FROM promotions WHERE dataset = ?"
        args: tuple[object, ...] = (dataset,)
        if version is not None:
            sql, args = sql + " AND version = ?", (*args, version)
        with self.db.read() as db:
            rows = db.execute(f"{sql} ORDER BY {HISTORY_ORDER}", args).fetchall()
        return [promotion_out(r) for r in rows]

    def lineage(self, dataset: str, version: int) -> LineageOut:
        row = self._row(dataset, version)
        t = row.training
        return LineageOut(
            dataset=dataset,
            version=version,
            run_id=t.run_id,
            trigger=t.trigger,
            correlation_id=t.chain_id,
            caused_by=t.causation_id,
            training_event_id=t.event_id,
            dataset_versions=list(t.dataset_versions),
            training_rows=t.training_rows,
            params=t.params,
            seed=t.seed,
            library_versions=t.library_versions,
            artifact=t.artifact,
            profile=t.profile,
            holdout=t.holdout,
            metrics=t.metrics,
            decision=_decision(row),
            promotions=self.promotions(dataset, version),
        )

    def rollout(self, dataset: str) -> RolloutOut:
        """The latest rollout change of the dataset, unless it ended the rollout."""
        with self.db.read() as db:
            found = db.execute(
                "SELECT * FROM rollout_changes WHERE dataset = ? "
                "ORDER BY stream_ms DESC, stream_seq DESC LIMIT 1",
                (dataset,),
            ).fetchone()
        if found is None or found["stage"] == "ended":
            raise NotFound(f"dataset {dataset!r} has no rollout in progress")
        return RolloutOut(
            dataset=found["dataset"],
            stage=found["stage"],
            model_version=found["model_version"],
            share=found["share"],
            actor=found["actor"],
            started_at=found["at"],
            event_id=found["event_id"],
        )

    def _row(self, dataset: str, version: int) -> VersionRow:
        with self.db.read() as db:
            found = db.execute(
                "SELECT * FROM versions WHERE dataset = ? AND version = ?", (dataset, version)
            ).fetchone()
        if found is None:
            raise NotFound(f"no version {version} of dataset {dataset!r}")
        return version_row(found)


def _decision(row: VersionRow) -> DecisionOut | None:
    return DecisionOut(**row.decision.model_dump()) if row.decision else None


def version_out(row: VersionRow) -> VersionOut:
    t = row.training
    return VersionOut(
        dataset=row.dataset,
        version=row.version,
        status=row.status,  # the table's CHECK keeps it to Status
        created_at=row.created_at,
        run_id=t.run_id,
        trigger=t.trigger,
        metrics=t.metrics,
        params=t.params,
        decision=_decision(row),
    )


def promotion_out(r: sqlite3.Row) -> PromotionOut:
    positioned = r["stream_ms"] is not None
    return PromotionOut(
        dataset=r["dataset"],
        version=r["version"],
        previous_version=r["previous_version"],
        reason=r["reason"],
        actor=r["actor"],
        event_id=r["event_id"],
        correlation_id=r["correlation_id"],
        at=r["at"],
        stream_id=f"{r['stream_ms']}-{r['stream_seq']}" if positioned else None,
    )
