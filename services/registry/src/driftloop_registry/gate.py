"""The promotion gate: absolute floors, then the candidate against the champion on the same
(most recent) holdout. Pure: metrics in, decision out.

Against a champion, the candidate must gain at least `min_improvement` in accuracy, and the
gain must be significant: McNemar's exact test on the rows only one of the two gets right
(one-sided, at `significance`). On a few hundred rows two equally good models differ by a
point or two by chance; without the test, every covariate shift that does not hurt accuracy
would still churn the model half of the time.

A regression candidate (metrics with `mae`) is judged the same way on errors: a floor on R2,
then against the champion a lower MAE by at least `min_mae_improvement` (relative), and the
candidate's absolute errors smaller than the champion's on the same holdout rows by a
one-sided Wilcoxon signed-rank test at `significance`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from driftloop_contracts import Metrics
from scipy.stats import binomtest, wilcoxon


@dataclass(frozen=True)
class GateConfig:
    min_accuracy: float = 0.6
    min_f1: float = 0.0
    min_improvement: float = 0.0
    min_holdout_rows: int = 50
    significance: float = 0.05  # 1.0: no test, any gain of min_improvement promotes
    min_r2: float = 0.0  # regression: floor on holdout R2 (0: no worse than the mean)
    min_mae_improvement: float = 0.0  # regression: relative MAE gain over the champion


@dataclass(frozen=True)
class Paired:
    """Holdout rows only the candidate got right, and only the champion got right."""

    candidate_only: int
    champion_only: int

    def p_value(self) -> float:
        """One-sided exact McNemar: how likely a gain this large is between equal models."""
        n = self.candidate_only + self.champion_only
        if n == 0:
            return 1.0
        return float(binomtest(self.candidate_only, n, 0.5, alternative="greater").pvalue)


@dataclass(frozen=True)
class PairedErrors:
    """Absolute errors of the candidate and the champion on the same holdout rows, in order."""

    candidate: tuple[float, ...]
    champion: tuple[float, ...]

    def p_value(self) -> float:
        """One-sided Wilcoxon signed-rank: how likely errors this much smaller are between
        equal models. Rows where both err the same say nothing (no differing row: 1)."""
        gain = np.asarray(self.champion, dtype=float) - np.asarray(self.candidate, dtype=float)
        if not np.any(gain != 0):
            return 1.0
        return float(wilcoxon(gain, zero_method="wilcox", alternative="greater").pvalue)


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    candidate: Metrics,
    champion: Metrics | None,
    config: GateConfig,
    champion_version: int | None = None,
    paired: Paired | PairedErrors | None = None,
) -> Decision:
    if candidate.rows < config.min_holdout_rows:
        return Decision(
            False,
            f"holdout of {candidate.rows} rows is too small to judge "
            f"(need {config.min_holdout_rows}); train on more rows",
        )
    if candidate.is_regression:
        errors = paired if isinstance(paired, PairedErrors) else None
        return decide_regression(candidate, champion, config, champion_version, errors)
    if isinstance(paired, PairedErrors):
        paired = None
    if candidate.accuracy < config.min_accuracy:
        return Decision(
            False, f"accuracy {candidate.accuracy:.3f} is below the floor {config.min_accuracy:.3f}"
        )
    if candidate.f1_macro < config.min_f1:
        return Decision(
            False, f"macro F1 {candidate.f1_macro:.3f} is below the floor {config.min_f1:.3f}"
        )
    if champion is None:
        return Decision(
            True,
            f"first model: accuracy {candidate.accuracy:.3f} "
            f"passes the floor {config.min_accuracy:.3f}",
        )
    needed = champion.accuracy + config.min_improvement
    versus = f"champion v{champion_version}" if champion_version else "the champion"
    compared = f"on the same {candidate.rows}-row holdout"
    if candidate.accuracy < needed or (
        config.min_improvement == 0 and candidate.accuracy <= champion.accuracy
    ):
        return Decision(
            False,
            f"accuracy {candidate.accuracy:.3f} does not beat {versus}'s "
            f"{champion.accuracy:.3f} (+{config.min_improvement:.3f}) {compared}",
        )
    if paired is not None and config.significance < 1:
        p = paired.p_value()
        if p > config.significance:
            return Decision(
                False,
                f"accuracy {candidate.accuracy:.3f} vs {versus}'s {champion.accuracy:.3f} "
                f"{compared}: a gain McNemar does not find significant (p={p:.3f} > "
                f"{config.significance})",
            )
    return Decision(
        True,
        f"accuracy {candidate.accuracy:.3f} beats {versus}'s {champion.accuracy:.3f} "
        f"(+{config.min_improvement:.3f}) {compared}"
        + (f", McNemar p={paired.p_value():.3g}" if paired is not None else ""),
    )


def decide_regression(
    candidate: Metrics,
    champion: Metrics | None,
    config: GateConfig,
    champion_version: int | None = None,
    paired: PairedErrors | None = None,
) -> Decision:
    """The regression gate (holdout size already checked): R2 floor, then errors vs champion."""
    mae, r2 = candidate.mae or 0.0, candidate.r2 or 0.0
    if r2 < config.min_r2:
        return Decision(False, f"R2 {r2:.3f} is below the floor {config.min_r2:.3f}")
    if champion is None or champion.mae is None:
        return Decision(
            True, f"first model: R2 {r2:.3f} passes the floor {config.min_r2:.3f}, MAE {mae:.4g}"
        )
    versus = f"champion v{champion_version}" if champion_version else "the champion"
    compared = f"on the same {candidate.rows}-row holdout"
    needed = champion.mae * (1 - config.min_mae_improvement)
    if mae >= champion.mae or mae > needed:
        return Decision(
            False,
            f"MAE {mae:.4g} does not beat {versus}'s {champion.mae:.4g} "
            f"(-{config.min_mae_improvement:.1%}) {compared}",
        )
    if paired is not None and config.significance < 1:
        p = paired.p_value()
        if p > config.significance:
            return Decision(
                False,
                f"MAE {mae:.4g} vs {versus}'s {champion.mae:.4g} {compared}: smaller errors "
                f"the Wilcoxon signed-rank test does not find significant "
                f"(p={p:.3f} > {config.significance})",
            )
    return Decision(
        True,
        f"MAE {mae:.4g} beats {versus}'s {champion.mae:.4g} "
        f"(-{config.min_mae_improvement:.1%}) {compared}"
        + (f", Wilcoxon p={paired.p_value():.3g}" if paired is not None else ""),
    )
