"""The live trial's sequential test, on simulated streams of paired outcomes."""

from __future__ import annotations

import numpy as np
import pytest
from driftloop_registry.sequential import SequentialTest, outcome

TEST = SequentialTest(alpha=0.05, beta=0.2, min_effect=0.1)


def first_verdicts(
    test: SequentialTest, win_share: float, trials: int, max_pairs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate `trials` streams of discordant pairs, the test looked at after every pair;
    each trial's verdict (1 better, -1 not better, 0 undecided within max_pairs) and the
    discordant pairs it took."""
    rng = np.random.default_rng(seed)
    wins = rng.random((trials, max_pairs)) < win_share
    path = np.cumsum(np.where(wins, test.win_weight, test.loss_weight), axis=1)
    crossed = (path >= test.upper) | (path <= test.lower)
    decided = crossed.any(axis=1)
    at = np.where(decided, crossed.argmax(axis=1), max_pairs - 1)
    final = path[np.arange(trials), at]
    verdict = np.where(~decided, 0, np.where(final >= test.upper, 1, -1))
    return verdict, at + 1


def test_equal_models_are_promoted_at_most_alpha_of_the_time_however_long_it_watches() -> None:
    verdict, _ = first_verdicts(TEST, 0.5, trials=1000, max_pairs=5000, seed=1)
    assert (verdict == 1).mean() <= TEST.alpha


def test_a_worse_challenger_is_almost_never_promoted_and_mostly_rejected() -> None:
    verdict, _ = first_verdicts(TEST, 0.4, trials=1000, max_pairs=2000, seed=2)
    assert (verdict == 1).mean() <= 0.01
    assert (verdict == -1).mean() >= 0.95


def test_a_five_point_gain_is_found_within_a_few_hundred_discordant_pairs() -> None:
    # Champion 80% right, challenger 85%: only the challenger right on 10% of rows, only the
    # champion on 5%, so the challenger wins two thirds of the discordant pairs.
    verdict, taken = first_verdicts(TEST, 0.10 / 0.15, trials=1000, max_pairs=2000, seed=3)
    assert (verdict == 1).mean() >= 1 - TEST.beta
    assert np.percentile(taken[verdict == 1], 95) <= 300


def test_the_test_needs_a_run_of_evidence_before_it_decides() -> None:
    assert TEST.verdict(wins=0, losses=0) is None
    assert TEST.verdict(wins=10, losses=0) is None
    assert TEST.verdict(wins=17, losses=0) == "better"
    assert TEST.verdict(wins=0, losses=8) == "not better"
    assert TEST.verdict(wins=80, losses=40) == "better"
    assert TEST.verdict(wins=50, losses=50) == "not better"


def test_a_pair_is_a_win_when_the_challenger_loses_less() -> None:
    assert outcome(champion_loss=1.0, challenger_loss=0.0) == 1
    assert outcome(champion_loss=0.0, challenger_loss=1.0) == -1
    assert outcome(champion_loss=0.0, challenger_loss=0.0) == 0
    assert outcome(champion_loss=2.5, challenger_loss=0.5) == 1  # regression: |error|


def test_settings_outside_the_test_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha and beta"):
        SequentialTest(alpha=0.0)
    with pytest.raises(ValueError, match="alpha and beta"):
        SequentialTest(min_effect=0.5)
