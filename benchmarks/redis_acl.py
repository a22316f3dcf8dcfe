"""What per-service ACL users cost: the same work as a service's user (selectors) and as an
`+@all ~*` user, on one Redis 7 started with the rendered ACL file.

1. pipelined XADD (batches of 100) to prediction.logged.v3, as predictor vs admin;
2. XREADGROUP + XACK of those entries (100 per call), as drift-monitor vs admin;
3. connection set-up (connect, AUTH, PING), as predictor.

    python -m benchmarks.redis_acl [--entries 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from driftloop_bus import acl
from driftloop_sdk.embedded_redis import EmbeddedRedis
from driftloop_sdk.redis_users import RedisLogin
from redis import Redis

NS = "bench:"
BODY = {"__data__": b"x" * 400}


def publish(r: Redis, key: str, entries: int) -> float:
    started = time.perf_counter()
    for _ in range(entries // 100):
        with r.pipeline(transaction=False) as pipe:
            for _ in range(100):
                pipe.xadd(key, BODY)
            pipe.execute()
    return entries / (time.perf_counter() - started)


def consume(r: Redis, key: str, group: str, entries: int) -> float:
    r.xgroup_create(key, group, id="0")
    started, done = time.perf_counter(), 0
    while done < entries:
        got = r.xreadgroup(group, "c", {key: ">"}, count=100)
        ids = [entry_id for entry_id, _ in got[0][1]]
        r.xack(key, group, *ids)
        done += len(ids)
    return entries / (time.perf_counter() - started)


def connects(url: str, login: RedisLogin, count: int = 200) -> float:
    started = time.perf_counter()
    for _ in range(count):
        client = login.connect(url)
        client.ping()
        client.close()
    return (time.perf_counter() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    passwords = {u: secrets.token_urlsafe(24) for u in acl.USERS}
    acl_file = Path(tempfile.mkdtemp()) / "users.acl"
    acl_file.write_text(acl.render(NS, passwords))
    key = f"{NS}prediction.logged.v3"
    rows: dict[str, list[float]] = {}
    with EmbeddedRedis(acl_file=acl_file) as server:
        login = {u: RedisLogin(u, passwords[u]) for u in acl.USERS}
        admin = login["admin"].connect(server.url)
        for run in range(args.runs):
            for who, publisher, consumer in (
                ("service users", "predictor", "drift-monitor"),
                ("+@all ~*", "admin", "admin"),
            ):
                admin.delete(key)
                p = publish(login[publisher].connect(server.url), key, args.entries)
                c = consume(login[consumer].connect(server.url), key, f"g{run}", args.entries)
                rows.setdefault(f"{who} XADD/s", []).append(p)
                rows.setdefault(f"{who} XREADGROUP+XACK/s", []).append(c)
        rows["predictor connect+AUTH+PING ms"] = [connects(server.url, login["predictor"])]
        print(f"Redis {'.'.join(map(str, server.version))}, {args.entries} entries x {args.runs}")
    for name, values in rows.items():
        print(f"{name:40} median {statistics.median(values):>10,.1f}")


if __name__ == "__main__":
    main()
