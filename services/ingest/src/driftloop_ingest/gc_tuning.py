"""Garbage-collector settings for ingest's allocation pattern.

Decoding a delivery of records allocates a few containers per record (pydantic models,
dicts) that stay alive until the delivery is done. With CPython's defaults the collector ran
about 30 times per 5,000 records and each older-generation pass rescanned every object made
at start-up (the imported frameworks): 40% of the records path, measured by
benchmarks/ingest.py. Objects alive after start-up are frozen (never scanned again; they
live as long as the process anyway) and young collections run every 50,000 net allocations
instead of 700 (as fast as no collector at all there; 10,000 was 5-20% slower). Cycles are
still collected, a young pass over 50,000 objects takes a millisecond or two; objects without
cycles are freed at once as ever.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Call once the service has started (everything imported and built)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


async def tune_gc_at_start() -> None:
    tune_gc()
