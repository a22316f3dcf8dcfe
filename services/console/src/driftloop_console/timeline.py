"""The drift page's data: per-feature p-values and effects over the monitor's tested windows,
live accuracy over time with promotions and drift events marked, and each drift event with
its report. Pure: from the monitor's history, the registry's promotions and the drift events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from driftloop_contracts import DriftDetected

Json = Mapping[str, Any]
#: p-values are drawn on a log scale; a p-value of 0 is drawn here.
FLOOR = 1e-12


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[tuple[datetime, float], ...]


@dataclass(frozen=True)
class Marker:
    at: datetime
    label: str


@dataclass(frozen=True)
class DriftEventRow:
    kind: str
    version: int
    at: str
    drifted: str
    strongest: str  # the drifted feature with the largest effect, and its p-value
    report: str
    event_id: str


@dataclass(frozen=True)
class Timeline:
    dataset: str
    windows: int
    p_values: tuple[Series, ...]
    effects: tuple[Series, ...]
    threshold: float | None  # per-feature p-value threshold of the newest window
    accuracy: tuple[Series, ...]
    promotions: tuple[Marker, ...]
    drifts: tuple[Marker, ...]
    events: tuple[DriftEventRow, ...]


def when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def feature_series(windows: Sequence[Json], field: str) -> tuple[Series, ...]:
    """One series per feature (and the predictions), in the order they were first tested."""
    by_feature: dict[str, list[tuple[datetime, float]]] = {}
    for window in windows:
        end = when(window["end"])
        for test in [*window.get("data", []), *window.get("prediction", [])]:
            value = test.get(field)
            if value is None:
                continue
            value = max(float(value), FLOOR) if field == "p_value" else float(value)
            by_feature.setdefault(test["feature"], []).append((end, value))
    return tuple(Series(name, tuple(points)) for name, points in by_feature.items())


def drift_rows(drifts: Sequence[DriftDetected], report_base: str) -> tuple[DriftEventRow, ...]:
    rows = []
    for d in sorted(drifts, key=lambda d: d.occurred_at, reverse=True):
        drifted = [e for e in d.evidence if e.drifted]
        top = max(drifted, key=lambda e: e.effect or 0, default=None)
        strongest = "—"
        if top is not None:
            p = "—" if top.p_value is None else f"{top.p_value:.1e}"
            strongest = f"{top.feature}: effect {top.effect or 0:.3f}, p {p}"
        rows.append(
            DriftEventRow(
                kind=d.kind,
                version=d.model_version,
                at=d.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
                drifted=", ".join(e.feature for e in drifted) or "—",
                strongest=strongest,
                report=f"{report_base}/v1/reports/{d.event_id}",
                event_id=str(d.event_id),
            )
        )
    return tuple(rows)


def timeline(
    dataset: str,
    history: Json | None,
    promotions: Sequence[Json],
    drifts: Sequence[DriftDetected],
    report_base: str,
) -> Timeline:
    versions: Sequence[Json] = (history or {}).get("versions", [])
    windows = sorted(
        (w for v in versions for w in v.get("windows", [])), key=lambda w: when(w["end"])
    )
    newest = [*windows[-1].get("data", [])] if windows else []
    mine = [d for d in drifts if d.dataset == dataset]
    return Timeline(
        dataset=dataset,
        windows=len(windows),
        p_values=feature_series(windows, "p_value"),
        effects=feature_series(windows, "effect"),
        threshold=float(newest[0]["threshold"]) if newest else None,
        accuracy=tuple(
            Series(
                f"v{v['model_version']}",
                tuple((when(a["at"]), float(a["accuracy"])) for a in v.get("accuracy", [])),
            )
            for v in versions
            if v.get("accuracy")
        ),
        promotions=tuple(
            Marker(when(p["at"]), f"v{p['version']} promoted ({p.get('reason')})")
            for p in promotions
        ),
        drifts=tuple(Marker(d.occurred_at, f"{d.kind} drift on v{d.model_version}") for d in mine),
        events=drift_rows(mine, report_base),
    )
