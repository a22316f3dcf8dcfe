"""What the trainer knows about one dataset, as a snapshot its policy decides on.

The adapter (repository.py) loads it from Redis; unit tests build it in memory. Nothing here
does I/O.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from driftloop_contracts import BlobRef, DataIngested, DatasetSchema, DriftDetected
from pydantic import BaseModel, ConfigDict, Field

#: The claim of the first model's training; held while a run is trained and judged.
INITIAL = "initial"
#: The family that searches the others (training.AUTO; repeated so state.py stays pure data).
AUTO_FAMILY = "auto"


class VersionEntry(BaseModel):
    """One dataset version in the trainer's catalogue."""

    model_config = ConfigDict(frozen=True)

    version: str
    blob: BlobRef
    rows: int
    source: str
    observed_from: datetime
    observed_to: datetime
    schema_fingerprint: str

    @classmethod
    def of(cls, event: DataIngested) -> VersionEntry:
        return cls(
            version=event.version,
            blob=event.blob,
            rows=event.rows,
            source=event.source,
            observed_from=event.observed_from,
            observed_to=event.observed_to,
            schema_fingerprint=event.dataset_schema.fingerprint(),
        )


class PendingRetrain(BaseModel):
    """A drift the trainer retrains for once enough rows observed after its onset exist."""

    model_config = ConfigDict(frozen=True)

    drift: DriftDetected
    failures: int = 0
    min_rows: int
    #: 0 for the first retrain after the drift; n for the n-th follow-up on more rows.
    followup: int = 0
    followups_left: int = 0
    #: Runs of this retrain the gate rejected (reset by a promotion).
    rejected: int = 0
    #: Completed runs of this retrain still awaiting the gate's verdict.
    awaiting: tuple[uuid.UUID, ...] = ()

    @property
    def onset(self) -> datetime:
        return self.drift.window.start

    @property
    def shift(self) -> str:
        """The drift's kind and drifted features: what "the same shift" means."""
        features = sorted({e.feature for e in self.drift.evidence if e.drifted})
        return f"{self.drift.kind}:{','.join(features)}"

    @property
    def covariate(self) -> bool:
        """A shift of the inputs (data or prediction drift), not of P(y|x) (performance)."""
        return self.drift.kind != "performance"

    @property
    def key(self) -> str:
        """Where it is stored: one entry per drift, so chains never write each other's."""
        return str(self.drift.event_id)

    @property
    def claim(self) -> str:
        """The claim of the current step: one run per step, whichever replica trains it."""
        return f"drift-{self.drift.event_id}-{self.followup}"

    @property
    def rank(self) -> tuple[int, bool]:
        """A drift of a newer model outranks; a first retrain outranks follow-ups."""
        return (self.drift.model_version, self.followup == 0)

    def revision(self) -> str:
        """The stored form, which the compare-and-set compares."""
        return self.model_dump_json()


class ChampionModel(BaseModel):
    """The serving model as its promotion described it, and whether the trainer may load it
    (its artifact is one the trainer itself trained: the sha256 is in its own record)."""

    model_config = ConfigDict(frozen=True)

    version: int
    artifact: BlobRef
    holdout_accuracy: float
    trusted: bool = False


InitialStatus = Literal["awaiting verdict", "failed", "rejected"]


class InitialAttempts(BaseModel):
    """The first model's attempts: how many, how the last one ended, what the next needs."""

    model_config = ConfigDict(frozen=True)

    attempts: int = 0
    status: InitialStatus
    #: Rows of the dataset's schema when the last attempt was decided.
    rows: int
    run_id: uuid.UUID | None = None
    reason: str | None = Field(
        default=None, description="Why the last attempt that did not serve did not."
    )
    next_min_rows: int = Field(default=0, description="Rows the next attempt waits for.")
    family: str | None = Field(
        default=None, description="Family the last attempt trained with (None: the default)."
    )
    budget_s: float | None = Field(
        default=None, description="Search budget of the last attempt (None: the default)."
    )
    next_family: str | None = Field(
        default=None, description="Family the next attempt trains with (None: the default)."
    )
    next_budget_s: float | None = Field(
        default=None, description="Search budget of the next attempt (None: the default)."
    )

    def backed_off(self, status: InitialStatus, reason: str, factor: float) -> InitialAttempts:
        """A failed or rejected attempt: the next one waits for `factor` times the rows, and
        trains as the last one did."""
        return self.model_copy(
            update={
                "status": status,
                "reason": reason,
                "next_min_rows": math.ceil(self.rows * factor),
                "next_family": self.family,
                "next_budget_s": self.budget_s,
            }
        )

    def widened(self, reason: str, rules: Rules) -> InitialAttempts:
        """A first model too weak to serve: try harder on the same rows before waiting for
        more. A single family gives way to `auto`; `auto` at its budget gets
        `retry_budget_factor` times the budget; a search already widened waits for rows."""
        family = self.family or rules.model_family
        budget = self.budget_s or rules.search_budget_s
        if family != AUTO_FAMILY:
            nxt: tuple[str, float | None] = (AUTO_FAMILY, None)
        elif self.budget_s is None and rules.retry_budget_factor > 1:
            nxt = (AUTO_FAMILY, round(budget * rules.retry_budget_factor, 3))
        else:
            return self.backed_off("rejected", reason, rules.initial_backoff)
        return self.model_copy(
            update={
                "status": "rejected",
                "reason": reason,
                "next_min_rows": self.rows,
                "next_family": nxt[0],
                "next_budget_s": nxt[1],
            }
        )

    @property
    def retries_now(self) -> bool:
        """The next attempt trains on the rows the last one had (a widened search)."""
        return self.status == "rejected" and self.next_min_rows <= self.rows

    def next_attempt(self) -> str:
        """The next attempt, in words (the trainer's dataset view shows it)."""
        family = self.next_family or "the default family"
        budget = f" with a search budget of {self.next_budget_s:g} s" if self.next_budget_s else ""
        return f"{family}{budget} once the dataset has {self.next_min_rows} rows"


@dataclass(frozen=True)
class Pending:
    """A stored pending retrain and the exact form it was read in (for compare-and-set)."""

    retrain: PendingRetrain
    revision: str

    @classmethod
    def new(cls, retrain: PendingRetrain) -> Pending:
        return cls(retrain, retrain.revision())


@dataclass(frozen=True)
class DatasetState:
    """The trainer's state for one dataset.

    For a data.ingested event, the adapter loads it as it will be once the version is
    recorded: `rows_by_schema` and `rows_since` already count the new version.
    """

    dataset: str
    schema: DatasetSchema | None = None
    rows_by_schema: Mapping[str, int] = field(default_factory=dict)
    pending: tuple[Pending, ...] = ()
    #: Holders of the claims this decision may take (trigger -> claimant event id).
    claims: Mapping[str, str] = field(default_factory=dict)
    retrained_for: frozenset[int] = frozenset()
    champion: int | None = None
    #: The champion's artifact and holdout accuracy (None: promoted before this was kept).
    champion_model: ChampionModel | None = None
    initial: InitialAttempts | None = None
    #: Rows of the current schema observed at or after each onset the decision may need.
    rows_since: Mapping[datetime, int] = field(default_factory=dict)
    #: Bumped by every commit that changes this state (see repository.Guard).
    generation: int = 0

    @property
    def rows(self) -> int:
        """Rows of the dataset's current schema."""
        if self.schema is None:
            return 0
        return self.rows_by_schema.get(self.schema.fingerprint(), 0)

    def post_onset_rows(self, onset: datetime) -> int:
        try:
            return self.rows_since[onset]
        except KeyError:
            raise LookupError(f"rows since {onset} were not loaded with the snapshot") from None

    def claimed_by_other(self, trigger: str, claimant: str) -> bool:
        holder = self.claims.get(trigger)
        return holder is not None and holder != claimant

    def with_pending(self, pending: tuple[Pending, ...]) -> DatasetState:
        return replace(self, pending=pending)


@dataclass(frozen=True)
class Rules:
    """The policy's settings (see TrainerSettings for what each means)."""

    min_initial_rows: int = 500
    initial_backoff: float = 1.5
    min_post_drift_rows: int = 800
    followup_retrains: int = 2
    max_retrain_failures: int = 3
    retrain_on: tuple[str, ...] = ("data", "prediction", "performance")
    max_rows: int = 50_000
    #: A concept-drift retrain trains on at least this many rows, the newest pre-onset rows
    #: filling in when post-onset rows are fewer (0: post-onset rows only).
    concept_min_rows: int = 0
    #: Covariate-shift retrains weight old rows by p/(1-p) of a domain classifier, clipped
    #: to [1/weight_clip, weight_clip]; 0 trains on post-onset rows only, unweighted.
    weight_clip: float = 10.0
    #: A retrain is skipped unless the champion's own model refitted on the post-onset rows
    #: beats it there by more than this (None: never skipped on evidence).
    min_gain: float | None = 0.005
    #: Retrains of one shift the gate may reject before the next is skipped.
    max_gate_rejections: int = 2
    #: The first step of a measured drift retrain fits the champion's own pipeline on the new
    #: rows (refit.py) instead of searching; follow-ups search.
    refit_first: bool = True
    #: The trainer's default family and `auto`'s budget (a weak first model's retry widens).
    model_family: str = "auto"
    search_budget_s: float = 8.0
    #: A weak first model searched with `auto` is retried on the same rows with this many
    #: times the budget (1: no such retry, the next attempt waits for more rows).
    retry_budget_factor: float = 1.0

    def initial_threshold(self, attempts: InitialAttempts | None) -> int:
        return max(self.min_initial_rows, attempts.next_min_rows if attempts else 0)
