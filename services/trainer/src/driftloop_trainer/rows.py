"""Reading dataset versions: sha256-verified, parsed once, cached within a byte budget.

Memory stays bounded by `max_rows` plus the cache, whatever was ingested: a training reads
versions newest first and stops as soon as older versions cannot hold any of the newest
`max_rows` rows; counting rows after an onset reads only the versions that straddle it.
"""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from driftloop_contracts import BlobRef
from driftloop_contracts.datasets import LabelledRow, loads
from driftloop_core import DriftloopError
from driftloop_core.telemetry import get_logger

from .state import VersionEntry

log = get_logger(__name__)
SAMPLE = 16


class Blobs(Protocol):
    """The content store, as far as reading versions goes."""

    def get(self, ref: BlobRef) -> bytes: ...


def estimated_bytes(rows: Sequence[LabelledRow]) -> int:
    """Memory held by parsed rows, from a sample: the row, its dict, values, label, time."""
    if not rows:
        return 0
    step = max(1, len(rows) // SAMPLE)
    sample = rows[::step][:SAMPLE]
    size = sys.getsizeof
    per_row = sum(
        size(r)
        + size(r.features)
        + sum(size(v) for v in r.features.values())
        + size(r.label)
        + size(r.observed_at)
        + 8  # the list's pointer
        for r in sample
    ) / len(sample)
    return int(per_row * len(rows))


class RowCache:
    """Parsed versions by sha256, least recently used first out, within `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, tuple[list[LabelledRow], int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, sha256: str) -> list[LabelledRow] | None:
        item = self._items.get(sha256)
        if item is None:
            return None
        self._items.move_to_end(sha256)
        return item[0]

    def put(self, sha256: str, rows: list[LabelledRow]) -> None:
        size = estimated_bytes(rows)
        if size > self.max_bytes or sha256 in self._items:
            return
        self._items[sha256] = (rows, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, freed) = self._items.popitem(last=False)
            self.bytes -= freed


@dataclass
class Loaded:
    rows: list[LabelledRow]
    versions: list[str]


class RowLoader:
    def __init__(self, store: Blobs, cache_bytes: int) -> None:
        self.store = store
        self.cache = RowCache(cache_bytes)

    async def read(self, blob: BlobRef) -> list[LabelledRow]:
        """The rows of one version (sha256 verified), from the cache when there."""
        rows = self.cache.get(blob.sha256)
        if rows is None:
            rows = await asyncio.to_thread(lambda: loads(self.store.get(blob)))
            self.cache.put(blob.sha256, rows)
        return rows

    async def _readable(self, entry: VersionEntry) -> list[LabelledRow] | None:
        try:
            return await self.read(entry.blob)
        except DriftloopError as exc:  # removed from the store since: go on without it
            log.warning("dataset version unreadable, skipped", version=entry.version, error=exc)
            return None

    async def load(
        self, newest_first: AsyncIterator[VersionEntry], since: datetime | None, max_rows: int
    ) -> Loaded:
        """The newest `max_rows` rows observed at or after `since`, and their versions.

        `newest_first` yields versions by decreasing `observed_to`; reading stops at the first
        one older than every row kept."""
        kept: list[LabelledRow] = []
        parts: list[tuple[str, datetime]] = []  # version, its newest kept row
        cutoff: datetime | None = None
        async for entry in newest_first:
            if cutoff is not None and entry.observed_to < cutoff:
                break
            rows = await self._readable(entry)
            part = [r for r in rows or () if since is None or r.observed_at >= since]
            if not part:
                continue
            kept += part
            parts.append((entry.version, max(r.observed_at for r in part)))
            if len(kept) >= max_rows:
                kept.sort(key=lambda r: r.observed_at)
                del kept[:-max_rows]
                cutoff = kept[0].observed_at
        kept.sort(key=lambda r: r.observed_at)
        oldest = kept[0].observed_at if kept else None
        used = [v for v, newest in parts if oldest is not None and newest >= oldest]
        return Loaded(kept, used[::-1])

    async def count_since(self, entries: Iterable[VersionEntry], onset: datetime) -> int:
        """Rows observed at or after `onset`: whole versions from their metadata, and only the
        versions that straddle the onset read row by row."""
        total = 0
        for entry in entries:
            if entry.observed_to < onset:
                continue
            if entry.observed_from >= onset:
                total += entry.rows
                continue
            rows = await self._readable(entry)
            total += sum(1 for r in rows or () if r.observed_at >= onset)
        return total
