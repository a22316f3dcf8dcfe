"""Live challenger trials: a candidate that passed the offline gate is shadowed on live traffic
and promoted (or not) on the paired outcomes of its predictions and the champion's.

Both events are signed by the registry (like promotions and rollouts); they carry no sequence:
nobody acts on them, they are the record of what was decided and why.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..envelope import Event
from .registry import RegistrySignature

TrialDecision = Literal["promoted", "rejected", "abandoned"]
TrialStop = Literal["evidence", "row_budget", "time_budget", "superseded", "rollout_changed"]


class TrialTest(BaseModel):
    """The sequential test a trial runs and its budgets."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    alpha: float = Field(
        gt=0, lt=1, description="Chance of promoting a challenger no better than the champion."
    )
    beta: float = Field(
        gt=0, lt=1, description="Chance of rejecting a challenger as good as the alternative."
    )
    min_effect: float = Field(
        gt=0,
        lt=0.5,
        description="The alternative: the challenger wins 0.5 + this of the discordant pairs "
        "(pairs where exactly one model is right, or one is closer).",
    )
    max_pairs: int = Field(ge=1, description="Row budget: paired outcomes before giving up.")
    max_seconds: float = Field(gt=0, description="Time budget from the start.")


class TrialEvidence(BaseModel):
    """The paired live outcomes so far and where the test stands."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pairs: int = Field(ge=0, description="Predictions both models made that got a label.")
    wins: int = Field(
        ge=0, description="Pairs only the challenger got right (regression: it was closer)."
    )
    losses: int = Field(
        ge=0, description="Pairs only the champion got right (regression: it was closer)."
    )
    ties: int = Field(ge=0, description="Pairs both got right, or both wrong (equal errors).")
    champion_error: float | None = Field(
        default=None, description="Champion's live error on the pairs: 1 - accuracy, or MAE."
    )
    challenger_error: float | None = Field(
        default=None, description="Challenger's live error on the same pairs."
    )
    statistic: float = Field(
        description="Log-likelihood ratio of the discordant pairs (SPRT): win share "
        "0.5 + min_effect against 0.5."
    )
    lower: float = Field(description="At or below: not better (ln beta).")
    upper: float = Field(description="At or above: better (ln 1/alpha).")


class TrialStarted(Event):
    """A candidate passed the offline gate and now shadows the champion on live traffic."""

    event_type: Literal["trial.started"] = "trial.started"
    dataset: str
    trial_id: uuid.UUID = Field(description="Names the trial in trial.decided and the HTTP API.")
    model_version: int = Field(ge=1, description="The challenger.")
    champion_version: int = Field(ge=1, description="The version it is compared with.")
    run_id: uuid.UUID | None = Field(default=None, description="The challenger's training run.")
    gate_reason: str = Field(description="Why it passed the offline gate.")
    test: TrialTest
    deadline: datetime = Field(description="When the time budget runs out.")
    signature: RegistrySignature = None


class TrialDecided(Event):
    """The trial ended: the challenger promoted, rejected, or abandoned (superseded by a newer
    candidate, or its shadow rollout changed by hand), with the evidence."""

    event_type: Literal["trial.decided"] = "trial.decided"
    dataset: str
    trial_id: uuid.UUID
    model_version: int = Field(ge=1, description="The challenger.")
    champion_version: int = Field(ge=1)
    decision: TrialDecision
    stopped_by: TrialStop = Field(description="What ended it: the test, a budget, or else.")
    reason: str = Field(description="In words, with the figures.")
    evidence: TrialEvidence
    test: TrialTest
    signature: RegistrySignature = None
