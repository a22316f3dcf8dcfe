"""CSV uploads: a header row with the feature names, the target and optionally observed_at."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import cast

from driftloop_contracts import DatasetSchema
from driftloop_core import InvalidInput

from .candidates import Candidate

OBSERVED_AT = "observed_at"


def candidates_from_csv(schema: DatasetSchema, text: str) -> list[Candidate]:
    """The rows of a CSV upload; InvalidInput when the file itself is unusable."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _candidates(schema, reader)
    except csv.Error as exc:  # a field over csv.field_size_limit (128 KiB), a stray NUL...
        raise InvalidInput(
            f"CSV line {reader.line_num + 1} cannot be read: {exc}; fields are at most "
            f"{csv.field_size_limit():,} characters"
        ) from None


def _candidates(schema: DatasetSchema, reader: csv.DictReader[str]) -> list[Candidate]:
    header = _header(reader)
    expected = [*schema.feature_names, schema.target.name]
    # A feature a schema evolution added (it has a default) may be absent: older files.
    required = [c for c in expected if c not in _defaulted(schema)]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(
            f"CSV header lacks column(s) {missing}; expected {required} (+ optional observed_at)",
            details={"header": header, "expected": expected},
        )
    extra = [c for c in header if c not in expected and c != OBSERVED_AT]
    if extra:
        raise InvalidInput(f"CSV has unknown column(s) {extra}; expected {expected}")
    present = [name for name in schema.feature_names if name in header]
    out = []
    for row in reader:
        features = {name: row[name] for name in present}
        observed: datetime | None = None
        error = None
        surplus = cast(list[str] | None, row.get(None))
        if surplus:  # DictReader keeps values beyond the header under the key None
            error = f"row has {len(header) + len(surplus)} values, the header has {len(header)}"
        if raw := row.get(OBSERVED_AT):
            try:
                observed = datetime.fromisoformat(raw)
                if observed.tzinfo is None:
                    error = f"observed_at {raw!r} has no timezone; use ISO 8601 with Z or +00:00"
            except ValueError:
                error = f"observed_at {raw!r} is not an ISO 8601 timestamp"
        out.append(Candidate(features, row[schema.target.name], observed, error))
    return out


def _header(reader: csv.DictReader[str]) -> list[str]:
    header = list(reader.fieldnames or [])
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:  # DictReader would keep the last column of each silently
        raise InvalidInput(f"CSV header repeats column(s) {repeated}; name each column once")
    return header


def _defaulted(schema: DatasetSchema) -> set[str]:
    return {f.name for f in schema.features if f.default is not None}
