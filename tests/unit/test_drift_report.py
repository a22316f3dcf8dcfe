"""The HTML report of a drift event: the decision, a row per test, a histogram per feature."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import numpy as np
import pytest
from driftloop_contracts import (
    CategoricalProfile,
    DriftDetected,
    NumericProfile,
    ReferenceProfile,
    WindowRef,
)
from driftloop_drift_monitor.columns import columns_of
from driftloop_drift_monitor.detectors import (
    DriftConfig,
    Finding,
    PerformanceDetector,
    WindowDetector,
)
from driftloop_drift_monitor.report import edges_of, minimal, render

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"


class Page(HTMLParser):
    """The tags and the text of an HTML document, as a browser would read them."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.cells: list[str] = []
        self.text = ""
        self._in_cell = False
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self._in_cell = tag == "td"
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._in_cell:
            self.cells[-1] += data


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    """A numeric feature, and a categorical one whose name and a category are markup."""
    sample = np.random.default_rng(0).normal(50, 10, 1000)
    return ReferenceProfile(
        dataset="credit",
        rows=1000,
        features={
            "income": NumericProfile(
                sample=tuple(sample.tolist()),
                mean=float(sample.mean()),
                std=float(sample.std()),
                quantiles={},
                missing_rate=0.0,
            ),
            "<script>": CategoricalProfile(
                frequencies={HOSTILE: 0.5, "plain": 0.5}, rows=1000, missing_rate=0.0
            ),
        },
        predictions={"no": 0.7, "yes": 0.3},
        prediction_rows=1000,
        holdout_accuracy=0.85,
    )


def findings(profile: ReferenceProfile) -> dict[str, Finding]:
    """The first finding of each kind over a window where income fell, the hostile category
    took over and every prediction is "yes"."""
    watch = WindowDetector(profile, DriftConfig(window_size=200))
    incomes = np.random.default_rng(1).normal(30, 10, 200)
    columns = columns_of(
        {
            "income": incomes.tolist(),
            "<script>": [HOSTILE if i % 5 else "plain" for i in range(200)],
        },
        ["yes"] * 200,
        [ms(T0 + timedelta(seconds=i)) for i in range(200)],
        watch.kinds,
    )
    found: dict[str, Finding] = {}
    for finding in watch.observe(columns):
        found.setdefault(finding.kind, finding)
    return found


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def event_of(finding: Finding) -> DriftDetected:
    """The event the service publishes for a finding."""
    return DriftDetected(
        producer="test",
        dataset="credit",
        model_version=3,
        kind=finding.kind,
        window=WindowRef(start=finding.start, end=finding.end, rows=finding.rows),
        evidence=finding.evidence,
    )


def test_the_report_is_a_complete_html_document_with_the_decision(
    profile: ReferenceProfile,
) -> None:
    finding = findings(profile)["data"]
    event = event_of(finding)

    document = render(event, finding, profile)

    assert document.lower().startswith("<!doctype html>")
    assert document.rstrip().endswith("</html>")
    page = Page(document)
    assert page.tags["html"] == page.tags["head"] == page.tags["body"] == 1
    assert "data drift" in page.text
    assert "credit" in page.text
    assert "v3" in page.text
    assert str(event.event_id) in page.text
    assert f"{finding.rows} rows" in page.text
    assert "income" in page.text


def test_the_report_has_a_table_row_per_evidence_and_a_histogram_per_feature(
    profile: ReferenceProfile,
) -> None:
    finding = findings(profile)["data"]
    event = event_of(finding)

    page = Page(render(event, finding, profile))

    assert page.tags["tr"] == 1 + len(event.evidence)  # the header, then one per test
    assert page.tags["svg"] == len(profile.features)
    assert page.tags["rect"] > 0
    for evidence in event.evidence:
        assert evidence.feature in page.cells
        assert evidence.test in page.cells
    assert page.cells.count("yes") == sum(e.drifted for e in event.evidence)


def test_markup_in_feature_and_category_names_is_escaped(profile: ReferenceProfile) -> None:
    finding = findings(profile)["data"]

    document = render(event_of(finding), finding, profile)

    assert "<script>" not in document
    assert "&lt;script&gt;" in document
    page = Page(document)
    assert page.tags["script"] == 0
    assert "<script>" in page.cells  # shown as text, not run


def test_a_prediction_drift_report_charts_the_predicted_classes(
    profile: ReferenceProfile,
) -> None:
    finding = findings(profile)["prediction"]

    page = Page(render(event_of(finding), finding, profile))

    assert "prediction" in page.cells
    assert page.tags["svg"] == 1
    assert page.tags["tr"] == 2


def test_a_performance_report_has_the_table_and_no_histograms(profile: ReferenceProfile) -> None:
    watch = PerformanceDetector(0.85, window=100, min_labels=40, max_drop=0.1)
    (finding,) = [
        f
        for i, ok in enumerate([True] * 20 + [False] * 20)
        for f in watch.observe([ok], [ms(T0 + timedelta(seconds=i))])
    ]

    page = Page(render(event_of(finding), finding, profile))

    assert page.tags["svg"] == 0
    assert page.tags["tr"] == 2
    assert "accuracy" in page.cells
    assert "performance drift" in page.text


def test_without_a_profile_the_report_has_no_histograms(profile: ReferenceProfile) -> None:
    finding = findings(profile)["data"]

    page = Page(render(event_of(finding), finding, None))

    assert page.tags["svg"] == 0
    assert page.tags["tr"] == 1 + len(finding.evidence)


# ------------------------------------------------------------ values that broke charts

BIG = float(np.finfo(float).max)


@pytest.mark.parametrize(
    ("case", "incomes"),
    [
        ("extremes", [1e308, -1e308, 1.7e308, 40.0, 50.0]),
        ("the largest floats", [BIG, -BIG, BIG]),
        ("a constant column", [5e6] * 200),
        ("a constant huge column", [BIG] * 50),
        ("one row", [42.0]),
        ("nothing but missing values", [None, None]),
    ],
)
def test_a_numeric_chart_is_drawn_whatever_the_values(
    profile: ReferenceProfile, case: str, incomes: list[float | None]
) -> None:
    finding = findings(profile)["data"]
    odd = replace(finding, current={**finding.current, "income": incomes})

    document = render(event_of(odd), odd, profile)

    page = Page(document)
    assert page.tags["svg"] == len(profile.features), case
    assert "could not be drawn" not in page.text
    assert "nan" not in document.lower().replace("nanos", "")


def test_chart_edges_always_increase() -> None:
    for values in ([1e308, -1e308, 1.7e308], [BIG, -BIG], [3.0], [BIG], [-BIG], [np.nan]):
        edges = edges_of(np.asarray(values, dtype=float))
        assert len(edges) >= 2
        assert np.all(np.diff(edges) > 0), values
        assert np.all(np.isfinite(edges)), values


def test_a_chart_that_cannot_be_drawn_leaves_a_note_and_the_rest_of_the_report(
    profile: ReferenceProfile,
) -> None:
    finding = findings(profile)["data"]
    odd = replace(finding, current={**finding.current, "income": ["not a number"]})

    page = Page(render(event_of(odd), odd, profile))

    assert "The chart could not be drawn" in page.text
    assert page.tags["svg"] == len(profile.features) - 1
    assert page.tags["tr"] == 1 + len(finding.evidence)


def test_the_minimal_report_says_the_charts_could_not_be_drawn_and_keeps_the_evidence(
    profile: ReferenceProfile,
) -> None:
    event = event_of(findings(profile)["data"])

    page = Page(minimal(event, ValueError("bins must increase monotonically")))

    assert "could not be drawn" in page.text
    assert "bins must increase monotonically" in page.text
    assert str(event.event_id) in page.text
    assert '"feature": "income"' in page.text
    assert page.tags["script"] == 0
