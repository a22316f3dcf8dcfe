"""The trainer's state in memory, changed only through its policy's effects.

`World` plays the adapter's part without Redis: it builds the snapshot a handler would load,
asks the policy, takes claims, and applies the effects as the commit would (pending retrains
by compare-and-set). A delivery can be held between its decision and its commit, which is how
the tests interleave a long training with other events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from driftloop_contracts import (
    BlobRef,
    DataIngested,
    DriftDetected,
    Event,
    FeatureDrift,
    Metrics,
    ModelPromoted,
    ModelRejected,
    TrainingCompleted,
    TrainingRequested,
    WindowRef,
    derived_id,
)
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer import policy
from driftloop_trainer.effects import (
    Announce,
    Effect,
    MarkRetrained,
    Outcome,
    RecordArtifact,
    RecordInitialAttempt,
    RecordVersion,
    ReleaseClaim,
    ReplacePending,
    SetChampion,
    Skip,
    Train,
    failed_event,
)
from driftloop_trainer.state import (
    ChampionModel,
    DatasetState,
    InitialAttempts,
    Pending,
    PendingRetrain,
    Rules,
)

DATASET = SCHEMA.name
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BLOB = BlobRef(key="x/blob", sha256="0" * 64, size=1)
RunResult = Literal["completed", "failed"]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def data(rows: int, minute: float = 0) -> DataIngested:
    """A version of `rows` rows, all observed at T0 + `minute`."""
    return DataIngested(
        producer="test",
        dataset=DATASET,
        version=uuid.uuid4().hex[:16],
        blob=BLOB,
        rows=rows,
        source="records",
        observed_from=at(minute),
        observed_to=at(minute),
        dataset_schema=SCHEMA,
    )


def drift(version: int = 1, minute: float = 0, kind: str = "data") -> DriftDetected:
    evidence = FeatureDrift(
        feature="income",
        test="ks",
        statistic=0.5,
        p_value=1e-9,
        threshold=1e-3,
        drifted=True,
        reference={},
        current={},
    )
    return DriftDetected(
        producer="test",
        dataset=DATASET,
        model_version=version,
        kind=kind,
        window=WindowRef(start=at(minute), end=at(minute + 1), rows=100),
        evidence=(evidence,),
    )


def promoted(version: int) -> ModelPromoted:
    return ModelPromoted(
        producer="test",
        dataset=DATASET,
        model_version=version,
        previous_version=version - 1 or None,
        reason="gate",
        artifact=BLOB,
        profile=BLOB,
        metrics=Metrics(accuracy=0.9, f1_macro=0.9, rows=100),
        dataset_schema=SCHEMA,
    )


def rejected(run_id: uuid.UUID | None = None, trigger: str | None = None) -> ModelRejected:
    return ModelRejected(
        producer="test",
        dataset=DATASET,
        model_version=1,
        reason="holdout accuracy 0.55 under the floor 0.6",
        candidate_metrics=Metrics(accuracy=0.55, f1_macro=0.5, rows=40),
        champion_metrics=None,
        run_id=run_id,
        trigger=trigger,
    )


def request(since: datetime | None = None) -> TrainingRequested:
    return TrainingRequested(producer="test", dataset=DATASET, since=since)


def completed(job: Train) -> TrainingCompleted:
    return TrainingCompleted.caused_by(
        job.cause,
        job.key,
        "trainer",
        run_id=derived_id(job.cause.event_id, "run", job.key),
        dataset=job.dataset,
        trigger=job.trigger,
        artifact=BLOB,
        profile=BLOB,
        holdout=BLOB,
        metrics=Metrics(accuracy=0.9, f1_macro=0.9, rows=job.rows // 5),
        params={},
        seed=1,
        library_versions={},
        dataset_versions=(),
        training_rows=job.rows,
        dataset_schema=job.schema,
    )


def failed(job: Train, reason: str = "training rows hold one class only") -> Outcome:
    return failed_event(job.cause, job.dataset, job.trigger, job.key, reason)


class RowsSince(Mapping[datetime, int]):
    """Rows observed at or after any onset, counted when asked."""

    def __init__(self, versions: list[tuple[datetime, int]]) -> None:
        self.versions = versions

    def __getitem__(self, onset: datetime) -> int:
        return sum(n for observed, n in self.versions if observed >= onset)

    def __iter__(self) -> Iterator[datetime]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass
class Delivery:
    """One event decided on and not yet committed."""

    state: DatasetState
    effects: list[Effect]
    cause: Event

    @property
    def train(self) -> Train | None:
        return next((e for e in self.effects if isinstance(e, Train)), None)


@dataclass
class World:
    rules: Rules = field(default_factory=Rules)
    versions: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    schema_known: bool = False
    pending: dict[str, str] = field(default_factory=dict)  # drift id -> stored JSON
    claims: dict[str, str] = field(default_factory=dict)
    retrained: set[int] = field(default_factory=set)
    champion: int | None = None
    champion_model: ChampionModel | None = None
    artifacts: set[str] = field(default_factory=set)
    initial: InitialAttempts | None = None
    published: list[Outcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    generation: int = 0
    rechecks: int = 0

    # ------------------------------------------------------------------- snapshot

    def snapshot(self, adding: DataIngested | None = None) -> DatasetState:
        versions = dict(self.versions)
        if adding is not None:
            versions.setdefault(adding.version, (adding.observed_to, adding.rows))
        pending = tuple(
            Pending(PendingRetrain.model_validate_json(raw), raw) for raw in self.pending.values()
        )
        known = self.schema_known or adding is not None
        return DatasetState(
            dataset=DATASET,
            schema=SCHEMA if known else None,
            rows_by_schema={SCHEMA.fingerprint(): sum(n for _, n in versions.values())},
            pending=pending,
            claims=dict(self.claims),
            retrained_for=frozenset(self.retrained),
            champion=self.champion,
            champion_model=self._champion_model(),
            initial=self.initial,
            rows_since=RowsSince(list(versions.values())),
            generation=self.generation,
        )

    def _champion_model(self) -> ChampionModel | None:
        model = self.champion_model
        if model is None:
            return None
        return model.model_copy(update={"trusted": model.artifact.sha256 in self.artifacts})

    # ------------------------------------------------------------------ deliveries

    def receive(self, event: Event) -> Delivery:
        """Decide on an event and take the claim of the run it starts; commit later."""
        if isinstance(event, DataIngested):
            state = self.snapshot(adding=event)
            effects = policy.on_data(state, event, self.rules)
        else:
            state = self.snapshot()
            effects = self._decide(state, event)
        kept: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Train) and effect.claim is not None:
                holder = self.claims.setdefault(effect.claim, effect.claimant)
                if holder != effect.claimant:
                    kept.append(Skip(f"{effect.claim} was claimed by another event"))
                    continue
            kept.append(effect)
        return Delivery(state, kept, event)

    def _decide(self, state: DatasetState, event: Event) -> list[Effect]:
        if isinstance(event, DriftDetected):
            return policy.on_drift(state, event, self.rules)
        if isinstance(event, TrainingRequested):
            return policy.on_request(state, event, self.rules)
        if isinstance(event, ModelPromoted):
            return policy.on_promoted(state, event)
        if isinstance(event, ModelRejected):
            return policy.on_rejected(state, event, self.rules)
        return policy.on_recheck(state, event, self.rules)

    def commit(
        self, delivery: Delivery, outcome: RunResult | Callable[[Train], Outcome] = "completed"
    ) -> list[Effect]:
        """Run the delivery's training (if any) to `outcome` and apply every effect."""
        effects: list[Effect] = []
        for effect in delivery.effects:
            if isinstance(effect, Train):
                result = self._outcome(effect, outcome)
                effects += policy.on_trained(delivery.state, effect, result, self.rules)
            else:
                effects.append(effect)
        self.apply(effects, delivery.state.generation)
        return effects

    def handle(
        self, event: Event, outcome: RunResult | Callable[[Train], Outcome] = "completed"
    ) -> list[Effect]:
        """Receive and commit at once: what a delivery without interleaving does."""
        return self.commit(self.receive(event), outcome)

    @staticmethod
    def _outcome(job: Train, outcome: RunResult | Callable[[Train], Outcome]) -> Outcome:
        if callable(outcome):
            return outcome(job)
        return completed(job) if outcome == "completed" else failed(job)

    # ---------------------------------------------------------------------- commit

    def apply(self, effects: Sequence[Effect], generation: int) -> None:
        writes = 0
        for effect in effects:
            writes += not isinstance(effect, Skip | Announce | Train)
            self._apply(effect)
        if writes:
            self.generation += 1
            self.rechecks += self.generation != generation + 1

    def _apply(self, effect: Effect) -> None:
        if isinstance(effect, RecordVersion):
            self.schema_known = True
            self.versions.setdefault(
                effect.entry.version, (effect.entry.observed_to, effect.entry.rows)
            )
        elif isinstance(effect, ReplacePending):
            if self.pending.get(effect.key) == effect.expected:
                if effect.new is None:
                    self.pending.pop(effect.key, None)
                else:
                    self.pending[effect.key] = effect.new.revision()
        elif isinstance(effect, MarkRetrained):
            self.retrained.add(effect.model_version)
        elif isinstance(effect, ReleaseClaim):
            self.claims.pop(effect.trigger, None)
        elif isinstance(effect, RecordInitialAttempt):
            self.initial = effect.attempts
        elif isinstance(effect, SetChampion):
            self.champion = effect.model_version
            self.champion_model = effect.model or self.champion_model
        elif isinstance(effect, RecordArtifact):
            self.artifacts.add(effect.sha256)
        elif isinstance(effect, Announce):
            self.published.append(effect.event)
        elif isinstance(effect, Skip):
            self.skipped.append(effect.reason)

    # --------------------------------------------------------------------- reading

    def runs(self, trigger: str | None = None) -> list[Outcome]:
        return [e for e in self.published if trigger is None or e.trigger == trigger]

    def pending_retrains(self) -> list[PendingRetrain]:
        return [PendingRetrain.model_validate_json(raw) for raw in self.pending.values()]
