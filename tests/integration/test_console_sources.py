"""The console's Redis adapters against a real Redis: the tail reads entries whole, the lag
comes from the groups, and a replay moves the dead letter back in one transaction (a
truncated one is refused and stays)."""

from __future__ import annotations

import pytest
from driftloop_console.ports import Refused
from driftloop_console.sources import RedisReplayer, RedisStreams
from driftloop_contracts.keys import Keys
from redis.asyncio import Redis

pytestmark = pytest.mark.integration
RECORDS = "ingest.records.v1"


async def test_newest_entries_and_group_lag_are_read(redis_url: str, namespace: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        for i in range(3):
            await redis.xadd(f"{namespace}{RECORDS}", {b"__data__": str(i).encode()})
        await redis.xgroup_create(f"{namespace}{RECORDS}", "ingest", id="0")
        streams = RedisStreams(redis, Keys(namespace))

        newest = await streams.newest(RECORDS, 2)
        (lag,) = await streams.lag([RECORDS, "never.written.v1"])

        assert [e.fields[b"__data__"] for e in newest] == [b"2", b"1"]
        assert (lag.group, lag.pending) == ("ingest", 0)
        assert lag.lag in (3, None)  # Redis 6.2 does not report lag
        assert await streams.lengths([RECORDS]) == {RECORDS: 3}
    finally:
        await redis.aclose()


async def test_a_replay_appends_the_original_entry_and_removes_the_dead_letter(
    redis_url: str, namespace: str
) -> None:
    redis = Redis.from_url(redis_url)
    try:
        dlq = f"{namespace}{RECORDS}.dlq"
        letter = await redis.xadd(dlq, {b"__data__": b"{}", b"orig:k": b"v", b"error": b"x"})
        cut = await redis.xadd(dlq, {b"cut:__data__": b"{", b"truncated": b"1"})
        replayer = RedisReplayer(redis, Keys(namespace))

        new_id = await replayer.replay(RECORDS, letter.decode())
        with pytest.raises(Refused, match="cannot be replayed"):
            await replayer.replay(RECORDS, cut.decode())

        replayed = await redis.xrange(f"{namespace}{RECORDS}")
        assert replayed == [(new_id.encode(), {b"__data__": b"{}", b"k": b"v"})]
        assert [i for i, _ in await redis.xrange(dlq)] == [cut]
    finally:
        await redis.aclose()
