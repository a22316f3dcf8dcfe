"""Pure ingest logic: validate rows, write a dataset version, describe what happened.

No broker, no HTTP: the stream handlers and the HTTP routes both call this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from driftloop_contracts import DatasetSchema, Record, RejectedRow, utcnow
from driftloop_contracts.codec import describe_validation_error
from driftloop_contracts.datasets import LabelledRow, dumps
from driftloop_contracts.rows import RowError, validate_features, validate_label
from driftloop_core import ContentStore, NotFound
from pydantic import ValidationError

MAX_REJECTED_ROW_CHARS = 2000


@dataclass(frozen=True)
class Candidate:
    """A row as submitted, before validation."""

    features: Any
    label: Any
    observed_at: datetime | None = None
    error: str | None = None  # the row could not even be read as a record


@dataclass(frozen=True)
class DatasetVersion:
    dataset: str
    version: str
    blob: Any  # BlobRef
    rows: int
    observed_from: datetime
    observed_to: datetime
    schema: DatasetSchema


@dataclass
class IngestResult:
    version: DatasetVersion | None = None
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.version.rows if self.version else 0


class Schemas:
    """The datasets ingest knows, by name."""

    def __init__(self, schemas: Iterable[DatasetSchema]) -> None:
        self._by_name = {s.name: s for s in schemas}

    def get(self, name: str) -> DatasetSchema:
        try:
            return self._by_name[name]
        except KeyError:
            known = sorted(self._by_name) or "none: add <name>.json to INGEST_SCHEMA_DIR"
            raise NotFound(f"unknown dataset {name!r}; known datasets: {known}") from None

    def all(self) -> list[DatasetSchema]:
        return list(self._by_name.values())


def _rejected(index: int, candidate: Candidate, reason: str) -> RejectedRow:
    row: dict[str, Any] = {"features": candidate.features, "label": candidate.label}
    text = repr(row)
    if len(text) > MAX_REJECTED_ROW_CHARS:
        row = {"truncated": text[:MAX_REJECTED_ROW_CHARS]}
    return RejectedRow(index=index, row=row, reason=reason)


def validate(
    schema: DatasetSchema, candidates: Sequence[Candidate], now: datetime | None = None
) -> tuple[list[LabelledRow], list[RejectedRow]]:
    now = now or utcnow()
    good: list[LabelledRow] = []
    bad: list[RejectedRow] = []
    for index, candidate in enumerate(candidates):
        if candidate.error:
            bad.append(_rejected(index, candidate, candidate.error))
            continue
        try:
            features = validate_features(schema, candidate.features)
            label = validate_label(schema, candidate.label)
        except RowError as exc:
            bad.append(_rejected(index, candidate, str(exc)))
            continue
        good.append(LabelledRow(features, label, candidate.observed_at or now))
    return good, bad


def write_version(
    store: ContentStore, schema: DatasetSchema, rows: Sequence[LabelledRow]
) -> DatasetVersion:
    """Store the rows as one immutable version, named by its content."""
    ordered = sorted(rows, key=lambda r: r.observed_at)
    blob = store.put(dumps(ordered), kind=f"datasets/{schema.name}", suffix=".jsonl")
    return DatasetVersion(
        dataset=schema.name,
        version=blob.sha256[:16],
        blob=blob,
        rows=len(ordered),
        observed_from=ordered[0].observed_at,
        observed_to=ordered[-1].observed_at,
        schema=schema,
    )


def ingest(
    store: ContentStore, schema: DatasetSchema, candidates: Sequence[Candidate]
) -> IngestResult:
    good, bad = validate(schema, candidates)
    version = write_version(store, schema, good) if good else None
    return IngestResult(version=version, rejected=bad)


def candidate_from_json(row: Any) -> Candidate:
    """A row of an HTTP JSON body; a row that is not a record is rejected, not the request."""
    try:
        record = Record.model_validate(row)
    except ValidationError as exc:
        return Candidate(row, None, error=f"not a record: {describe_validation_error(exc)}")
    return candidate_from_record(record)


def candidate_from_record(record: Record) -> Candidate:
    return Candidate(record.features, record.label, record.observed_at)
