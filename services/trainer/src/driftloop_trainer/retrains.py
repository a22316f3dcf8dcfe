"""Retrains that pay: which rows a drift retrain trains on, and when it is not trained at all.

Pure functions over the dataset's state (state.py); policy.py calls them.

- **Rows from the drift's evidence.** A performance drift is a change of P(y|x): the retrain
  trains on rows observed after the onset only (the newest pre-onset rows fill in up to
  `concept_min_rows` when there are fewer). A data or prediction drift is a shift of the inputs:
  the retrain trains on old and new rows, the old ones importance-weighted toward the new
  distribution (weights.py), so it keeps what the old rows teach where the two overlap.
- **Skip a retrain that cannot pay.** Before fitting, the run measures the champion on the
  post-onset labelled rows beside the champion's own model refitted on them (cross-validated);
  unless the refit gains more than `min_gain`, the run is skipped with a `training.skipped`
  saying so, numbers included (`retrain_pays`).
- **The first step fits what was measured.** With `refit_first`, the first run of a measured
  retrain fits the champion's own pipeline on its rows (refit.py), one fit instead of a
  search; the follow-ups search.
- **Never a third retrain on a shift the gate rejected twice.** A pending retrain counts the
  gate's rejections of its runs; at `max_gate_rejections` the next step is skipped, in the same
  event. A promotion resets the count; a new drift (a new kind or new features) starts at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop_contracts import Event, ModelPromoted, ModelRejected, TrainingSkipped

from .effects import PRODUCER, Announce, Effect, ReplacePending
from .state import DatasetState, Pending, PendingRetrain, Rules

#: One-sided 5%: a refit's gain must be this many standard errors (sign test over the rows
#: exactly one of the two got right), as the registry's paired gate would ask of it.
SIGNIFICANCE_Z = 1.645


@dataclass(frozen=True)
class Evidence:
    """What a run measured before fitting: the champion and its refit on post-onset rows
    (the refit's out-of-fold predictions), paired row by row."""

    rows: int
    champion_accuracy: float
    refit_accuracy: float
    folds: int
    #: Rows the refit got right and the champion wrong, and the other way round.
    wins: int = 0
    losses: int = 0

    @property
    def z(self) -> float:
        """The sign test's statistic over the discordant rows (0 when there are none)."""
        discordant = self.wins + self.losses
        return (self.wins - self.losses) / discordant**0.5 if discordant else 0.0


def row_plan(state: DatasetState, retrain: PendingRetrain, rules: Rules) -> dict[str, Any]:
    """The `Train` fields that choose a retrain's rows (and whether to measure it first)."""
    have = state.post_onset_rows(retrain.onset)
    plan: dict[str, Any] = {"since": retrain.onset, "onset": retrain.onset}
    if retrain.covariate and rules.weight_clip > 0:
        plan |= {"since": None, "weight_from": retrain.onset, "weight_clip": rules.weight_clip}
    elif not retrain.covariate and have < rules.concept_min_rows:
        plan |= {"since": None, "max_rows": rules.concept_min_rows}
    champion = state.champion_model
    measurable = (
        rules.min_gain is not None
        and champion is not None
        and champion.trusted
        and champion.version == state.champion
        and state.schema is not None
        and not state.schema.target.is_regression
    )
    if measurable:
        plan |= {"champion": champion, "min_gain": rules.min_gain}
        plan["refit_champion"] = rules.refit_first and retrain.followup == 0
    return plan


def retrain_pays(evidence: Evidence, min_gain: float) -> str | None:
    """None if refitting on the post-onset rows beats the champion there by more than
    `min_gain` and significantly (z over SIGNIFICANCE_Z); otherwise why the run cannot pay,
    with the numbers."""
    gain = evidence.refit_accuracy - evidence.champion_accuracy
    if gain > min_gain and evidence.z > SIGNIFICANCE_Z:
        return None
    return (
        f"the champion scores {evidence.champion_accuracy:.3f} on the {evidence.rows} "
        f"post-onset labelled rows and its model refitted on them "
        f"{evidence.refit_accuracy:.3f} ({evidence.folds}-fold CV): a gain of {gain:+.3f} "
        f"(refit right where the champion was wrong on {evidence.wins} rows, the reverse on "
        f"{evidence.losses}: z = {evidence.z:.2f}), not more than {min_gain:.3f} with z above "
        f"{SIGNIFICANCE_Z}, so a retrain is not expected to beat it"
    )


def concept_moved(evidence: Evidence, holdout_accuracy: float) -> bool:
    """Whether the champion scores on the post-onset rows significantly (two standard errors)
    under its holdout accuracy: after a covariate shift, a sign that P(y|x) moved too."""
    p = min(max(holdout_accuracy, 1e-3), 1 - 1e-3)
    error = 2 * float(p * (1 - p) / max(evidence.rows, 1)) ** 0.5
    return bool(evidence.champion_accuracy < holdout_accuracy - error)


def skipped_event(
    cause: Event,
    key: str,
    retrain: PendingRetrain,
    reason: str,
    message: str,
    rows: int,
    **numbers: Any,
) -> TrainingSkipped:
    """The `training.skipped` of one step of a retrain; its id derives from (drift, step)."""
    return TrainingSkipped.caused_by(
        cause,
        f"skipped/{key}",
        PRODUCER,
        dataset=retrain.drift.dataset,
        trigger="drift",
        drift_id=retrain.drift.event_id,
        drift_kind=retrain.drift.kind,
        shift=retrain.shift,
        model_version=retrain.drift.model_version,
        reason=reason,
        message=message,
        post_onset_rows=rows,
        rejections=retrain.rejected,
        **numbers,
    )


def rejected_twice(pending: Pending, rules: Rules, rows: int) -> list[Effect] | None:
    """The skip of a step whose shift the gate already rejected `max_gate_rejections` times."""
    retrain = pending.retrain
    if retrain.rejected < rules.max_gate_rejections:
        return None
    message = (
        f"the gate rejected {retrain.rejected} retrains of this shift ({retrain.shift}) "
        f"already: no further retrain until a promotion or a new kind of drift"
    )
    event = skipped_event(
        retrain.drift,
        f"retrain/{retrain.followup}",
        retrain,
        "rejected_twice",
        message,
        rows,
    )
    return [
        Announce(event),
        ReplacePending(retrain.drift.dataset, retrain.key, pending.revision, None),
    ]


def count_rejection(state: DatasetState, event: ModelRejected) -> list[Effect]:
    """A rejected run of a pending retrain counts against its shift (none: no effect)."""
    for pending in state.pending:
        retrain = pending.retrain
        if event.run_id is not None and event.run_id in retrain.awaiting:
            counted = retrain.model_copy(
                update={
                    "rejected": retrain.rejected + 1,
                    "awaiting": tuple(r for r in retrain.awaiting if r != event.run_id),
                }
            )
            return [ReplacePending(state.dataset, retrain.key, pending.revision, counted)]
    return []


def reset_rejections(state: DatasetState, event: ModelPromoted) -> list[Effect]:
    """A promotion changes the champion every later step is judged against: count anew."""
    return [
        ReplacePending(
            state.dataset,
            p.retrain.key,
            p.revision,
            p.retrain.model_copy(update={"rejected": 0, "awaiting": ()}),
        )
        for p in state.pending
        if p.retrain.rejected or p.retrain.awaiting
    ]
