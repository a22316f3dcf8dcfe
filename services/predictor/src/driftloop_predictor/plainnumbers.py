"""A columnar body of plain numbers read straight into float arrays, no Python float per value.

orjson makes a Python float of every value and numpy then copies them into the matrix: at 100
rows of 20 features, reading the body was the largest part of a request's CPU. simdjson parses
the body into its own tape and copies each column into a float64 buffer at once.

It is used only where it reads what orjson reads: a body without escapes (``\\``) whose
``columns`` is an object of distinct names, each a flat array of numbers, and nothing beside
it but scalars. Anything else (a string, boolean or null among the values, a nested array, a
number out of range, a repeated name, JSON it refuses) gives None, and the body is read by
orjson as before. What it returns keeps the way back (`Columns.exact`): a schema that is not
all numeric, or a value the vectorised checks do not pass, is decided on the values as sent,
so the answer and every 422 are the ones the orjson reading gives.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import orjson
import simdjson

from .columns import Columns, columns_from


def numeric_columns(raw: bytes) -> Columns | None:
    """The columns of `raw` as float64 arrays, or None when the body is not plainly that."""
    if not opens_with_columns(raw) or b"\\" in raw:
        return None  # rows, or an escape (names might read differently): orjson reads it
    try:
        return _read(raw)
    except Exception:  # simdjson refused it (bad JSON, a non-number, a huge integer...)
        return None  # orjson reads it and words the refusal, as it always has


def opens_with_columns(raw: bytes) -> bool:
    """Whether the body's first name is "columns": a cheap look (no parse), so that row
    bodies, and anything else, never pay for a simdjson parse before orjson's."""
    first = raw.find(b'"')
    return first >= 0 and raw.startswith(b'"columns"', first)


def _read(raw: bytes) -> Columns | None:
    doc = simdjson.Parser().parse(raw)  # a parser per body: none outlives its documents
    if not isinstance(doc, simdjson.Object) or "rows" in doc or _repeats(doc):
        return None
    value = doc.get("columns")
    if not isinstance(value, simdjson.Object) or not value or _repeats(value):
        return None
    if _count(raw, b"[") != len(value):
        return None  # one array per column and no other: as_buffer flattens nested arrays
    names = list(value.keys())
    buffers = []
    for name in names:  # not items(): it would unbox every value
        column = value[name]
        if not isinstance(column, simdjson.Array):
            return None
        buffers.append(column.as_buffer(of_type="d"))
    size = memoryview(buffers[0]).nbytes
    if size == 0 or any(memoryview(b).nbytes != size for b in buffers):
        return None  # columns_from words that
    rows = size // 8
    joined = bytearray().join(buffers)  # writable, as a parsed array would be
    by_feature = np.frombuffer(joined, dtype=np.float64).reshape(len(names), rows)
    return Columns(
        dict(zip(names, by_feature, strict=True)),
        rows,
        exact=partial(_exact, raw),
        by_feature=by_feature,
    )


def _count(raw: bytes, char: bytes) -> int:
    """Occurrences of one byte, found with memchr (bytes.count scans byte by byte)."""
    n, at = 0, raw.find(char)
    while at >= 0:
        n += 1
        at = raw.find(char, at + 1)
    return n


def _repeats(obj: simdjson.Object) -> bool:
    """A name given twice: orjson keeps the last value, simdjson the first."""
    names = list(obj.keys())
    return len(set(names)) != len(names)


def _exact(raw: bytes) -> Columns:
    return columns_from(orjson.loads(raw)["columns"])
