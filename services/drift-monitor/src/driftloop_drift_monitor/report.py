"""The HTML report of one drift event: the decision, every test, and for each feature the
reference against the current window as histograms (inline SVG, no external assets)."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from driftloop_contracts import (
    CategoricalProfile,
    DriftDetected,
    FeatureDrift,
    NumericProfile,
    ReferenceProfile,
)

from .evidence import present
from .windows import Finding

WIDTH, HEIGHT, BINS = 360, 120, 20
Values = Sequence[Any] | np.ndarray
CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem}
.drifted{background:#fde2e1}.legend span{display:inline-block;width:1em;height:1em;margin:0 .3em}
.feature{display:inline-block;margin:0 1.5rem 1.5rem 0;vertical-align:top}
"""


def _bars(ref: Sequence[float], cur: Sequence[float], labels: Sequence[str]) -> str:
    """Reference (grey) and current (red) shares side by side per bin."""
    n = max(len(ref), 1)
    top = max([*ref, *cur, 1e-9])
    slot = WIDTH / n
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = i * slot
        for offset, value, colour in ((0.1, r, "#9aa"), (0.5, c, "#d44")):
            h = value / top * (HEIGHT - 20)
            parts.append(
                f'<rect x="{x + slot * offset:.1f}" y="{HEIGHT - 20 - h:.1f}" '
                f'width="{slot * 0.4:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
    step = max(1, n // 6)
    for i in range(0, n, step):
        label = html.escape(labels[i])
        parts.append(f'<text x="{i * slot:.1f}" y="{HEIGHT - 5}" font-size="9">{label}</text>')
    return f'<svg width="{WIDTH}" height="{HEIGHT}">{"".join(parts)}</svg>'


def edges_of(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Increasing bin edges over the finite values, whatever they are: a constant column, one
    row, or extremes such as -1e308 and 1.7e308 (whose span overflows)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:  # constant: one bin around the value
        with np.errstate(over="ignore"):
            up = np.nextafter(hi, np.inf)
        return np.array([lo, up] if np.isfinite(up) else [np.nextafter(lo, -np.inf), hi])
    t = np.linspace(0.0, 1.0, bins + 1)
    inner = lo * (1 - t) + hi * t  # never hi - lo, which can overflow
    edges = np.unique(np.concatenate([inner, [lo, hi]]))
    return edges[(edges >= lo) & (edges <= hi)]


def _numeric(ref: NumericProfile, values: Values) -> str:
    reference = present(ref.sample)
    current = present(values)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    edges = edges_of(np.concatenate([reference, current]))
    r = np.histogram(reference, edges)[0] / max(reference.size, 1)
    c = np.histogram(current, edges)[0] / max(current.size, 1)
    return _bars(r.tolist(), c.tolist(), [f"{e:.3g}" for e in edges[:-1]])


def _categorical(shares: dict[str, float], values: Values) -> str:
    counts = Counter(str(v) for v in values if v is not None)
    total = max(sum(counts.values()), 1)
    categories = sorted(set(shares) | set(counts))[:BINS]
    return _bars(
        [shares.get(k, 0.0) for k in categories],
        [counts.get(k, 0) / total for k in categories],
        categories,
    )


def _row(e: FeatureDrift) -> str:
    cells = [
        e.feature,
        e.test,
        f"{e.statistic:.4g}",
        "-" if e.p_value is None else f"{e.p_value:.3g}",
        f"{e.threshold:.3g}",
        "-" if e.effect is None else f"{e.effect:.3g} ({e.effect_name})",
        "-" if e.min_effect is None else f"{e.min_effect:.3g}",
        "yes" if e.drifted else "no",
    ]
    tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
    return f'<tr class="{"drifted" if e.drifted else ""}">{tds}</tr>'


HEADERS = (
    "feature",
    "test",
    "statistic",
    "p-value",
    "threshold",
    "effect",
    "min effect",
    "drifted",
)
LEGEND = (
    '<p class="legend"><span style="background:#9aa"></span>reference '
    '<span style="background:#d44"></span>current window</p>'
)


def _heading(event: DriftDetected) -> str:
    drifted = [e.feature for e in event.evidence if e.drifted]
    return (
        f"<h1>{html.escape(event.kind)} drift on {html.escape(event.dataset)} "
        f"v{event.model_version}</h1>"
        f"<p>Window {event.window.start.isoformat()} &rarr; {event.window.end.isoformat()} "
        f"({event.window.rows} rows). Drifted: <b>{html.escape(', '.join(drifted) or '-')}</b>. "
        f"Event {event.event_id}.</p>"
    )


def _table(event: DriftDetected) -> str:
    header = "".join(f"<th>{h}</th>" for h in HEADERS)
    return f"<table><tr>{header}</tr>{''.join(_row(e) for e in event.evidence)}</table>"


def _chart(e: FeatureDrift, profile: ReferenceProfile, values: Values) -> str | None:
    ref = profile.features.get(e.feature)
    if isinstance(ref, NumericProfile):
        return _numeric(ref, values)
    if isinstance(ref, CategoricalProfile):
        return _categorical(ref.frequencies, values)
    if e.feature == "prediction":
        if profile.predicted_values is not None:  # regression: predicted numbers
            return _numeric(profile.predicted_values, values)
        return _categorical(profile.predictions, values)
    return None


def _charts(event: DriftDetected, finding: Finding, profile: ReferenceProfile | None) -> list[str]:
    """A histogram per feature tested; a note instead of a chart that cannot be drawn."""
    if profile is None or not finding.current:
        return []
    charts = []
    for e in event.evidence:
        try:
            chart = _chart(e, profile, finding.current.get(e.feature, []))
        except Exception as exc:  # a chart is never worth losing the report
            chart = f"<p>The chart could not be drawn: {html.escape(_reason(exc))}</p>"
        if chart is not None:
            charts.append(f'<div class="feature"><h3>{html.escape(e.feature)}</h3>{chart}</div>')
    return charts


def _page(event: DriftDetected, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>drift {event.event_id}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def render(event: DriftDetected, finding: Finding, profile: ReferenceProfile | None) -> str:
    """The report: the decision, a row per test, a histogram per feature."""
    charts = _charts(event, finding, profile)
    legend = LEGEND if charts else ""
    return _page(event, f"{_heading(event)}{_table(event)}{legend}{''.join(charts)}")


def minimal(event: DriftDetected, exc: Exception) -> str:
    """What is stored when the report cannot be rendered: the event's evidence as JSON."""
    evidence = html.escape(event.model_dump_json(include={"evidence"}, indent=1))
    return _page(
        event,
        f"<h1>{html.escape(event.kind)} drift, event {event.event_id}</h1>"
        f"<p>The charts could not be drawn ({html.escape(_reason(exc))}). The evidence:</p>"
        f"<pre>{evidence}</pre>",
    )


def report(event: DriftDetected, finding: Finding, profile: ReferenceProfile | None) -> str:
    """The report, or the minimal one: a drift event always has a page to link to."""
    try:
        return render(event, finding, profile)
    except Exception as exc:
        return minimal(event, exc)
