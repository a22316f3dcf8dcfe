"""Registering candidates, judging them at the gate, promoting and rolling back.

Decisions are written to SQLite first and the events are derived from what was written, with
ids derived from the training event: a redelivery after a crash re-emits the same events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from driftloop_bus import Keys, Output, Publish, serving
from driftloop_contracts import (
    Event,
    Metrics,
    ModelPromoted,
    ModelRegistered,
    ModelRejected,
    RolloutChanged,
    TrainingCompleted,
    streams,
    utcnow,
)
from driftloop_contracts.datasets import loads
from driftloop_core import Conflict, ContentStore, DriftloopError, InvalidInput, NotFound
from driftloop_core.telemetry import get_logger
from driftloop_ml import ArtifactError, correct, evaluate, load_artifact

from .gate import Decision, GateConfig, Paired, decide
from .repository import Promotion, Repository, Rollout, VersionRow

PRODUCER = "registry"
log = get_logger(__name__)


@dataclass(frozen=True)
class Judgement:
    decision: Decision
    candidate: Metrics
    champion: Metrics | None
    champion_version: int | None


def with_serving_state(keys: Keys, items: Sequence[Output]) -> list[Output]:
    """Each promotion and rollout published together with the serving state it sets, so that
    predictors starting later load exactly what the streams say (driftloop_bus.serving)."""
    out = list(items)
    for item in items:
        if isinstance(item, Publish) and isinstance(item.event, ModelPromoted):
            out.append(serving.record_promotion(keys, item.event))
        elif isinstance(item, Publish) and isinstance(item.event, RolloutChanged):
            out.append(serving.record_rollout(keys, item.event))
    return out


def promoted_event(
    row: VersionRow, previous: int | None, reason: str, actor: str, cause: Event | None, key: str
) -> ModelPromoted:
    t = row.training
    fields = {
        "dataset": row.dataset,
        "model_version": row.version,
        "previous_version": previous,
        "reason": reason,
        "artifact": t.artifact,
        "profile": t.profile,
        "metrics": t.metrics,
        "dataset_schema": t.dataset_schema,
        "actor": actor,
    }
    if cause is None:
        return ModelPromoted(producer=PRODUCER, **fields)
    return ModelPromoted.caused_by(cause, key, PRODUCER, **fields)


class RegistryService:
    def __init__(self, repo: Repository, store: ContentStore, gate: GateConfig, keys: Keys) -> None:
        self.repo = repo
        self.keys = keys
        self.store = store
        self.gate = gate

    async def on_training_completed(self, event: TrainingCompleted) -> list[Output]:
        row = self.repo.register(event)
        if row.decision is None:
            champion = self.repo.champion(row.dataset)
            judgement = await asyncio.to_thread(self.judge, event, champion)
            self._record(row, judgement)
            row = self.repo.get(row.dataset, row.version) or row
        return self._decision_events(event, row)

    def judge(self, candidate: TrainingCompleted, champion: VersionRow | None) -> Judgement:
        """Evaluate candidate and champion on the candidate's holdout (the most recent rows)."""
        schema = candidate.dataset_schema
        try:
            holdout = loads(self.store.get(candidate.holdout))
            artifact = load_artifact(self.store.get(candidate.artifact))
            metrics = evaluate(artifact.pipeline, schema, holdout)
        except (DriftloopError, ArtifactError) as exc:
            return Judgement(
                Decision(False, f"candidate unusable: {exc}"), candidate.metrics, None, None
            )
        if champion is None:
            return Judgement(decide(metrics, None, self.gate), metrics, None, None)
        champion_metrics: Metrics | None = None
        paired: Paired | None = None
        try:
            old = load_artifact(self.store.get(champion.training.artifact))
            if old.schema.fingerprint() == schema.fingerprint():
                champion_metrics = evaluate(old.pipeline, schema, holdout)
                ours = correct(artifact.pipeline, schema, holdout)
                theirs = correct(old.pipeline, schema, holdout)
                paired = Paired(int((ours & ~theirs).sum()), int((theirs & ~ours).sum()))
        except (DriftloopError, ArtifactError) as exc:
            log.warning("champion cannot be evaluated; judging on floors only", error=str(exc))
        decision = decide(metrics, champion_metrics, self.gate, champion.version, paired)
        return Judgement(decision, metrics, champion_metrics, champion.version)

    def _record(self, row: VersionRow, j: Judgement) -> None:
        decision = {
            "promote": j.decision.promote,
            "reason": j.decision.reason,
            "candidate": j.candidate.model_dump(),
            "champion": j.champion.model_dump() if j.champion else None,
            "champion_version": j.champion_version,
            "decided_at": utcnow().isoformat(),
        }
        previous = self.repo.champion(row.dataset)
        with self.repo.transaction() as db:
            self.repo.decide(db, row.dataset, row.version, j.decision.promote, decision)
            if j.decision.promote:
                event = promoted_event(
                    row,
                    previous.version if previous else None,
                    "gate",
                    PRODUCER,
                    row.training,
                    "promoted",
                )
                self.repo.crown(db, _promotion(event))
        log.info("gate", version=row.version, promote=j.decision.promote, reason=j.decision.reason)

    def _decision_events(self, cause: TrainingCompleted, row: VersionRow) -> list[Output]:
        assert row.decision is not None
        registered = ModelRegistered.caused_by(
            cause,
            "registered",
            PRODUCER,
            dataset=row.dataset,
            model_version=row.version,
            run_id=cause.run_id,
        )
        out: list[Output] = [Publish(streams.MODEL_REGISTERED, registered)]
        if row.decision["promote"]:
            previous = row.decision["champion_version"]
            event = promoted_event(row, previous, "gate", PRODUCER, cause, "promoted")
            out.append(Publish(streams.MODEL_PROMOTED, event))
        else:
            champion = row.decision["champion"]
            rejected = ModelRejected.caused_by(
                cause,
                "rejected",
                PRODUCER,
                dataset=row.dataset,
                model_version=row.version,
                reason=row.decision["reason"],
                candidate_metrics=row.decision["candidate"],
                champion_metrics=champion,
            )
            out.append(Publish(streams.MODEL_REJECTED, rejected))
        return with_serving_state(self.keys, out)

    # ----------------------------------------------------------------- by hand

    def manual_promotion(self, dataset: str, version: int, actor: str) -> ModelPromoted:
        row = self.repo.get(dataset, version)
        if row is None:
            raise NotFound(f"no version {version} of dataset {dataset!r}")
        current = self.repo.champion(dataset)
        if current is not None and current.version == version:
            raise Conflict(f"version {version} already serves {dataset!r}")
        return promoted_event(row, current.version if current else None, "manual", actor, None, "")

    def rollback(self, dataset: str, actor: str) -> ModelPromoted:
        current = self.repo.champion(dataset)
        if current is None:
            raise NotFound(f"dataset {dataset!r} has no champion to roll back from")
        earlier = [p.version for p in self.repo.promotions(dataset) if p.version != current.version]
        if not earlier:
            raise Conflict(
                f"version {current.version} is the only one ever promoted for {dataset!r}"
            )
        row = self.repo.get(dataset, earlier[-1])
        assert row is not None
        return promoted_event(row, current.version, "rollback", actor, None, "")

    # ---------------------------------------------------------------- rollouts

    def start_rollout(
        self, dataset: str, version: int, stage: str, share: float, actor: str
    ) -> RolloutChanged:
        row = self.repo.get(dataset, version)
        if row is None:
            raise NotFound(f"no version {version} of dataset {dataset!r}")
        champion = self.repo.champion(dataset)
        if champion is not None and champion.version == version:
            raise Conflict(f"version {version} already serves {dataset!r}: nothing to roll out")
        if stage == "canary" and not 0 < share < 1:
            raise InvalidInput(f"a canary share must be between 0 and 1 (exclusive), got {share}")
        current = self.repo.rollout(dataset)
        outcome = "changed" if current and current.model_version == version else "started"
        return self._rollout_event(row, stage, outcome, share if stage == "canary" else 0.0, actor)

    def end_rollout(self, dataset: str, promote: bool, actor: str) -> list[Publish]:
        current = self.repo.rollout(dataset)
        if current is None:
            raise NotFound(f"dataset {dataset!r} has no rollout in progress")
        row = self.repo.get(dataset, current.model_version)
        assert row is not None
        ended = self._rollout_event(row, "ended", "promoted" if promote else "aborted", 0.0, actor)
        out = [Publish(streams.MODEL_ROLLOUT, ended)]
        if promote:
            champion = self.repo.champion(dataset)
            promoted = promoted_event(
                row, champion.version if champion else None, "manual", actor, ended, "promoted"
            )
            out.insert(0, Publish(streams.MODEL_PROMOTED, promoted))
        return out

    @staticmethod
    def _rollout_event(
        row: VersionRow, stage: str, outcome: str, share: float, actor: str
    ) -> RolloutChanged:
        t = row.training
        return RolloutChanged(
            producer=PRODUCER,
            dataset=row.dataset,
            stage=stage,
            outcome=outcome,
            model_version=row.version,
            share=share,
            artifact=t.artifact,
            profile=t.profile,
            metrics=t.metrics,
            dataset_schema=t.dataset_schema,
            actor=actor,
        )

    def record_rollout(self, event: RolloutChanged) -> None:
        """After a rollout event was published: make the DB agree with it."""
        if event.stage == "ended":
            self.repo.set_rollout(None, event.dataset)
            return
        self.repo.set_rollout(
            Rollout(
                event.dataset,
                event.stage,
                event.model_version,
                event.share,
                event.actor,
                event.occurred_at.isoformat(),
            ),
            event.dataset,
        )

    def record_promotion(self, event: ModelPromoted) -> None:
        """After a manual promotion or rollback was published: make the DB agree with it."""
        with self.repo.transaction() as db:
            self.repo.crown(db, _promotion(event))


def _promotion(event: ModelPromoted) -> Promotion:
    return Promotion(
        dataset=event.dataset,
        version=event.model_version,
        previous_version=event.previous_version,
        reason=event.reason,
        actor=event.actor,
        event_id=str(event.event_id),
        correlation_id=str(event.correlation_id),
        at=event.occurred_at.isoformat(),
    )
