"""Dataset versions: valid rows written as one immutable, content-addressed blob.

The bytes are exactly what ``driftloop_contracts.datasets.dumps`` writes for the rows oldest
first (the format's owner; a test holds the two equal), built a column at a time: each
column is serialised once and the lines are filled in from a template, instead of a dict and
a sorted-keys dump per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise, repeat
from operator import sub
from typing import Any

import orjson
from driftloop_contracts import BlobRef, DatasetSchema
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore

from .validation import ValidRows

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DatasetVersion:
    dataset: str
    version: str
    blob: BlobRef
    rows: int
    observed_from: datetime
    observed_to: datetime
    schema: DatasetSchema


def store_version(store: ContentStore, rows: ValidRows) -> DatasetVersion:
    """Store the rows as one immutable version, named by its content."""
    if not len(rows):
        raise ValueError("a dataset version needs at least one row")
    schema = rows.schema
    instants = _instants(rows.observed_at)
    data = encode_rows(rows, instants)
    blob = store.put(data, kind=f"datasets/{schema.name}", suffix=".jsonl")
    return DatasetVersion(
        dataset=schema.name,
        version=blob.sha256[:16],
        blob=blob,
        rows=len(rows),
        observed_from=rows.observed_at[instants.index(min(instants))],
        observed_to=rows.observed_at[instants.index(max(instants))],
        schema=schema,
    )


def write_version(
    store: ContentStore, schema: DatasetSchema, rows: Sequence[LabelledRow]
) -> DatasetVersion:
    """Store rows already validated against `schema` as one version."""
    return store_version(store, ValidRows.of_rows(schema, rows))


def encode_rows(rows: ValidRows, instants: list[timedelta] | None = None) -> bytes:
    """JSON lines, one row per line, oldest first (stable), keys sorted: canonical bytes."""
    instants = _instants(rows.observed_at) if instants is None else instants
    names = sorted(rows.schema.feature_names)  # the order of orjson's OPT_SORT_KEYS
    kinds = {f.name: f.kind for f in rows.schema.features}
    ordered = [(_numbers if kinds[n] == "numeric" else _values)(rows.columns[n]) for n in names]
    columns = zip(*ordered, _values(rows.labels), _times(instants), strict=True)
    template = _template(names)
    lines = [template % line for line in columns]
    order = _oldest_first(instants)
    return b"".join(lines if order is None else map(lines.__getitem__, order))


def _instants(times: list[datetime]) -> list[timedelta]:
    """Each time as its distance from the epoch: exact, and cheap to compare and hash (an
    aware datetime calls its tzinfo on every comparison, and pydantic gives each its own)."""
    return list(map(sub, times, repeat(EPOCH)))


def _template(names: list[str]) -> bytes:
    fields = b",".join(orjson.dumps(n).replace(b"%", b"%%") + b":%b" for n in names)
    return b'{"features":{' + fields + b'},"label":%b,"observed_at":%b}\n'


def _numbers(values: list[Any]) -> list[bytes]:
    """Floats and nulls: one dump of the column, split at its commas (numbers have none)."""
    return orjson.dumps(values)[1:-1].split(b",") if values else []


def _values(values: list[Any]) -> list[bytes]:
    """Strings or nulls: each distinct value serialised once."""
    encoded = {v: orjson.dumps(v) for v in set(values)}
    return list(map(encoded.__getitem__, values))


def _times(instants: list[timedelta]) -> list[bytes]:
    """Each distinct instant once, in UTC with a Z."""
    encoded = {t: orjson.dumps(EPOCH + t, option=orjson.OPT_UTC_Z) for t in set(instants)}
    return list(map(encoded.__getitem__, instants))


def _oldest_first(instants: list[timedelta]) -> list[int] | None:
    """The order of a stable sort by time, or None when the rows are in it already."""
    if all(a <= b for a, b in pairwise(instants)):
        return None
    return sorted(range(len(instants)), key=instants.__getitem__)
