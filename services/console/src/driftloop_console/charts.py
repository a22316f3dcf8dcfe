"""The drift page's charts, rendered on the server as SVG by pygal (no script: pygal's
tooltips are left out, so the page needs no JavaScript and the CSP stays strict)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pygal
from markupsafe import Markup
from pygal.style import Style

from .timeline import Marker, Series, Timeline

STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#334155",
    foreground_strong="#0f172a",
    foreground_subtle="#cbd5e1",
    colors=(
        "#2563eb",
        "#db2777",
        "#059669",
        "#d97706",
        "#7c3aed",
        "#0891b2",
        "#dc2626",
        "#65a30d",
        "#475569",
    ),
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=16,
)
MARK = "stroke-dasharray: 6, 4; stroke-width: 2"


def _clock(series: Sequence[Series]) -> Callable[[datetime], str]:
    """Time labels: seconds, or milliseconds when everything happened within a minute."""
    span = _span(series)
    if span is not None and (span[1] - span[0]).total_seconds() < 60:
        return lambda d: d.strftime("%H:%M:%S.%f")[:-3]
    return lambda d: d.strftime("%H:%M:%S")


def _chart(title: str, series: Sequence[Series], **options: object) -> pygal.DateTimeLine:
    return pygal.DateTimeLine(
        title=title,
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        width=900,
        height=380,
        show_dots=True,
        dots_size=2.5,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        truncate_legend=-1,
        x_label_rotation=20,
        x_value_formatter=_clock(series),
        **options,
    )


#: pygal writes its configuration as an inline script even without its JavaScript: dropped
#: (the console's CSP would block it, and it names local file paths).
SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _render(chart: pygal.DateTimeLine) -> Markup:
    svg = SCRIPT.sub("", chart.render(is_unicode=True))
    return Markup(svg)  # pygal escapes every label it writes


def _vertical(chart: pygal.DateTimeLine, marks: Sequence[Marker], low: float, high: float) -> None:
    for mark in marks:
        chart.add(
            mark.label,
            [(mark.at, low), (mark.at, high)],
            stroke_style={"dasharray": "6,4", "width": 2},
            show_dots=False,
        )


def _span(series: Sequence[Series]) -> tuple[datetime, datetime] | None:
    times = [t for s in series for t, _ in s.points]
    return (min(times), max(times)) if times else None


def _horizontal(chart: pygal.DateTimeLine, label: str, y: float, series: Sequence[Series]) -> None:
    span = _span(series)
    if span is not None:
        start, end = span
        if start == end:
            end = start + timedelta(seconds=1)
        chart.add(
            label,
            [(start, y), (end, y)],
            stroke_style={"dasharray": "2,4", "width": 2},
            show_dots=False,
        )


def p_value_chart(t: Timeline) -> Markup:
    chart = _chart(
        "p-value per feature, each tested window (log scale; lower = more drift)",
        t.p_values,
        logarithmic=True,
        y_title="p-value",
        y_labels=[1.0, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12],
    )
    for s in t.p_values:
        chart.add(s.name, list(s.points))
    if t.threshold is not None:
        _horizontal(chart, "threshold per feature", t.threshold, t.p_values)
    _vertical(chart, t.drifts, 1e-12, 1.0)
    return _render(chart)


def effect_chart(t: Timeline) -> Markup:
    chart = _chart(
        "effect size per feature, each tested window (higher = more drift)",
        t.effects,
        y_title="effect",
    )
    for s in t.effects:
        chart.add(s.name, list(s.points))
    top = max((v for s in t.effects for _, v in s.points), default=1.0)
    _vertical(chart, t.drifts, 0.0, top)
    return _render(chart)


def accuracy_chart(t: Timeline) -> Markup:
    chart = _chart(
        "live accuracy over time (dashed: promotions and drift events)",
        t.accuracy,
        y_title="accuracy",
        range=(0, 1),
    )
    for s in t.accuracy:
        chart.add(f"accuracy {s.name}", list(s.points))
    span = _span(t.accuracy)
    inside = [
        m
        for m in (*t.promotions, *t.drifts)
        if span is None
        or span[0] - timedelta(minutes=10) <= m.at <= span[1] + timedelta(minutes=10)
    ]
    _vertical(chart, inside, 0.0, 1.0)
    return _render(chart)


__all__ = ["MARK", "accuracy_chart", "effect_chart", "p_value_chart"]
