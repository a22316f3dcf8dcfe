"""Dataset versions: valid rows written as one immutable, content-addressed blob.

The bytes are exactly what ``driftloop_contracts.datasets.dumps`` writes for the rows oldest
first (the format's owner; a test holds the two equal), built a column at a time instead of
a dict and a sorted-keys dump per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import repeat
from operator import attrgetter, sub
from typing import Any

import orjson
from driftloop_contracts import BlobRef, DatasetSchema
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore

from .validation import ValidRows

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Orders and identifies a row's time within one version (see _instants).
Instant = tuple[date, time] | timedelta
_ZONE = attrgetter("tzinfo")


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
    n = len(rows)
    if not n:
        raise ValueError("a dataset version needs at least one row")
    schema = rows.schema
    instants = _instants(rows.observed_at)
    order = _oldest_first(rows.observed_at, instants)
    blob = store.put(
        encode_rows(rows, instants, order), kind=f"datasets/{schema.name}", suffix=".jsonl"
    )
    first, last = (order[0], order[-1]) if order else (0, n - 1)
    return DatasetVersion(
        dataset=schema.name,
        version=blob.sha256[:16],
        blob=blob,
        rows=n,
        observed_from=rows.observed_at[first],
        observed_to=rows.observed_at[last],
        schema=schema,
    )


def write_version(
    store: ContentStore, schema: DatasetSchema, rows: Sequence[LabelledRow]
) -> DatasetVersion:
    """Store rows already validated against `schema` as one version."""
    return store_version(store, ValidRows.of_rows(schema, rows))


def encode_rows(
    rows: ValidRows, instants: list[Instant] | None = None, order: list[int] | None = None
) -> bytes:
    """JSON lines, one row per line, oldest first (stable), keys sorted: canonical bytes.

    Each column becomes its pieces (``"name":value``, with the brackets around the features
    folded into the first and last), every distinct string or time serialised once; a line is
    its pieces joined by commas, all of it in C (a format or a dict per row cost 4x as much).
    """
    if instants is None:
        instants = _instants(rows.observed_at)
        order = _oldest_first(rows.observed_at, instants)
    names = sorted(rows.schema.feature_names)  # the order of orjson's OPT_SORT_KEYS
    kinds = {f.name: f.kind for f in rows.schema.features}
    columns = []
    for i, name in enumerate(names):
        head = (b'{"features":{' if i == 0 else b"") + orjson.dumps(name) + b":"
        tail = b"}" if i == len(names) - 1 else b""
        encode = _numbers if kinds[name] == "numeric" else _values
        columns.append(encode(rows.columns[name], head, tail))
    columns.append(_values(rows.labels, b'"label":', b""))
    columns.append(_times(instants, rows.observed_at))
    lines = list(map(b",".join, zip(*columns, strict=True)))
    return b"".join(lines if order is None else map(lines.__getitem__, order))


def _numbers(values: list[Any], head: bytes, tail: bytes) -> list[bytes]:
    """Floats and nulls: one dump of the column, cut at its commas (numbers have none; a
    newline cannot occur in the name's JSON either, so it marks the cuts)."""
    if not values:
        return []
    body = orjson.dumps(values)[1:-1].replace(b",", tail + b"\n" + head)
    return (head + body + tail).split(b"\n")


def _values(values: list[Any], head: bytes, tail: bytes) -> list[bytes]:
    """Strings or nulls: each distinct value serialised once."""
    encoded = {v: head + orjson.dumps(v) + tail for v in set(values)}
    return list(map(encoded.__getitem__, values))


def _times(instants: list[Instant], times: list[datetime]) -> list[bytes]:
    """Each distinct instant once, in UTC with a Z, closing the line."""

    def line_end(t: datetime) -> bytes:
        return b'"observed_at":' + orjson.dumps(t.astimezone(UTC), option=orjson.OPT_UTC_Z) + b"}\n"

    if _all_equal(instants):  # one time for the whole batch: the usual submission
        return [line_end(times[0])] * len(times)
    some = dict(zip(instants, times, strict=True))  # one time per distinct instant
    encoded = {key: line_end(t) for key, t in some.items()}
    return list(map(encoded.__getitem__, instants))


def _all_equal(instants: list[Instant]) -> bool:
    return not instants or instants.count(instants[0]) == len(instants)


def _instants(times: list[datetime]) -> list[Instant]:
    """Keys that identify each time's instant, cheap to compare and hash (comparing two aware
    datetimes calls their tzinfo, and pydantic gives each time a tzinfo of its own): the
    wall-clock date and time when all share one fixed offset, else the time since 1970."""
    zones = set(map(_ZONE, times))
    zone = next(iter(zones)) if len(zones) == 1 else None
    if zone is not None and zone.utcoffset(None) is not None:  # a fixed offset, not a region
        return list(zip(map(datetime.date, times), map(datetime.time, times), strict=True))
    return list(map(sub, times, repeat(EPOCH)))


def _oldest_first(times: list[datetime], instants: list[Instant]) -> list[int] | None:
    """The order of a stable sort of the times (as sorted() orders them), or None when the
    rows are in it already."""
    if _all_equal(instants):
        return None
    if isinstance(instants[0], tuple):  # one fixed offset: the keys order as the times do
        if sorted(instants) == instants:
            return None
        return sorted(range(len(times)), key=instants.__getitem__)
    # Several offsets or a region: Python's own comparisons (within one region they compare
    # wall clocks, not instants), a rare path.
    order = sorted(range(len(times)), key=times.__getitem__)
    return None if order == list(range(len(times))) else order
