"""A file of labelled rows for `driftloop publish`, and what can be said wrong with it before
anything is published: a label column the file lacks, columns the dataset does not have.

Pure functions: the command reads the dataset's registration from ingest and passes it in.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OBSERVED_AT = "observed_at"
DEFAULT_LABEL = "label"


class RecordsFileError(ValueError):
    """The file cannot be published as it is; the message says what to fix (one line)."""


@dataclass(frozen=True)
class RecordsFile:
    records: list[dict[str, Any]]
    #: The CSV's header (empty for JSON lines).
    columns: tuple[str, ...] = ()


def label_column(given: str | None, registration: Mapping[str, Any] | None) -> str:
    """The column holding the label: the one given, else the dataset's target, else `label`."""
    if given:
        return given
    if registration is not None:
        return str(registration["schema"]["target"]["name"])
    return DEFAULT_LABEL


def read(path: Path, label: str) -> RecordsFile:
    """CSV with a header (the label in column `label`), or JSON lines of records."""
    if not path.is_file():
        raise RecordsFileError(f"no file {path}")
    if path.suffix.lower() != ".csv":
        return RecordsFile(_json_lines(path))
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns = tuple(reader.fieldnames or ())
        if label not in columns:
            raise RecordsFileError(
                f"{path} has no column {label!r} (its columns: {', '.join(columns)}): name the "
                "label's column with --label-column"
            )
        records = [
            {
                "label": row.pop(label, None),
                "observed_at": row.pop(OBSERVED_AT, None) or None,
                "features": row,
            }
            for row in reader
        ]
    if not records:
        raise RecordsFileError(f"{path} has a header but no rows")
    return RecordsFile(records, columns)


def check_columns(
    file: RecordsFile, label: str, dataset: str, registration: Mapping[str, Any]
) -> None:
    """Columns the dataset has no feature for would reject every row: said before publishing."""
    features = [str(f["name"]) for f in registration["schema"]["features"]]
    unknown = [c for c in file.columns if c not in (*features, label, OBSERVED_AT)]
    if unknown:
        raise RecordsFileError(
            f"column(s) {', '.join(unknown)} are not features of dataset {dataset!r} "
            f"(its features: {', '.join(features)}; label column {label!r}): remove them, "
            "evolve the schema (`driftloop datasets add`), or fix --label-column"
        )


def _json_lines(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise RecordsFileError(f"{path} line {number} is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise RecordsFileError(f"{path} line {number} must be a JSON object (a record)")
        records.append(record)
    if not records:
        raise RecordsFileError(f"{path} holds no records")
    return records
