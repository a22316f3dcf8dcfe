"""A version's lineage as a chain a person reads left to right: the drift event that asked for
it (if any), the training run, the registration with the gate's decision, each promotion.
Linked by correlation id: a drift's id is the correlation id of the run and promotion it
caused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftloop_contracts import DriftDetected

from .views import fmt, metric_text

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    stage: str  # drift | run | registration | promotion
    title: str
    detail: str
    event_id: str
    at: str = ""
    link: str | None = None  # a drift event's report


def _time(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def cause_of(lineage: Json, drifts: Sequence[DriftDetected]) -> DriftDetected | None:
    """The drift event the run came from: its causation, else the chain it belongs to."""
    by_id = {str(d.event_id): d for d in drifts}
    return by_id.get(str(lineage.get("caused_by"))) or by_id.get(str(lineage.get("correlation_id")))


def lineage_chain(lineage: Json, drifts: Sequence[DriftDetected], report_base: str) -> list[Step]:
    steps: list[Step] = []
    drift = cause_of(lineage, drifts)
    if drift is not None:
        drifted = ", ".join(e.feature for e in drift.evidence if e.drifted) or "—"
        steps.append(
            Step(
                "drift",
                f"{drift.kind} drift on v{drift.model_version}",
                f"drifted: {drifted}",
                str(drift.event_id),
                _time(drift.occurred_at.isoformat()),
                f"{report_base}/v1/reports/{drift.event_id}",
            )
        )
    steps.append(_run(lineage))
    steps.append(_registration(lineage))
    steps += [_promotion(p) for p in lineage.get("promotions", [])]
    return steps


def _run(lineage: Json) -> Step:
    rows = lineage.get("training_rows", 0)
    return Step(
        "run",
        f"training run ({lineage.get('trigger', '?')})",
        f"{rows:,} rows · {metric_text(lineage.get('metrics', {}))}",
        str(lineage.get("training_event_id", "")),
    )


def _registration(lineage: Json) -> Step:
    decision: Json = lineage.get("decision") or {}
    if not decision:
        verdict = "waiting for the gate"
    else:
        verdict = ("promote: " if decision.get("promote") else "reject: ") + str(
            decision.get("reason", "")
        )
    return Step(
        "registration",
        f"registered v{lineage.get('version')}",
        verdict,
        str(lineage.get("run_id", "")),
        _time(decision.get("decided_at")),
    )


def _promotion(promotion: Json) -> Step:
    previous = promotion.get("previous_version")
    after = f" after v{previous}" if previous else ""
    return Step(
        "promotion",
        f"promoted ({promotion.get('reason')}){after}",
        f"by {promotion.get('actor')} · correlation {promotion.get('correlation_id')}",
        str(promotion.get("event_id", "")),
        _time(promotion.get("at")),
    )


def chain_is_whole(steps: Sequence[Step]) -> bool:
    """Drift, run, registration and at least one promotion: the loop closed."""
    stages = [s.stage for s in steps]
    return stages[:3] == ["drift", "run", "registration"] and "promotion" in stages


__all__ = ["Step", "chain_is_whole", "fmt", "lineage_chain"]
