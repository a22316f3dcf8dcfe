"""The promotion gate: absolute floors first, then the candidate against the champion."""

from __future__ import annotations

import pytest
from driftloop_contracts import Metrics
from driftloop_registry.gate import Decision, GateConfig, Paired, decide

DEFAULT = GateConfig(min_accuracy=0.6, min_f1=0.0, min_improvement=0.0)


def metrics(accuracy: float, f1: float | None = None, rows: int = 200) -> Metrics:
    return Metrics(accuracy=accuracy, f1_macro=accuracy if f1 is None else f1, rows=rows)


# ------------------------------------------------------------------------------- floors


def test_a_candidate_below_the_accuracy_floor_is_rejected_with_both_numbers() -> None:
    decision = decide(metrics(0.55), None, DEFAULT)

    assert decision == Decision(False, "accuracy 0.550 is below the floor 0.600")


def test_a_candidate_below_the_f1_floor_is_rejected_with_both_numbers() -> None:
    config = GateConfig(min_accuracy=0.6, min_f1=0.5)

    decision = decide(metrics(0.9, f1=0.42), None, config)

    assert decision == Decision(False, "macro F1 0.420 is below the floor 0.500")


def test_the_accuracy_floor_is_checked_before_the_f1_floor() -> None:
    config = GateConfig(min_accuracy=0.6, min_f1=0.5)

    decision = decide(metrics(0.5, f1=0.1), None, config)

    assert not decision.promote
    assert decision.reason.startswith("accuracy 0.500 is below the floor")


def test_the_floors_apply_even_when_the_candidate_beats_the_champion() -> None:
    decision = decide(metrics(0.58), metrics(0.40), DEFAULT, champion_version=1)

    assert not decision.promote
    assert "below the floor" in decision.reason


def test_a_candidate_judged_on_too_small_a_holdout_is_rejected_whatever_its_accuracy() -> None:
    config = GateConfig(min_accuracy=0.6, min_holdout_rows=50)

    decision = decide(metrics(0.99, rows=20), None, config)

    assert not decision.promote
    assert "holdout of 20 rows is too small to judge (need 50)" in decision.reason


def test_a_candidate_exactly_at_the_floor_passes_it() -> None:
    assert decide(metrics(0.6), None, DEFAULT).promote


# -------------------------------------------------------------------------- first model


def test_the_first_model_is_promoted_when_it_passes_the_floors() -> None:
    decision = decide(metrics(0.7), None, DEFAULT)

    assert decision == Decision(True, "first model: accuracy 0.700 passes the floor 0.600")


# --------------------------------------------------------------------- against champion


def test_a_candidate_that_beats_the_champion_is_promoted() -> None:
    decision = decide(metrics(0.8), metrics(0.75), DEFAULT, champion_version=3)

    assert decision == Decision(
        True, "accuracy 0.800 beats champion v3's 0.750 (+0.000) on the same 200-row holdout"
    )


def test_a_candidate_that_only_matches_the_champion_is_kept_out() -> None:
    decision = decide(metrics(0.75), metrics(0.75), DEFAULT, champion_version=2)

    assert not decision.promote
    assert decision.reason.startswith("accuracy 0.750 does not beat champion v2's 0.750")


def test_a_candidate_that_loses_to_the_champion_is_rejected() -> None:
    decision = decide(metrics(0.7, rows=150), metrics(0.75), DEFAULT, champion_version=3)

    assert decision == Decision(
        False,
        "accuracy 0.700 does not beat champion v3's 0.750 (+0.000) on the same 150-row holdout",
    )


def test_a_gain_within_chance_is_kept_out_by_mcnemar() -> None:
    # 12 rows only the candidate gets right, 8 only the champion: a 2-point gain on 200 rows
    decision = decide(metrics(0.77), metrics(0.75), DEFAULT, 1, Paired(12, 8))

    assert not decision.promote
    assert "McNemar does not find significant (p=0.252 > 0.05)" in decision.reason


def test_a_significant_gain_is_promoted_with_its_p_value() -> None:
    decision = decide(metrics(0.85), metrics(0.75), DEFAULT, 1, Paired(30, 10))

    assert decision.promote
    assert decision.reason.endswith("McNemar p=0.00111")


def test_the_significance_test_can_be_turned_off() -> None:
    config = GateConfig(min_accuracy=0.6, significance=1.0)

    assert decide(metrics(0.77), metrics(0.75), config, 1, Paired(12, 8)).promote


def test_mcnemar_with_no_disagreement_finds_nothing() -> None:
    assert Paired(0, 0).p_value() == 1.0


@pytest.mark.parametrize(
    ("candidate", "promote"),
    [(0.76, False), (0.79, False), (0.81, True)],
)
def test_a_required_improvement_raises_the_bar_above_the_champion(
    candidate: float, promote: bool
) -> None:
    config = GateConfig(min_accuracy=0.6, min_improvement=0.05)

    decision = decide(metrics(candidate), metrics(0.75), config, champion_version=4)

    assert decision.promote is promote
    assert "(+0.050)" in decision.reason


def test_without_a_champion_version_the_reason_names_the_champion_generically() -> None:
    decision = decide(metrics(0.7), metrics(0.8), DEFAULT)

    assert not decision.promote
    assert "does not beat the champion's 0.800" in decision.reason


def test_the_champion_is_not_judged_against_the_floors() -> None:
    # a champion that would fail today's floor still sets the bar a candidate must meet
    decision = decide(metrics(0.65), metrics(0.5), DEFAULT, champion_version=1)

    assert decision.promote
