"""Rows as submitted, before validation: one at a time (HTTP, CSV) or as columns (streams)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from driftloop_contracts import Record, RejectedRow
from driftloop_contracts.codec import describe_validation_error
from pydantic import ValidationError

MAX_REJECTED_ROW_CHARS = 2000
_FEATURES, _LABEL, _OBSERVED_AT = (attrgetter(a) for a in ("features", "label", "observed_at"))


@dataclass(frozen=True)
class Candidate:
    """A row as submitted, before validation."""

    features: Any
    label: Any
    observed_at: datetime | None = None
    error: str | None = None  # the row could not even be read as a record


@dataclass(frozen=True)
class Candidates:
    """Rows as submitted, a column per part: row ``i`` is ``features[i]``, ``labels[i]``,
    ``observed_at[i]`` and, if it could not be read as a record, ``errors[i]``."""

    features: Sequence[Any]
    labels: Sequence[Any]
    observed_at: Sequence[datetime | None]
    errors: Sequence[str | None] | None = None

    def __len__(self) -> int:
        return len(self.features)

    @classmethod
    def of(cls, rows: Sequence[Candidate]) -> Candidates:
        return cls(
            [r.features for r in rows],
            [r.label for r in rows],
            [r.observed_at for r in rows],
            [r.error for r in rows],
        )

    @classmethod
    def of_records(cls, records: Sequence[Record]) -> Candidates:
        return cls(
            list(map(_FEATURES, records)),
            list(map(_LABEL, records)),
            list(map(_OBSERVED_AT, records)),
        )


def rejected_row(index: int, features: Any, label: Any, reason: str) -> RejectedRow:
    """A rejected row as received, truncated when its text is huge."""
    row: dict[str, Any] = {"features": features, "label": label}
    text = repr(row)
    if len(text) > MAX_REJECTED_ROW_CHARS:
        row = {"truncated": text[:MAX_REJECTED_ROW_CHARS]}
    return RejectedRow(index=index, row=row, reason=reason)


def candidate_from_json(row: Any) -> Candidate:
    """A row of an HTTP JSON body; a row that is not a record is rejected, not the request."""
    try:
        record = Record.model_validate(row)
    except ValidationError as exc:
        return Candidate(row, None, error=f"not a record: {describe_validation_error(exc)}")
    return candidate_from_record(record)


def candidate_from_record(record: Record) -> Candidate:
    return Candidate(record.features, record.label, record.observed_at)
