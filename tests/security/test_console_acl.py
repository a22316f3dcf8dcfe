"""Attack: "the console is a way into Redis". The console logs in as `console`, which reads
streams, dead letters and groups' lag and writes nothing; its replay login `console-admin` may
only read and delete dead letters and append to the streams they came from (real Redis 7)."""

from __future__ import annotations

import pytest
from driftloop_sdk.embedded_redis import EmbeddedRedis
from redis.exceptions import NoPermissionError

from .test_redis_acl import NS, as_user, server

__all__ = ["server"]
RECORDS = f"{NS}ingest.records.v1"


def test_the_console_reads_streams_dead_letters_and_lag(server: EmbeddedRedis) -> None:
    admin, console = as_user(server, "admin"), as_user(server, "console")
    admin.xadd(RECORDS, {"__data__": b"{}"})
    admin.xadd(f"{RECORDS}.dlq", {"__data__": b"{}", "error": b"bad"})
    admin.xgroup_create(RECORDS, "ingest", id="0", mkstream=True)

    assert console.xrevrange(RECORDS, count=1) and console.xrange(f"{RECORDS}.dlq")
    assert [g["name"] for g in console.xinfo_groups(RECORDS)] == [b"ingest"]
    assert console.xlen(f"{NS}drift.detected.v1") == 0


@pytest.mark.parametrize(
    "command",
    [
        ("XADD", RECORDS, "*", "__data__", "{}"),
        ("XADD", f"{NS}model.promoted.v1", "*", "__data__", "{}"),
        ("XDEL", f"{RECORDS}.dlq", "0-1"),
        ("XTRIM", RECORDS, "MAXLEN", "0"),
        ("XREADGROUP", "GROUP", "ingest", "c", "STREAMS", RECORDS, ">"),
        ("GET", f"{NS}registry:serving:champions"),
        ("HGETALL", f"{NS}ingest:datasets:registered"),
        ("DEL", RECORDS),
    ],
)
def test_the_console_writes_nothing_and_reads_no_state(
    server: EmbeddedRedis, command: tuple[str, ...]
) -> None:
    with pytest.raises(NoPermissionError):
        as_user(server, "console").execute_command(*command)


def test_console_admin_moves_a_dead_letter_back_and_nothing_else(server: EmbeddedRedis) -> None:
    admin, replayer = as_user(server, "admin"), as_user(server, "console-admin")
    letter = admin.xadd(f"{RECORDS}.dlq", {"__data__": b"{}"})

    assert replayer.xrange(f"{RECORDS}.dlq", letter, letter)
    replayer.xadd(RECORDS, {"__data__": b"{}"})
    assert replayer.xdel(f"{RECORDS}.dlq", letter) == 1
    for command in [
        ("XRANGE", RECORDS, "-", "+"),  # reads no stream but the dead letters
        ("XADD", f"{RECORDS}.dlq", "*", "a", "b"),  # cannot forge dead letters
        ("XADD", f"{NS}dataset.registered.v1", "*", "a", "b"),  # no group consumes these
        ("XADD", f"{NS}model.registered.v1", "*", "a", "b"),
        ("HGETALL", f"{NS}registry:serving:champions"),
    ]:
        with pytest.raises(NoPermissionError):
            replayer.execute_command(*command)
