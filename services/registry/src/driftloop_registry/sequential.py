"""The sequential test of a live trial: is the challenger better than the champion on the
paired outcomes of the same predictions? Pure: counts in, verdict out.

Only discordant pairs say anything (McNemar's b and c: only the challenger right, only the
champion right; for regression, which absolute error is smaller). Among them the challenger's
win share is p; equal models have p = 0.5. Wald's SPRT compares p = 0.5 + `min_effect`
against p = 0.5 with the log-likelihood ratio

    L = wins * ln(p1 / 0.5) + losses * ln((1 - p1) / 0.5)

and stops at L >= ln(1/alpha) (better) or L <= ln(beta) (not better). The ratio is a
martingale under p = 0.5 (and its inverse under p = p1), so by Ville's inequality the chance
of ever crossing the upper boundary with equal models is at most alpha however often it is
looked at: checking after every delivery, or after any number of pairs, keeps that bound
(valid under optional stopping). A worse challenger (p < 0.5) crosses it even less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["better", "not better"]


@dataclass(frozen=True)
class SequentialTest:
    alpha: float = 0.05  # promoting an equal challenger, at most
    beta: float = 0.2  # rejecting a challenger at the alternative, at most
    min_effect: float = 0.1  # the alternative: win share 0.5 + this of discordant pairs

    def __post_init__(self) -> None:
        if not (0 < self.alpha < 1 and 0 < self.beta < 1 and 0 < self.min_effect < 0.5):
            raise ValueError("alpha and beta in (0, 1), min_effect in (0, 0.5)")

    @property
    def win_weight(self) -> float:
        return math.log((0.5 + self.min_effect) / 0.5)

    @property
    def loss_weight(self) -> float:
        return math.log((0.5 - self.min_effect) / 0.5)

    @property
    def upper(self) -> float:
        """At or above: the challenger is better."""
        return math.log(1 / self.alpha)

    @property
    def lower(self) -> float:
        """At or below: it is not (better by min_effect)."""
        return math.log(self.beta)

    def statistic(self, wins: int, losses: int) -> float:
        """The log-likelihood ratio of `wins` and `losses` (discordant pairs)."""
        return wins * self.win_weight + losses * self.loss_weight

    def verdict(self, wins: int, losses: int) -> Verdict | None:
        """'better', 'not better', or None: keep collecting."""
        s = self.statistic(wins, losses)
        if s >= self.upper:
            return "better"
        if s <= self.lower:
            return "not better"
        return None


def outcome(champion_loss: float, challenger_loss: float) -> int:
    """One pair: +1 a win for the challenger (smaller loss: right where the champion was
    wrong, or a smaller absolute error), -1 a loss, 0 a tie."""
    if challenger_loss < champion_loss:
        return 1
    if challenger_loss > champion_loss:
        return -1
    return 0
