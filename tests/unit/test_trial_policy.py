"""Live challenger trials, decided in pure functions: start, pairing, the test and budgets,
and what a decision publishes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from driftloop_contracts import (
    ModelPromoted,
    ModelRejected,
    PredictionsLabelled,
    RolloutChanged,
    TrialDecided,
    TrialStarted,
    utcnow,
)
from driftloop_registry import trials
from driftloop_registry.sequential import SequentialTest
from driftloop_registry.trials import TrialConfig, TrialRecord

from tests.support.events import completed

NOW = utcnow()
CONFIG = TrialConfig(test=SequentialTest(0.05, 0.2, 0.1), max_pairs=1000, max_seconds=600)
RUN = completed(trigger="drift")


def a_trial(now: datetime = NOW) -> TrialRecord:
    _, record = trials.start(RUN, 2, 1, "gate passed", CONFIG, now)
    return record


def labelled(
    role: str,
    version: int,
    ids: Sequence[uuid.UUID],
    predictions: Sequence[str | float],
    labels: Sequence[str | float],
    at: datetime = NOW,
    dataset: str = "demo",
) -> PredictionsLabelled:
    ms = int(at.timestamp() * 1000)
    return PredictionsLabelled(
        dataset=dataset,
        model_version=version,
        role=role,  # type: ignore[arg-type]
        prediction_ids=tuple(ids),
        predictions=tuple(predictions),
        labels=tuple(labels),
        predicted_at_ms=(ms,) * len(ids),
        labelled_at_ms=(ms,) * len(ids),
    )


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def counted(record: TrialRecord, *events: PredictionsLabelled) -> trials.Observed:
    new = [h for e in events for h in trials.halves(record, e)]
    return trials.observe(record, new, {})


# --------------------------------------------------------------------------- start


def test_a_candidate_that_passed_the_gate_shadows_the_champion_in_a_trial_of_its_chain() -> None:
    events, record = trials.start(RUN, 2, 1, "gate passed", CONFIG, NOW)
    shadow, started = events
    assert isinstance(shadow, RolloutChanged) and isinstance(started, TrialStarted)
    assert (shadow.stage, shadow.outcome, shadow.model_version) == ("shadow", "started", 2)
    assert (started.model_version, started.champion_version) == (2, 1)
    assert started.correlation_id == RUN.correlation_id == shadow.correlation_id
    assert started.deadline == NOW + timedelta(seconds=600)
    assert record.pairs == 0 and record.decided is None


def test_starting_twice_from_one_training_event_gives_the_same_trial() -> None:
    assert a_trial().trial_id == a_trial(NOW + timedelta(seconds=1)).trial_id


# ------------------------------------------------------------------------- pairing


def test_the_champions_answers_and_the_challengers_shadow_are_paired_by_prediction_id() -> None:
    same = ids(4)
    champion = labelled("primary", 1, same, ["yes", "yes", "no", "no"], ["yes"] * 4)
    challenger = labelled("shadow", 2, same, ["yes", "no", "yes", "no"], ["yes"] * 4)

    observed = counted(a_trial(), champion, challenger)

    r = observed.record
    assert (r.pairs, r.wins, r.losses) == (4, 1, 1)
    assert r.evidence(CONFIG.test).ties == 2
    assert (r.champion_loss, r.challenger_loss) == (2.0, 2.0)
    assert observed.store == {} and r.waiting == 0


def test_a_half_waits_for_its_other_side_from_a_later_delivery() -> None:
    one = ids(1)
    first = counted(a_trial(), labelled("shadow", 2, one, ["yes"], ["yes"]))
    assert first.record.pairs == 0 and first.record.waiting == 1

    champion = trials.halves(first.record, labelled("primary", 1, one, ["no"], ["yes"]))
    second = trials.observe(first.record, champion, first.store)

    assert (second.record.pairs, second.record.wins) == (1, 1)
    assert second.matched == [str(one[0])] and second.record.waiting == 0


def test_rows_of_other_versions_roles_datasets_or_from_before_the_trial_are_not_compared() -> None:
    record, one = a_trial(), ids(1)
    before = NOW - timedelta(seconds=5)
    for event in (
        labelled("primary", 3, one, ["yes"], ["yes"]),
        labelled("canary", 2, one, ["yes"], ["yes"]),
        labelled("shadow", 1, one, ["yes"], ["yes"]),
        labelled("primary", 1, one, ["yes"], ["yes"], dataset="other"),
        labelled("primary", 1, one, ["yes"], ["yes"], at=before),
    ):
        assert trials.halves(record, event) == []


def test_for_numbers_the_closer_prediction_wins() -> None:
    record = a_trial().model_copy(update={"regression": True})
    same = ids(3)
    champion = labelled("primary", 1, same, [10.0, 10.0, 10.0], [11.0, 12.0, 10.5])
    challenger = labelled("shadow", 2, same, [10.9, 9.0, 10.5], [11.0, 12.0, 10.5])

    r = counted(record, champion, challenger).record

    assert (r.pairs, r.wins, r.losses) == (3, 2, 1)
    assert abs(r.champion_loss - 3.5) < 1e-9 and abs(r.challenger_loss - 3.1) < 1e-9


# --------------------------------------------------------------------------- ending


def with_counts(wins: int, losses: int, ties: int = 0, **more: int) -> TrialRecord:
    pairs = wins + losses + ties
    return a_trial().model_copy(update={"pairs": pairs, "wins": wins, "losses": losses, **more})


def test_a_clearly_better_challenger_is_promoted_on_the_evidence() -> None:
    end = trials.ending(with_counts(40, 10, 200), CONFIG, NOW)
    assert end is not None and (end.decision, end.stopped_by) == ("promoted", "evidence")
    assert "won 40 and lost 10" in end.reason


def test_a_challenger_no_better_is_rejected_on_the_evidence() -> None:
    end = trials.ending(with_counts(20, 30), CONFIG, NOW)
    assert end is not None and (end.decision, end.stopped_by) == ("rejected", "evidence")


def test_a_trial_without_enough_evidence_goes_on() -> None:
    assert trials.ending(with_counts(5, 3, 100), CONFIG, NOW) is None


def test_an_undecided_trial_is_rejected_when_its_row_budget_is_spent() -> None:
    end = trials.ending(with_counts(5, 3, 992), CONFIG, NOW)
    assert end is not None and (end.decision, end.stopped_by) == ("rejected", "row_budget")


def test_an_undecided_trial_is_rejected_when_its_time_is_up() -> None:
    end = trials.ending(with_counts(5, 3), CONFIG, NOW + timedelta(seconds=601))
    assert end is not None and (end.decision, end.stopped_by) == ("rejected", "time_budget")


def test_a_trial_whose_shadow_never_predicts_ends_instead_of_piling_up_halves() -> None:
    end = trials.ending(with_counts(0, 0, waiting=1001), CONFIG, NOW)
    assert end is not None and end.stopped_by == "row_budget" and "no partner" in end.reason


# ------------------------------------------------------------------------ decisions


def test_a_promotion_by_a_trial_carries_the_evidence_and_the_drifts_chain() -> None:
    record = with_counts(40, 10, 200)
    end = trials.ending(record, CONFIG, NOW)
    assert end is not None

    events, done = trials.decided(record, end, CONFIG, RUN, 1)

    decided, promoted, ended = events
    assert isinstance(decided, TrialDecided) and decided.evidence.wins == 40
    assert isinstance(promoted, ModelPromoted) and promoted.reason == "trial"
    assert (promoted.model_version, promoted.previous_version) == (2, 1)
    assert promoted.correlation_id == RUN.correlation_id
    assert promoted.causation_id == decided.event_id
    assert isinstance(ended, RolloutChanged) and (ended.stage, ended.outcome) == (
        "ended",
        "promoted",
    )
    assert done.decided == decided


def test_a_rejection_by_a_trial_ends_the_shadow_and_tells_the_trainer_which_run() -> None:
    record = with_counts(20, 30)
    end = trials.ending(record, CONFIG, NOW)
    assert end is not None

    events, _ = trials.decided(record, end, CONFIG, RUN, 1)

    decided, ended, rejected = events
    assert isinstance(decided, TrialDecided) and decided.decision == "rejected"
    assert isinstance(ended, RolloutChanged) and ended.outcome == "aborted"
    assert isinstance(rejected, ModelRejected)
    assert (rejected.run_id, rejected.trigger) == (RUN.run_id, "drift")
    assert rejected.reason.startswith("live trial: not better")


def test_a_superseded_trial_rejects_its_candidate_and_leaves_the_rollout_to_the_newer() -> None:
    record = with_counts(3, 2)
    events, _ = trials.decided(record, trials.superseded(record, 3), CONFIG, RUN, 1)

    assert [type(e) for e in events] == [TrialDecided, ModelRejected]
    assert "superseded by v3" in events[1].reason  # type: ignore[attr-defined]


def test_a_trial_whose_champion_changed_by_hand_is_abandoned() -> None:
    record = with_counts(3, 2)
    end = trials.still_serving(record, None, None)
    assert end is not None and (end.decision, end.stopped_by) == ("abandoned", "rollout_changed")

    events, _ = trials.decided(record, end, CONFIG, RUN, 1)
    assert [type(e) for e in events] == [TrialDecided]
