"""What the datasets and dataset pages show: pure functions from the services' answers (JSON
as they send it) and the drift events read from the stream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftloop_contracts import DriftDetected

Json = Mapping[str, Any]


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class DriftMark:
    kind: str
    version: int
    at: str
    event_id: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class DatasetRow:
    name: str
    target: str  # classification | regression
    champion: int | None
    measure: str  # what `live` is: accuracy, or MAE for regression
    live: str
    promoted_with: str
    worse: bool  # live quality below what the champion was promoted with
    labels: int
    last_drift: DriftMark | None
    serving: int | None  # the version the monitor sees in prediction logs
    lag: str  # serving vs promoted, in words


def drift_mark(event: DriftDetected) -> DriftMark:
    drifted = tuple(e.feature for e in event.evidence if e.drifted)
    return DriftMark(
        event.kind,
        event.model_version,
        event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
        str(event.event_id),
        drifted,
    )


def newest_drifts(drifts: Sequence[DriftDetected]) -> dict[str, DriftDetected]:
    newest: dict[str, DriftDetected] = {}
    for event in drifts:
        held = newest.get(event.dataset)
        if held is None or event.occurred_at > held.occurred_at:
            newest[event.dataset] = event
    return newest


def dataset_rows(
    registrations: Sequence[Json],
    versions: Sequence[Json],
    monitor: Json | None,
    drifts: Sequence[DriftDetected],
) -> list[DatasetRow]:
    """One row per dataset any service knows, by name."""
    targets = {r["dataset"]: r.get("schema", {}).get("target", {}) for r in registrations}
    champions = {v["dataset"]: v for v in versions if v.get("status") == "champion"}
    watched: Mapping[str, Json] = (monitor or {}).get("datasets", {})
    last = newest_drifts(drifts)
    names = sorted({*targets, *(v["dataset"] for v in versions), *watched})
    return [
        dataset_row(name, targets.get(name, {}), champions.get(name), watched.get(name), last)
        for name in names
    ]


def dataset_row(
    name: str,
    target: Json,
    champion: Json | None,
    watched: Json | None,
    last: Mapping[str, DriftDetected],
) -> DatasetRow:
    regression = target.get("kind") == "regression"
    version = champion["version"] if champion else None
    watch = _watch_of(watched, version)
    performance: Json = watch.get("performance", {}) if watch else {}
    metrics: Json = champion.get("metrics", {}) if champion else {}
    if regression:
        live, promoted = performance.get("live_mae"), metrics.get("mae")
        worse = live is not None and promoted is not None and live > promoted
    else:
        live, promoted = performance.get("live_accuracy"), metrics.get("accuracy")
        worse = live is not None and promoted is not None and live < promoted - 0.02
    serving = watched.get("serving_version") if watched else None
    drift = last.get(name)
    return DatasetRow(
        name=name,
        target="regression" if regression else "classification",
        champion=version,
        measure="MAE" if regression else "accuracy",
        live=fmt(live),
        promoted_with=fmt(promoted),
        worse=worse,
        labels=int(performance.get("labels", 0)),
        last_drift=drift_mark(drift) if drift else None,
        serving=serving,
        lag=serving_lag(version, serving),
    )


def _watch_of(watched: Json | None, version: int | None) -> Json | None:
    """The monitor's watch of the champion (else of the newest version it saw)."""
    if not watched or not watched.get("versions"):
        return None
    for watch in watched["versions"]:
        if watch.get("model_version") == version:
            return dict(watch)
    return dict(watched["versions"][0])


def serving_lag(champion: int | None, serving: int | None) -> str:
    if champion is None:
        return "no model yet"
    if serving is None:
        return "no predictions seen"
    if serving == champion:
        return "in step"
    return f"v{serving} still answering, v{champion} promoted"


@dataclass(frozen=True)
class VersionRow:
    version: int
    status: str
    trigger: str
    created_at: str
    metrics: str
    decision: str  # promote / reject / pending
    reason: str
    evidence: tuple[tuple[str, str, str], ...]  # (metric, candidate, champion)
    judged_against: int | None


def metric_text(metrics: Json) -> str:
    if metrics.get("mae") is not None:
        return f"MAE {fmt(metrics['mae'])} · R2 {fmt(metrics.get('r2'))}"
    return f"accuracy {fmt(metrics.get('accuracy'))} · F1 {fmt(metrics.get('f1_macro'))}"


def evidence_rows(decision: Json) -> tuple[tuple[str, str, str], ...]:
    candidate: Json = decision.get("candidate") or {}
    champion: Json = decision.get("champion") or {}
    names = ["accuracy", "f1_macro", "mae", "rmse", "r2", "rows"]
    shown = [n for n in names if candidate.get(n) is not None and not _unused(candidate, n)]
    rows = [(n, _num(candidate.get(n)), _num(champion.get(n))) for n in shown]
    extra: Json = candidate.get("extra") or {}
    rows += [(k, _num(v), _num((champion.get("extra") or {}).get(k))) for k, v in extra.items()]
    return tuple(rows)


def _unused(metrics: Json, name: str) -> bool:
    """Regression reports 0 for accuracy and F1: not worth a row."""
    return name in ("accuracy", "f1_macro") and metrics.get("mae") is not None


def _num(value: Any) -> str:
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else fmt(float(value), 4)


def version_rows(versions: Sequence[Json]) -> list[VersionRow]:
    """Newest first, each with the gate's decision and the evidence it was made on."""
    rows = []
    for v in sorted(versions, key=lambda v: -int(v["version"])):
        decision: Json = v.get("decision") or {}
        verdict = "pending" if not decision else ("promote" if decision["promote"] else "reject")
        rows.append(
            VersionRow(
                version=int(v["version"]),
                status=v["status"],
                trigger=v.get("trigger", "?"),
                created_at=str(v.get("created_at", ""))[:19].replace("T", " "),
                metrics=metric_text(v.get("metrics", {})),
                decision=verdict,
                reason=decision.get("reason", ""),
                evidence=evidence_rows(decision) if decision else (),
                judged_against=decision.get("champion_version"),
            )
        )
    return rows


@dataclass(frozen=True)
class RolloutView:
    stage: str | None  # canary | shadow | None
    version: int | None
    share: str
    since: str
    can_roll_back: bool  # a previous champion exists


def rollout_view(rollout: Json | None, promotions: Sequence[Json]) -> RolloutView:
    can_roll_back = bool(promotions) and promotions[-1].get("previous_version") is not None
    if not rollout:
        return RolloutView(None, None, "", "", can_roll_back)
    return RolloutView(
        stage=rollout["stage"],
        version=int(rollout["model_version"]),
        share=f"{float(rollout.get('share', 0)):.0%}",
        since=str(rollout.get("started_at", ""))[:19].replace("T", " "),
        can_roll_back=can_roll_back,
    )


@dataclass(frozen=True)
class TrialRow:
    trial_id: str
    version: str
    state: str
    pairs: str
    record: str  # wins / losses
    statistic: str
    boundary: str
    reason: str


def trial_rows(trials: Sequence[Json]) -> list[TrialRow]:
    """Live trials as the registry lists them (newest first): challenger against champion,
    status and what stopped it, the paired evidence and the SPRT's boundaries."""
    rows = []
    for t in trials:
        evidence: Json = t.get("evidence") or {}
        champion = t.get("champion_version")
        versus = f" vs v{champion}" if champion is not None else ""
        stopped = t.get("stopped_by")
        lower, upper = evidence.get("lower"), evidence.get("upper")
        rows.append(
            TrialRow(
                trial_id=str(t.get("trial_id", "")),
                version=f"v{t.get('model_version', '?')}{versus}",
                state=str(t.get("status", "running")) + (f" ({stopped})" if stopped else ""),
                pairs=str(evidence.get("pairs", "—")),
                record=f"{evidence.get('wins', '—')} / {evidence.get('losses', '—')}",
                statistic=_num(evidence.get("statistic")),
                boundary=f"{_num(lower)} / {_num(upper)}" if lower is not None else "—",
                reason=str(t.get("reason") or ""),
            )
        )
    return rows
