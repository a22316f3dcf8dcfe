"""Pure ingest: validate rows, write content-addressed versions, read CSV uploads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from driftloop_contracts import DatasetSchema, Record
from driftloop_contracts.datasets import LabelledRow, loads
from driftloop_contracts.events import RejectedRow
from driftloop_core import ContentStore, InvalidInput, NotFound
from driftloop_ingest import validation
from driftloop_ingest.candidates import (
    MAX_REJECTED_ROW_CHARS,
    Candidate,
    Candidates,
    candidate_from_json,
    candidate_from_record,
)
from driftloop_ingest.csvrows import candidates_from_csv
from driftloop_ingest.service import Schemas, ingest, write_version
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.scenario import CreditScenario

SCHEMA: DatasetSchema = CreditScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
HEADER = "income,debt_ratio,age,utilization,credit_lines,region,channel,default"


def good_candidates(n: int, seed: int = 5) -> list[Candidate]:
    drawn = CreditScenario(seed).draw(n, "before")
    return [
        Candidate(features, label, T0 + timedelta(minutes=i))
        for i, (features, label) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def a_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "income": 52.5,
        "debt_ratio": 0.4,
        "age": 41.0,
        "utilization": 0.3,
        "credit_lines": 4.0,
        "region": "north",
        "channel": "web",
    }
    for key, value in changes.items():
        if value is ...:
            del row[key]
        else:
            row[key] = value
    return row


def validate(
    schema: DatasetSchema, candidates: list[Candidate], now: datetime | None = None
) -> tuple[list[LabelledRow], list[RejectedRow]]:
    """The valid rows, one by one, and the rejected ones."""
    valid, rejected = validation.validate(schema, Candidates.of(candidates), now)
    return valid.rows(), rejected


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path))


# ------------------------------------------------------------------------------ Schemas


def test_schemas_return_a_known_dataset_by_name() -> None:
    assert Schemas([SCHEMA]).get("demo") is SCHEMA
    assert Schemas([SCHEMA]).all() == [SCHEMA]


def test_an_unknown_dataset_is_not_found_and_the_error_lists_the_known_ones() -> None:
    other = SCHEMA.model_copy(update={"name": "loans"})
    schemas = Schemas([SCHEMA, other])

    with pytest.raises(
        NotFound, match=r"unknown dataset 'nope'; known datasets: \['demo', 'loans'\]"
    ):
        schemas.get("nope")


def test_without_any_schema_the_error_says_how_to_add_one() -> None:
    with pytest.raises(NotFound, match="INGEST_SCHEMA_DIR"):
        Schemas([]).get("demo")


# ----------------------------------------------------------------------------- validate


def test_valid_rows_are_coerced_to_the_schema_types() -> None:
    candidate = Candidate(a_row(income="52.5", credit_lines=4), "yes", T0)

    good, bad = validate(SCHEMA, [candidate], now=NOW)

    assert bad == []
    (row,) = good
    assert row == LabelledRow(a_row(credit_lines=4.0), "yes", T0)
    assert isinstance(row.features["income"], float)


def test_a_row_without_observed_at_is_stamped_with_the_ingest_time() -> None:
    good, _ = validate(SCHEMA, [Candidate(a_row(), "no")], now=NOW)

    assert good[0].observed_at == NOW


@pytest.mark.parametrize(
    ("features", "label", "reason"),
    [
        (a_row(income=...), "no", "missing feature 'income'"),
        (a_row(income=""), "no", "missing feature 'income'"),
        (a_row(income="lots"), "no", "feature 'income' must be a number, got 'lots'"),
        (a_row(income=True), "no", "feature 'income' must be a number, got bool True"),
        (a_row(income=float("nan")), "no", "feature 'income' must be finite"),
        (a_row(age=12), "no", "feature 'age' is 12.0, below the minimum 18.0"),
        (a_row(utilization=1.5), "no", "feature 'utilization' is 1.5, above the maximum 1.0"),
        (a_row(region=3.5), "no", "feature 'region' is categorical: send a string, got float"),
        (a_row(colour="red"), "no", "unknown feature(s) ['colour']"),
        ("not an object", "no", "features must be an object, got str"),
        (a_row(), None, "missing label 'default'"),
        (a_row(), "maybe", "label 'maybe' is not one of ['no', 'yes']"),
        (a_row(), True, "label True is not one of ['no', 'yes']"),
    ],
    ids=[
        "absent",
        "empty",
        "not-a-number",
        "bool-as-number",
        "nan",
        "below-minimum",
        "above-maximum",
        "categorical-float",
        "unknown-feature",
        "features-not-object",
        "no-label",
        "unknown-label",
        "bool-label",
    ],
)
def test_each_rejected_row_carries_its_index_and_a_reason(
    features: Any, label: Any, reason: str
) -> None:
    candidates = [*good_candidates(2), Candidate(features, label, T0)]

    good, bad = validate(SCHEMA, candidates, now=NOW)

    assert len(good) == 2
    (rejected,) = bad
    assert rejected.index == 2
    assert reason in rejected.reason
    assert rejected.row == {"features": features, "label": label}


def test_an_integer_category_is_accepted_as_its_text() -> None:
    good, bad = validate(SCHEMA, [Candidate(a_row(region=7), "no", T0)], now=NOW)

    assert bad == []
    assert good[0].features["region"] == "7"


def test_a_huge_rejected_row_is_truncated() -> None:
    huge = a_row(colour="x" * 5000)

    _, (rejected,) = validate(SCHEMA, [Candidate(huge, "no", T0)], now=NOW)

    assert set(rejected.row) == {"truncated"}
    assert len(rejected.row["truncated"]) == MAX_REJECTED_ROW_CHARS


# -------------------------------------------------------------------- candidate_from_json


def test_a_json_record_becomes_a_candidate_with_its_observed_at() -> None:
    candidate = candidate_from_json(
        {"features": a_row(), "label": "no", "observed_at": "2024-01-01T00:00:00Z"}
    )

    assert candidate == Candidate(a_row(), "no", T0)


def test_a_record_becomes_a_candidate() -> None:
    record = Record(features=a_row(), label="yes", observed_at=T0)

    assert candidate_from_record(record) == Candidate(a_row(), "yes", T0)


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ("just a string", "body"),
        ({"label": "no"}, "features"),
        ({"features": a_row(), "label": "no", "observed_at": "yesterday"}, "observed_at"),
    ],
    ids=["string", "no-features", "bad-timestamp"],
)
def test_a_json_row_that_is_not_a_record_becomes_a_candidate_with_an_error(
    row: Any, where: str
) -> None:
    candidate = candidate_from_json(row)

    assert candidate.error is not None
    assert candidate.error.startswith(f"not a record: {where}")
    assert candidate.features == row


# -------------------------------------------------------------------------------- ingest


def test_a_row_that_is_not_a_record_is_rejected_not_the_whole_batch(store: ContentStore) -> None:
    good = good_candidates(3)
    candidates = [good[0], candidate_from_json(["not", "a", "record"]), *good[1:]]

    result = ingest(store, SCHEMA, candidates)

    assert result.accepted == 3
    assert result.version is not None
    (rejected,) = result.rejected
    assert rejected.index == 1
    assert rejected.reason.startswith("not a record")


def test_ingest_writes_the_valid_rows_as_one_version_oldest_first(store: ContentStore) -> None:
    candidates = list(reversed(good_candidates(5)))

    result = ingest(store, SCHEMA, candidates)

    version = result.version
    assert version is not None
    assert version.dataset == "demo"
    assert version.rows == 5
    assert version.schema == SCHEMA
    assert version.observed_from == T0
    assert version.observed_to == T0 + timedelta(minutes=4)
    rows = loads(store.get(version.blob))
    assert [r.observed_at for r in rows] == sorted(r.observed_at for r in rows)
    assert rows[0].features == candidates[-1].features


def test_the_same_rows_give_the_same_version_id(store: ContentStore, tmp_path: Path) -> None:
    candidates = good_candidates(10)

    first = ingest(store, SCHEMA, candidates).version
    again = ingest(store, SCHEMA, list(reversed(candidates))).version
    elsewhere = ingest(ContentStore(str(tmp_path / "other")), SCHEMA, candidates).version

    assert first is not None
    assert again is not None
    assert elsewhere is not None
    assert first.version == again.version == elsewhere.version
    assert first.version == first.blob.sha256[:16]
    assert first.blob == again.blob
    assert len(list((tmp_path / "datasets" / "demo").rglob("*.jsonl"))) == 1


def test_different_rows_give_a_different_version_id(store: ContentStore) -> None:
    first = ingest(store, SCHEMA, good_candidates(10, seed=1)).version
    second = ingest(store, SCHEMA, good_candidates(10, seed=2)).version

    assert first is not None
    assert second is not None
    assert first.version != second.version


def test_a_batch_without_a_valid_row_writes_no_version(store: ContentStore, tmp_path: Path) -> None:
    result = ingest(store, SCHEMA, [Candidate(a_row(), "maybe", T0)])

    assert result.version is None
    assert result.accepted == 0
    assert len(result.rejected) == 1
    assert not (tmp_path / "datasets").exists()


def test_write_version_names_the_version_after_its_content(store: ContentStore) -> None:
    rows = [LabelledRow(a_row(), "no", T0), LabelledRow(a_row(age=30.0), "yes", T0)]

    version = write_version(store, SCHEMA, rows)

    assert version.blob.key.startswith("datasets/demo/")
    assert version.blob.key.endswith(".jsonl")
    assert version.version == version.blob.sha256[:16]
    assert loads(store.get(version.blob)) == rows


def test_a_json_observed_at_without_timezone_rejects_that_row_only(store: ContentStore) -> None:
    naive = {"features": a_row(), "label": "no", "observed_at": "2024-01-01T00:00:00"}
    aware = {"features": a_row(), "label": "yes", "observed_at": "2024-01-01T00:01:00Z"}

    result = ingest(store, SCHEMA, [candidate_from_json(naive), candidate_from_json(aware)])

    assert result.accepted == 1
    assert result.rejected[0].reason.startswith("not a record: observed_at")
    assert [r.index for r in result.rejected] == [0]


# ------------------------------------------------------------------------------------ CSV


def test_csv_rows_become_candidates_with_their_observed_at() -> None:
    text = (
        f"{HEADER},observed_at\n"
        "52.5,0.4,41,0.3,4,north,web,no,2024-01-01T00:00:00Z\n"
        "30,1.2,25,0.9,2,west,partner,yes,2024-01-01T01:00:00+00:00\n"
    )

    first, second = candidates_from_csv(SCHEMA, text)

    assert first.error is None
    assert first.observed_at == T0
    assert first.label == "no"
    assert first.features["income"] == "52.5"
    assert second.observed_at == T0 + timedelta(hours=1)
    good, bad = validate(SCHEMA, [first, second], now=NOW)
    assert bad == []
    assert good[0].features["income"] == 52.5


def test_csv_without_an_observed_at_column_leaves_it_to_ingest_time() -> None:
    (candidate,) = candidates_from_csv(SCHEMA, f"{HEADER}\n52.5,0.4,41,0.3,4,north,web,no\n")

    assert candidate.observed_at is None
    assert candidate.error is None


def test_csv_columns_may_come_in_any_order() -> None:
    text = "default,channel,region,credit_lines,utilization,age,debt_ratio,income\n"
    text += "no,web,north,4,0.3,41,0.4,52.5\n"

    (candidate,) = candidates_from_csv(SCHEMA, text)

    assert candidate.features["income"] == "52.5"
    assert candidate.label == "no"


def test_csv_missing_columns_are_invalid_input_naming_them() -> None:
    text = "income,age,region,channel,default\n52.5,41,north,web,no\n"

    with pytest.raises(InvalidInput) as caught:
        candidates_from_csv(SCHEMA, text)

    assert "['debt_ratio', 'utilization', 'credit_lines']" in caught.value.message
    assert isinstance(caught.value.details, dict)
    assert caught.value.details["header"] == ["income", "age", "region", "channel", "default"]


def test_an_empty_csv_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="CSV header lacks column"):
        candidates_from_csv(SCHEMA, "")


def test_csv_unknown_columns_are_invalid_input_naming_them() -> None:
    text = f"{HEADER},colour\n52.5,0.4,41,0.3,4,north,web,no,red\n"

    with pytest.raises(InvalidInput, match=r"unknown column\(s\) \['colour'\]"):
        candidates_from_csv(SCHEMA, text)


@pytest.mark.parametrize(
    ("observed_at", "error"),
    [
        ("2024-01-01T00:00:00", "observed_at '2024-01-01T00:00:00' has no timezone"),
        ("last tuesday", "observed_at 'last tuesday' is not an ISO 8601 timestamp"),
    ],
    ids=["no-timezone", "not-iso"],
)
def test_a_bad_csv_observed_at_rejects_that_row_only(observed_at: str, error: str) -> None:
    text = (
        f"{HEADER},observed_at\n"
        f"52.5,0.4,41,0.3,4,north,web,no,{observed_at}\n"
        "30,1.2,25,0.9,2,west,partner,yes,2024-01-01T00:00:00Z\n"
    )

    candidates = candidates_from_csv(SCHEMA, text)
    good, bad = validate(SCHEMA, candidates, now=NOW)

    assert candidates[0].error is not None
    assert candidates[0].error.startswith(error)
    assert len(good) == 1
    (rejected,) = bad
    assert rejected.index == 0
    assert rejected.reason.startswith(error)


def test_a_short_csv_row_is_rejected_for_its_missing_values() -> None:
    candidates = candidates_from_csv(SCHEMA, f"{HEADER}\n52.5,0.4\n")

    good, bad = validate(SCHEMA, candidates, now=NOW)

    assert good == []
    assert bad[0].reason == "missing feature 'age'"


def test_a_csv_row_with_more_values_than_the_header_is_rejected() -> None:
    candidates = candidates_from_csv(SCHEMA, f"{HEADER}\n52.5,0.4,41,0.3,4,north,web,no,EXTRA\n")

    good, bad = validate(SCHEMA, candidates, now=NOW)

    assert good == []
    assert len(bad) == 1


# ------------------------------------------------------------------------------- settings


def test_a_label_wait_longer_than_retention_is_warned_about() -> None:
    assert IngestSettings().retention_warning() is None  # 1 day within 7
    warning = IngestSettings(label_wait_s=8 * 86400, retention_s=7 * 86400).retention_warning()

    assert warning is not None
    assert warning.startswith("INGEST_LABEL_WAIT_S (691200 s) exceeds DRIFTLOOP_RETENTION_S")
