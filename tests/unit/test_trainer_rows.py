"""Reading dataset versions: a cache bounded in bytes, newest-first loads that stop early."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from driftloop_contracts import BlobRef
from driftloop_contracts.datasets import LabelledRow, dumps, loads
from driftloop_core import NotFound
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from driftloop_trainer.rows import RowCache, RowLoader, estimated_bytes
from driftloop_trainer.state import VersionEntry

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Blobs:
    """A content store in memory that counts reads."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.reads: list[str] = []

    def put(self, data: bytes) -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        self.data[sha] = data
        return BlobRef(key=f"datasets/{sha}", sha256=sha, size=len(data))

    def get(self, ref: BlobRef) -> bytes:
        self.reads.append(ref.sha256)
        if ref.sha256 not in self.data:
            raise NotFound(f"blob {ref.key} is not in the store")
        return self.data[ref.sha256]


def rows(n: int, start_minute: int, seed: int = 1) -> list[LabelledRow]:
    drawn = CreditScenario(seed).draw(n, "before")
    return [
        LabelledRow(f, y, T0 + timedelta(minutes=start_minute + i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def version(blobs: Blobs, part: list[LabelledRow]) -> VersionEntry:
    blob = blobs.put(dumps(part))
    return VersionEntry(
        version=blob.sha256[:16],
        blob=blob,
        rows=len(part),
        source="records",
        observed_from=part[0].observed_at,
        observed_to=part[-1].observed_at,
        schema_fingerprint=SCHEMA.fingerprint(),
    )


async def newest_first(entries: Sequence[VersionEntry]) -> AsyncIterator[VersionEntry]:
    for entry in sorted(entries, key=lambda e: e.observed_to, reverse=True):
        yield entry


def ten_versions(blobs: Blobs) -> list[VersionEntry]:
    """Ten versions of 100 rows, one minute apart, version i covering minutes 100i..100i+99."""
    return [version(blobs, rows(100, 100 * i, seed=i)) for i in range(10)]


# ------------------------------------------------------------------------------- cache


def test_the_estimate_of_parsed_rows_is_within_a_third_of_what_they_really_take() -> None:
    data = dumps(rows(2000, 0))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    parsed = loads(data)
    taken = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()

    assert taken * 2 / 3 <= estimated_bytes(parsed) <= taken * 4 / 3


def test_the_cache_drops_the_least_recently_used_versions_to_stay_within_its_bytes() -> None:
    part = rows(100, 0)
    size = estimated_bytes(part)
    cache = RowCache(max_bytes=int(size * 2.5))
    cache.put("a", part)
    cache.put("b", rows(100, 100))
    assert cache.get("a") is part  # a is now the most recently used

    cache.put("c", rows(100, 200))

    assert cache.get("b") is None
    assert cache.get("a") is part and cache.get("c") is not None
    assert cache.bytes <= cache.max_bytes


def test_a_version_larger_than_the_whole_cache_is_not_cached() -> None:
    cache = RowCache(max_bytes=1000)

    cache.put("big", rows(100, 0))

    assert len(cache) == 0 and cache.bytes == 0


async def test_a_version_is_read_from_the_store_once_while_it_stays_cached() -> None:
    blobs = Blobs()
    entry = version(blobs, rows(50, 0))
    loader = RowLoader(blobs, cache_bytes=10_000_000)

    first = await loader.read(entry.blob)
    again = await loader.read(entry.blob)

    assert first is again and blobs.reads == [entry.blob.sha256]


async def test_without_a_cache_every_read_goes_to_the_store() -> None:
    blobs = Blobs()
    entry = version(blobs, rows(50, 0))
    loader = RowLoader(blobs, cache_bytes=0)

    await loader.read(entry.blob)
    await loader.read(entry.blob)

    assert len(blobs.reads) == 2


# ----------------------------------------------------------------------------- loading


async def test_loading_reads_the_newest_versions_only_until_max_rows_are_kept() -> None:
    blobs = Blobs()
    entries = ten_versions(blobs)
    loader = RowLoader(blobs, cache_bytes=0)

    loaded = await loader.load(newest_first(entries), None, max_rows=250)

    assert len(loaded.rows) == 250
    assert loaded.rows[0].observed_at == T0 + timedelta(minutes=750)
    assert loaded.rows == sorted(loaded.rows, key=lambda r: r.observed_at)
    assert loaded.versions == [e.version for e in entries[7:]]
    # the three newest versions hold them; the fourth is older than all of them: not read
    assert blobs.reads == [e.blob.sha256 for e in reversed(entries[7:])]


async def test_loading_keeps_only_rows_observed_since_the_onset() -> None:
    blobs = Blobs()
    entries = ten_versions(blobs)
    loader = RowLoader(blobs, cache_bytes=0)

    loaded = await loader.load(newest_first(entries), T0 + timedelta(minutes=950), max_rows=10_000)

    assert len(loaded.rows) == 50
    assert loaded.versions == [entries[9].version]


async def test_loading_skips_a_version_no_longer_in_the_store() -> None:
    blobs = Blobs()
    entries = ten_versions(blobs)
    del blobs.data[entries[9].blob.sha256]
    loader = RowLoader(blobs, cache_bytes=0)

    loaded = await loader.load(newest_first(entries), None, max_rows=100)

    assert loaded.versions == [entries[8].version]


async def test_rows_since_an_onset_are_counted_reading_only_the_version_that_straddles_it() -> None:
    blobs = Blobs()
    entries = ten_versions(blobs)
    loader = RowLoader(blobs, cache_bytes=0)

    count = await loader.count_since(entries, T0 + timedelta(minutes=730))

    assert count == 270
    assert blobs.reads == [entries[7].blob.sha256]


@pytest.mark.parametrize("max_rows", [1, 99, 100, 101, 1000, 5000])
async def test_loading_keeps_exactly_the_newest_rows_whatever_max_rows(max_rows: int) -> None:
    blobs = Blobs()
    entries = ten_versions(blobs)
    everything = sorted(
        (r for e in entries for r in loads(blobs.data[e.blob.sha256])), key=lambda r: r.observed_at
    )
    loader = RowLoader(blobs, cache_bytes=0)

    loaded = await loader.load(newest_first(entries), None, max_rows=max_rows)

    assert loaded.rows == everything[-max_rows:]
