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

from .detectors import Finding

WIDTH, HEIGHT, BINS = 360, 120, 20
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


def _numeric(ref: NumericProfile, values: Sequence[Any]) -> str:
    reference = np.asarray(ref.sample, dtype=float)
    current = np.asarray([v for v in values if v is not None], dtype=float)
    both = np.concatenate([reference, current]) if current.size else reference
    edges = np.linspace(both.min(), both.max() + 1e-12, BINS + 1)
    r = np.histogram(reference, edges)[0] / max(reference.size, 1)
    c = np.histogram(current, edges)[0] / max(current.size, 1)
    return _bars(r.tolist(), c.tolist(), [f"{e:.3g}" for e in edges[:-1]])


def _categorical(shares: dict[str, float], values: Sequence[Any]) -> str:
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


def render(event: DriftDetected, finding: Finding, profile: ReferenceProfile | None) -> str:
    drifted = [e.feature for e in event.evidence if e.drifted]
    head = (
        f"<h1>{html.escape(event.kind)} drift on {html.escape(event.dataset)} "
        f"v{event.model_version}</h1>"
        f"<p>Window {event.window.start.isoformat()} &rarr; {event.window.end.isoformat()} "
        f"({event.window.rows} rows). Drifted: <b>{html.escape(', '.join(drifted) or '-')}</b>. "
        f"Event {event.event_id}.</p>"
    )
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "feature",
            "test",
            "statistic",
            "p-value",
            "threshold",
            "effect",
            "min effect",
            "drifted",
        )
    )
    table = f"<table><tr>{header}</tr>{''.join(_row(e) for e in event.evidence)}</table>"
    charts = []
    if profile is not None and finding.current:
        for e in event.evidence:
            ref = profile.features.get(e.feature)
            values = finding.current.get(e.feature, [])
            if isinstance(ref, NumericProfile):
                chart = _numeric(ref, values)
            elif isinstance(ref, CategoricalProfile):
                chart = _categorical(ref.frequencies, values)
            elif e.feature == "prediction":
                chart = _categorical(profile.predictions, values)
            else:
                continue
            charts.append(f'<div class="feature"><h3>{html.escape(e.feature)}</h3>{chart}</div>')
    legend = (
        '<p class="legend"><span style="background:#9aa"></span>reference '
        '<span style="background:#d44"></span>current window</p>'
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>drift {event.event_id}</title>"
        f"<style>{CSS}</style></head><body>{head}{table}{legend if charts else ''}"
        f"{''.join(charts)}</body></html>"
    )
