"""Events/s through the bus on one Redis and on a three-primary Redis Cluster, side by side.

Each target runs the same work: `--consumers` processes each run a Bus with one consumer
group (batch 100) on every shard; the handler returns, per event, one published event and one
write to the service's state of the event's dataset, committed with the XACK in the delivery's
transaction. Then this process publishes `--events` events (pipelined, 500 a round trip) over
`--datasets` datasets, and the clock runs from the first publish to the last commit (every
output on its stream). Targets:

- one Redis, REDIS_SHARDS=1 (today's keys);
- one Redis, REDIS_SHARDS=`--shards` (the tagged keys and a subscriber set per shard);
- the cluster (real redis-server processes on 127.0.0.1), REDIS_SHARDS=`--shards`.

The runs interleave the targets. Everything shares this machine's cores: the Redis servers,
the consumers and the publisher.

    python -m benchmarks.cluster [--events 20000] [--runs 3] [--consumers 2] [--shards 6]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftloop_bus import Bus, BusSettings, Consumer, Output, Publish, RedisWrite, each
from driftloop_bus.connection import connect
from driftloop_contracts import FeedbackReceived, Label, TrainingRequested, streams
from driftloop_contracts.keys import Keys, shard_of
from driftloop_sdk.embedded_redis import EmbeddedRedis

from tests.support.cluster import Cluster
from tests.support.wait import eventually

GROUP = "bench"


@dataclass(frozen=True)
class Target:
    name: str
    settings: dict[str, Any]


def consumer(bus: Bus) -> Consumer[TrainingRequested]:
    async def handle(event: TrainingRequested) -> Sequence[Output]:
        key = bus.keys.of(event.dataset).owned("trainer", "count", event.dataset)
        out = FeedbackReceived.caused_by(
            event, "bench", "bench", labels=[Label(prediction_id=event.event_id, label="x")]
        )
        return [Publish(streams.FEEDBACK_RECEIVED, out), RedisWrite(lambda p: p.incr(key))]

    return Consumer(streams.TRAINING_REQUESTED, GROUP, each(handle), batch_size=100)


def run_consumer(settings: dict[str, Any], ready: Any, stop: Any) -> None:
    async def main() -> None:
        bus = Bus(BusSettings(**settings, consumer_name=f"c{uuid.uuid4().hex[:6]}"))
        bus.consume(consumer(bus))
        await bus.start()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await bus.stop()

    asyncio.run(main())


async def publish_and_wait(settings: dict[str, Any], events: int, datasets: int) -> float:
    bus_settings = BusSettings(**settings)
    bus = Bus(bus_settings)
    names = [f"d{i}" for i in range(datasets)]
    keys = Keys(bus_settings.namespace, bus_settings.redis_shards)
    outputs = [s.stream(streams.FEEDBACK_RECEIVED) for s in keys.all()]
    redis = connect(bus_settings)
    started = time.perf_counter()
    for first in range(0, events, 500):
        batch = [
            Publish(streams.TRAINING_REQUESTED, TrainingRequested(dataset=names[i % datasets]))
            for i in range(first, min(first + 500, events))
        ]
        await bus.client.publish(*batch)

    async def done() -> bool:
        return sum([await redis.xlen(k) for k in outputs]) >= events

    await eventually(done, timeout=600, interval=0.01, what=f"{events} events committed")
    elapsed = time.perf_counter() - started
    await redis.aclose()
    await bus.redis.aclose()
    return events / elapsed


def measure(target: Target, args: argparse.Namespace) -> float:
    settings = target.settings | {"namespace": f"b{uuid.uuid4().hex[:8]}:"}
    context = mp.get_context("spawn")
    ready = [context.Event() for _ in range(args.consumers)]
    stop = context.Event()
    processes = [context.Process(target=run_consumer, args=(settings, r, stop)) for r in ready]
    for process in processes:
        process.start()
    try:
        for r in ready:
            if not r.wait(120):
                raise RuntimeError(f"{target.name}: a consumer did not start")
        return asyncio.run(publish_and_wait(settings, args.events, args.datasets))
    finally:
        stop.set()
        for process in processes:
            process.join(30)


def spread(datasets: int, shards: int, cluster: Cluster) -> str:
    from redis.crc import key_slot

    per_node: dict[int, int] = {}
    for i in range(datasets):
        prefix = Keys("", shards, shard_of(f"d{i}", shards)).prefix
        port = cluster.port_of_slot(key_slot(prefix.encode()))
        per_node[port] = per_node.get(port, 0) + 1
    return ", ".join(str(n) for _, n in sorted(per_node.items()))


def main(args: argparse.Namespace) -> None:
    with EmbeddedRedis() as single, Cluster() as cluster:
        targets = [
            Target("one Redis, 1 shard", {"redis_url": single.url}),
            Target(
                f"one Redis, {args.shards} shards",
                {"redis_url": single.url, "redis_shards": args.shards},
            ),
            Target(
                f"cluster (3 primaries), {args.shards} shards",
                {"redis_url": cluster.url, "redis_cluster": True, "redis_shards": args.shards},
            ),
        ]
        rates: dict[str, list[float]] = {t.name: [] for t in targets}
        for run in range(args.runs):
            for target in targets:
                rate = measure(target, args)
                rates[target.name].append(rate)
                print(f"run {run + 1} {target.name}: {rate:,.0f} events/s", flush=True)
        datasets_per_node = spread(args.datasets, args.shards, cluster)
    base = statistics.median(rates[targets[0].name])
    print(
        f"\n{args.events} events over {args.datasets} datasets, {args.consumers} consumer "
        f"processes, medians of {args.runs} (datasets per primary: {datasets_per_node})"
    )
    print("| target | events/s | vs one Redis |\n|---|---|---|")
    for target in targets:
        rate = statistics.median(rates[target.name])
        print(f"| {target.name} | {rate:,.0f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--datasets", type=int, default=12)
    parser.add_argument("--shards", type=int, default=6)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args())
