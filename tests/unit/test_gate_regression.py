"""The promotion gate for a regression target: an R2 floor, then the candidate's absolute
errors against the champion's on the same holdout rows (a lower MAE, significantly)."""

from __future__ import annotations

import numpy as np
from driftloop_contracts import Metrics
from driftloop_registry.gate import Decision, GateConfig, Paired, PairedErrors, decide

DEFAULT = GateConfig(min_r2=0.2, min_mae_improvement=0.05, significance=0.05)


def metrics(mae: float, r2: float = 0.8, rows: int = 200) -> Metrics:
    return Metrics(accuracy=0, f1_macro=0, rows=rows, mae=mae, rmse=mae * 1.25, r2=r2)


def errors(scale: float, rows: int = 200, seed: int = 1) -> tuple[float, ...]:
    return tuple(np.abs(np.random.default_rng(seed).normal(0, scale, rows)).tolist())


def test_a_first_model_above_the_r2_floor_is_promoted_whatever_its_accuracy() -> None:
    decision = decide(metrics(10.0, r2=0.5), None, DEFAULT)

    assert decision == Decision(True, "first model: R2 0.500 passes the floor 0.200, MAE 10")


def test_a_candidate_below_the_r2_floor_is_rejected_with_both_numbers() -> None:
    decision = decide(metrics(10.0, r2=0.1), metrics(20.0), DEFAULT, champion_version=1)

    assert decision == Decision(False, "R2 0.100 is below the floor 0.200")


def test_the_holdout_size_is_checked_first() -> None:
    decision = decide(metrics(1.0, rows=10), None, DEFAULT)

    assert not decision.promote and "too small to judge" in decision.reason


def test_a_candidate_whose_errors_are_clearly_smaller_is_promoted_with_the_test() -> None:
    paired = PairedErrors(errors(5.0), errors(10.0))

    decision = decide(metrics(4.0), metrics(8.0), DEFAULT, 3, paired)

    assert decision.promote
    assert decision.reason.startswith("MAE 4 beats champion v3's 8 (-5.0%) on the same 200-row")
    assert "Wilcoxon p=" in decision.reason


def test_a_candidate_with_a_higher_mae_is_rejected_without_a_test() -> None:
    decision = decide(metrics(8.5), metrics(8.0), DEFAULT, 2)

    assert decision == Decision(
        False, "MAE 8.5 does not beat champion v2's 8 (-5.0%) on the same 200-row holdout"
    )


def test_a_gain_smaller_than_the_minimum_relative_improvement_is_rejected() -> None:
    decision = decide(metrics(7.8), metrics(8.0), DEFAULT, 2)  # 2.5% lower, 5% needed

    assert not decision.promote and "does not beat" in decision.reason


def test_an_insignificant_gain_is_rejected_with_the_p_value() -> None:
    champion = errors(10.0, seed=2)
    candidate = tuple(e * (0.999 if i % 2 else 0.94) for i, e in enumerate(errors(10.0, seed=3)))
    paired = PairedErrors(candidate, champion)

    decision = decide(metrics(7.0), metrics(8.0), DEFAULT, 2, paired)

    assert not decision.promote
    assert "Wilcoxon signed-rank test does not find significant (p=" in decision.reason


def test_identical_errors_give_no_evidence_and_no_error() -> None:
    same = errors(5.0)

    assert PairedErrors(same, same).p_value() == 1.0


def test_rows_both_models_get_equally_wrong_are_left_out_of_the_test() -> None:
    champion = (*errors(10.0), *([3.0] * 50))
    candidate = (*errors(5.0), *([3.0] * 50))

    assert PairedErrors(candidate, champion).p_value() < 0.001


def test_a_significance_of_one_turns_the_test_off() -> None:
    config = GateConfig(min_mae_improvement=0.0, significance=1.0)
    paired = PairedErrors(errors(10.0, seed=4), errors(10.0, seed=5))

    assert decide(metrics(7.9), metrics(8.0), config, 2, paired).promote


def test_classification_pairs_do_not_judge_a_regression_candidate() -> None:
    decision = decide(metrics(4.0), metrics(8.0), DEFAULT, 2, Paired(0, 50))

    assert decision.promote and "Wilcoxon" not in decision.reason
