"""The promotion gate: absolute floors, then the candidate against the champion on the same
(most recent) holdout. Pure: metrics in, decision out."""

from __future__ import annotations

from dataclasses import dataclass

from driftloop_contracts import Metrics


@dataclass(frozen=True)
class GateConfig:
    min_accuracy: float = 0.6
    min_f1: float = 0.0
    min_improvement: float = 0.0
    min_holdout_rows: int = 50


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    candidate: Metrics,
    champion: Metrics | None,
    config: GateConfig,
    champion_version: int | None = None,
) -> Decision:
    if candidate.rows < config.min_holdout_rows:
        return Decision(
            False,
            f"holdout of {candidate.rows} rows is too small to judge "
            f"(need {config.min_holdout_rows}); train on more rows",
        )
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
    if candidate.accuracy >= needed:
        return Decision(
            True,
            f"accuracy {candidate.accuracy:.3f} >= {versus}'s {champion.accuracy:.3f} "
            f"(+{config.min_improvement:.3f}) on the same {candidate.rows}-row holdout",
        )
    return Decision(
        False,
        f"accuracy {candidate.accuracy:.3f} < {versus}'s {champion.accuracy:.3f} "
        f"(+{config.min_improvement:.3f}) on the same {candidate.rows}-row holdout",
    )
