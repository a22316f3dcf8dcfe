"""Column-wise validation and version bytes: the same answers as the row-by-row validator and
the same bytes as datasets.dumps, on batches mixing every kind of good and bad row."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from driftloop_contracts import DatasetSchema, FeatureSpec, RejectedRow, TargetSpec
from driftloop_contracts.datasets import LabelledRow, dumps, loads
from driftloop_contracts.rows import RowError, validate_features, validate_label
from driftloop_core import ContentStore
from driftloop_ingest.candidates import Candidate, Candidates, rejected_row
from driftloop_ingest.validation import ValidRows, validate
from driftloop_ingest.versions import encode_rows, store_version, write_version
from driftloop_sdk.scenario import SCHEMA, CreditScenario

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
Mutation = Callable[[dict[str, Any], Any], tuple[Any, Any]]


def row_by_row(
    schema: DatasetSchema, candidates: list[Candidate], now: datetime
) -> tuple[list[LabelledRow], list[RejectedRow]]:
    """The reference: every row through the row validator, as ingest always did."""
    good: list[LabelledRow] = []
    bad: list[RejectedRow] = []
    for i, c in enumerate(candidates):
        if c.error:
            bad.append(rejected_row(i, c.features, c.label, c.error))
            continue
        try:
            features = validate_features(schema, c.features)
            label = validate_label(schema, c.label)
        except RowError as exc:
            bad.append(rejected_row(i, c.features, c.label, str(exc)))
            continue
        good.append(LabelledRow(features, label, c.observed_at or now))
    return good, bad


def changed(key: str, value: Any) -> Mutation:
    return lambda f, y: ({**f, key: value}, y)


MUTATIONS: list[Mutation] = [
    changed("income", "52.5"),  # text that reads as a number: valid
    changed("income", " 7 "),
    changed("income", "lots"),
    changed("income", ""),
    changed("income", True),
    changed("income", math.nan),
    changed("income", math.inf),
    changed("income", 10**400),
    changed("income", 10**30),
    changed("income", 3),
    changed("age", 12),
    changed("age", "12"),
    changed("utilization", 1.5),
    changed("utilization", -0.0),
    changed("credit_lines", None),
    changed("region", 3),  # an integer category: valid, as text
    changed("region", 3.5),
    changed("region", ""),
    changed("region", None),
    changed("region", False),
    changed("channel", ["web"]),
    lambda f, y: ({k: v for k, v in f.items() if k != "age"}, y),
    lambda f, y: ({**f, "colour": "red"}, y),
    lambda f, y: ({k: v for k, v in f.items() if k != "age"} | {"colour": "red"}, y),
    lambda f, y: ("not an object", y),
    lambda f, y: ([1, 2, 3], y),
    lambda f, y: (f, "maybe"),
    lambda f, y: (f, None),
    lambda f, y: (f, ""),
    lambda f, y: (f, True),
    lambda f, y: (f, 1),
    lambda f, y: (f, ["no"]),
    lambda f, y: (f, {"label": "no"}),
]


def mixed_batch(seed: int, n: int = 300, bad_share: float = 0.3) -> list[Candidate]:
    rng = random.Random(seed)
    drawn = CreditScenario(seed).draw(n, "before")
    out = []
    for features, label in zip(drawn.features, drawn.labels, strict=True):
        observed = None if rng.random() < 0.2 else T0 + timedelta(minutes=rng.randrange(50))
        if rng.random() < bad_share:
            features, label = rng.choice(MUTATIONS)(features, label)
        error = "not a record: observed_at: bad" if rng.random() < 0.02 else None
        out.append(Candidate(features, label, observed, error))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_columns_validate_exactly_as_the_row_validator_does(seed: int) -> None:
    candidates = mixed_batch(seed, bad_share=0.05 * (seed % 6))

    valid, rejected = validate(SCHEMA, Candidates.of(candidates), NOW)

    expected_good, expected_bad = row_by_row(SCHEMA, candidates, NOW)
    assert valid.rows() == expected_good
    assert rejected == expected_bad


@pytest.mark.parametrize("mutation", range(len(MUTATIONS)))
def test_one_odd_row_among_good_ones_is_judged_as_the_row_validator_judges_it(
    mutation: int,
) -> None:
    drawn = CreditScenario(1).draw(20, "before")
    candidates = [Candidate(f, y, T0) for f, y in zip(drawn.features, drawn.labels, strict=True)]
    features, label = MUTATIONS[mutation](candidates[7].features, candidates[7].label)
    candidates[7] = Candidate(features, label, T0)

    valid, rejected = validate(SCHEMA, Candidates.of(candidates), NOW)

    assert (valid.rows(), rejected) == row_by_row(SCHEMA, candidates, NOW)


def test_a_batch_of_only_bad_rows_gives_no_valid_row() -> None:
    candidates = [Candidate({"income": "lots"}, "no"), Candidate("x", "maybe")]

    valid, rejected = validate(SCHEMA, Candidates.of(candidates), NOW)

    assert len(valid) == 0
    assert [r.index for r in rejected] == [0, 1]


def test_an_empty_batch_is_valid_and_empty() -> None:
    valid, rejected = validate(SCHEMA, Candidates([], [], []), NOW)

    assert (len(valid), rejected) == (0, [])


NULLABLE = DatasetSchema(
    name="tiny",
    features=(
        FeatureSpec(name="x", kind="numeric", nullable=True, maximum=10),
        FeatureSpec(name="c", kind="categorical", nullable=True),
    ),
    target=TargetSpec(name="y", classes=("0", "1")),
)
ONE_FEATURE = DatasetSchema(
    name="one",
    features=(FeatureSpec(name="x", kind="numeric"),),
    target=TargetSpec(name="y", classes=("a", "b")),
)


@pytest.mark.parametrize(
    "features",
    [
        {"x": 1.5, "c": "u"},
        {"x": None, "c": None},
        {"x": "", "c": ""},
        {"c": "u"},
        {},
        {"x": 11, "c": "u"},
        {"x": "3", "c": 4},
    ],
)
def test_nullable_features_may_be_missing_or_empty(features: dict[str, Any]) -> None:
    candidates = [Candidate(features, "1"), Candidate({"x": 2.0, "c": "v"}, 0)]

    valid, rejected = validate(NULLABLE, Candidates.of(candidates), NOW)

    assert (valid.rows(), rejected) == row_by_row(NULLABLE, candidates, NOW)


@pytest.mark.parametrize("features", [{"x": 1}, {"x": "1"}, {"y": 1}, {}, {"x": 1, "z": 2}])
def test_a_schema_of_one_feature_validates_like_the_row_validator(
    features: dict[str, Any],
) -> None:
    candidates = [Candidate(features, "a"), Candidate({"x": 2.5}, "b")]

    valid, rejected = validate(ONE_FEATURE, Candidates.of(candidates), NOW)

    assert (valid.rows(), rejected) == row_by_row(ONE_FEATURE, candidates, NOW)


# ---------------------------------------------------------------------- version bytes


def canonical(rows: list[LabelledRow]) -> bytes:
    """What a version held before: rows oldest first (stable), written by the format's owner."""
    return dumps(sorted(rows, key=lambda r: r.observed_at))


@pytest.mark.parametrize("seed", range(6))
def test_version_bytes_are_what_datasets_dumps_writes(seed: int) -> None:
    valid, _ = validate(SCHEMA, Candidates.of(mixed_batch(seed)), NOW)

    assert encode_rows(valid) == canonical(valid.rows())


def test_times_in_any_timezone_are_written_in_utc_and_ordered_by_instant() -> None:
    plus_two = timezone(timedelta(hours=2))
    times = [
        datetime(2024, 1, 1, 14, 0, tzinfo=plus_two),  # 12:00Z
        datetime(2024, 1, 1, 11, 0, 0, 5, tzinfo=UTC),
        datetime(2024, 1, 1, 12, 0, tzinfo=UTC),  # the same instant as the first
        datetime(2023, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-3))),
    ]
    rows = [LabelledRow(a_row(age=20.0 + i), "no", t) for i, t in enumerate(times)]

    data = encode_rows(ValidRows.of_rows(SCHEMA, rows))

    assert data == canonical(rows)
    assert [r.observed_at for r in loads(data)] == sorted(times)


@pytest.mark.parametrize(
    "zone",
    [timezone(timedelta(hours=2)), ZoneInfo("Europe/Paris")],
    ids=["one-fixed-offset", "a-region-across-a-dst-change"],
)
def test_times_in_one_zone_are_ordered_by_instant(zone: tzinfo) -> None:
    # Europe/Paris: 02:30 on 2024-10-27 happens twice; fold=1 is the later one, after 02:59.
    walls = [(3, 0, 0), (2, 30, 1), (2, 59, 0), (2, 30, 0), (1, 0, 0)]
    times = [datetime(2024, 10, 27, h, m, fold=f, tzinfo=zone) for h, m, f in walls]
    rows = [LabelledRow(a_row(age=20.0 + i), "no", t) for i, t in enumerate(times)]

    data = encode_rows(ValidRows.of_rows(SCHEMA, rows))

    assert data == canonical(rows)


def test_odd_feature_names_and_values_are_written_as_dumps_writes_them() -> None:
    schema = DatasetSchema(
        name="odd",
        features=(
            FeatureSpec(name="zeta", kind="numeric", nullable=True),
            FeatureSpec(name="Ärger", kind="categorical"),
            FeatureSpec(name="100%", kind="numeric"),
            FeatureSpec(name='quote"d', kind="categorical", nullable=True),
            FeatureSpec(name="a,b", kind="numeric"),
        ),
        target=TargetSpec(name="y", classes=("yes, really", 'no "way"')),
    )
    rows = [
        LabelledRow(
            {"zeta": None, "Ärger": "ü, ß", "100%": -0.0, 'quote"d': None, "a,b": 1e300},
            "yes, really",
            T0,
        ),
        LabelledRow(
            {"zeta": 0.1, "Ärger": '"', "100%": 5e-324, 'quote"d': "%s", "a,b": 12345.6789},
            'no "way"',
            T0 - timedelta(days=1),
        ),
    ]

    assert encode_rows(ValidRows.of_rows(schema, rows)) == canonical(rows)


def test_a_stored_version_is_named_by_its_content_and_spans_its_rows(tmp_path: Path) -> None:
    rows = [LabelledRow(a_row(), "no", T0 + timedelta(hours=h)) for h in (3, 1, 2)]
    store = ContentStore(str(tmp_path))

    version = store_version(store, ValidRows.of_rows(SCHEMA, rows))

    assert version.version == version.blob.sha256[:16]
    assert (version.observed_from, version.observed_to) == (
        T0 + timedelta(hours=1),
        rows[0].observed_at,
    )
    assert store.get(version.blob) == canonical(rows)
    assert write_version(store, SCHEMA, rows) == version


def a_row(**changes: Any) -> dict[str, Any]:
    return {
        "income": 52.5,
        "debt_ratio": 0.4,
        "age": 41.0,
        "utilization": 0.3,
        "credit_lines": 4.0,
        "region": "north",
        "channel": "web",
    } | changes
