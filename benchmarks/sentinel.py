"""Redis Sentinel: failover and the price of waiting for a replica, measured side by side.

A primary, one replica and three sentinels (real redis-server processes on 127.0.0.1), as in
tests/integration/test_sentinel.py. For REDIS_WAIT_REPLICAS 0 and 1: durable writes run, the
replication link is cut, the primary is killed; reported are acknowledged writes, those lost
(acknowledged but not on the new primary), writes refused while the sentinels failed over,
and the seconds from the kill to the replica's promotion. Then, on a healthy pair, the
durable writes per second with and without the wait, interleaved.

    python -m benchmarks.sentinel [--runs 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import orjson
from driftloop_bus import connection
from driftloop_bus.client import StreamClient
from driftloop_bus.effects import PublishBody
from driftloop_bus.settings import BusSettings
from driftloop_contracts import streams
from driftloop_contracts.keys import Keys

from tests.support.sentinel import SentinelGroup, kill_the_primary_under_writes


async def writes_per_second(group: SentinelGroup, wait_replicas: int, seconds: float) -> float:
    namespace = f"bench{uuid.uuid4().hex[:8]}:"
    settings = BusSettings(
        redis_sentinels=group.sentinels, redis_wait_replicas=wait_replicas, namespace=namespace
    )
    keys = Keys(namespace)
    redis = connection.connect(settings)
    client = StreamClient(redis, keys, connection.Durability.of(settings, keys))
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        body = orjson.dumps({"n": count})
        await client.publish(PublishBody(streams.INGEST_RECORDS, body), durable=True)
        count += 1
    elapsed = time.perf_counter() - started
    await redis.aclose()
    return count / elapsed


async def main(runs: int, seconds: float) -> None:
    for wait in (0, 1):
        for run in range(runs):
            with SentinelGroup() as group:
                outcome = await kill_the_primary_under_writes(group, f"f{run}{wait}:", wait)
            print(
                f"REDIS_WAIT_REPLICAS={wait} run {run + 1}: acknowledged {outcome.acknowledged}, "
                f"lost {outcome.lost}, refused {outcome.refused}, "
                f"promoted after {outcome.failover_s:.2f} s"
            )
    rates: dict[int, list[float]] = {0: [], 1: []}
    with SentinelGroup() as group:
        for _ in range(runs):
            for wait in (0, 1):
                rates[wait].append(await writes_per_second(group, wait, seconds))
    plain, waited = statistics.median(rates[0]), statistics.median(rates[1])
    print(
        f"durable writes/s (one client, one at a time, medians of {runs}): "
        f"no wait {plain:,.0f}, WAIT 1 replica {waited:,.0f} ({waited / plain:.2f}x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.seconds))
