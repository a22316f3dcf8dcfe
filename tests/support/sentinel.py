"""A Redis primary, its replica and three sentinels as real redis-server processes on
127.0.0.1, for failover tests and `benchmarks.sentinel`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import orjson
from driftloop_bus import connection
from driftloop_bus.client import StreamClient
from driftloop_bus.effects import PublishBody
from driftloop_bus.settings import BusSettings
from driftloop_contracts import streams
from driftloop_contracts.keys import Keys
from driftloop_sdk.embedded_redis import free_port, redis_server_binary, server_env, wait_for_port
from redis import Redis
from redis.exceptions import RedisError

from tests.support.wait import eventually, eventually_sync

MASTER = "driftloop"


class SentinelGroup:
    """`down_after_ms`: how long the primary may be silent before the sentinels call it down."""

    def __init__(self, down_after_ms: int = 500, failover_timeout_ms: int = 2000) -> None:
        self.binary = redis_server_binary()
        self.dir = Path(tempfile.mkdtemp(prefix="driftloop-sentinel-"))
        self.ports = {"a": free_port(), "b": free_port()}
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> str:
        """REDIS_SENTINELS for this group."""
        return ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)

    def __enter__(self) -> SentinelGroup:
        try:
            self._form()
        except BaseException:  # `with` calls __exit__ only after __enter__ returned
            self.__exit__(None, None, None)
            raise
        return self

    def _form(self) -> None:
        self.start_server("a")
        self.start_server("b", replica_of=self.ports["a"])
        for i, port in enumerate(self.sentinel_ports):
            conf = self.dir / f"sentinel-{i}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.ports['a']} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER} {self.failover_timeout_ms}\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            self.processes[f"sentinel-{i}"] = self._spawn([str(conf), "--sentinel"], port)
        eventually_sync(
            self._ready, timeout=20, what="sentinels that know the replica and each other"
        )

    def start_server(self, name: str, replica_of: int | None = None) -> None:
        port = self.ports[name]
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--dbfilename", f"{name}.rdb", "--appendonly", "no", "--save", ""]
        args += ["--repl-diskless-sync-delay", "0"]  # a replica in sync at once
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.processes[name] = self._spawn(args, port)

    def _spawn(self, args: list[str], port: int) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [str(self.binary), *args],
            env=server_env(self.binary),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port)
        return process

    def _ready(self) -> bool:
        with Redis(port=self.ports["b"], socket_timeout=2) as replica:
            if replica.info("replication").get("master_link_status") != "up":
                return False
        for port in self.sentinel_ports:
            with Redis(port=port, socket_timeout=2) as sentinel:
                replicas = sentinel.execute_command("SENTINEL", "REPLICAS", MASTER)
                others = sentinel.execute_command("SENTINEL", "SENTINELS", MASTER)
                if len(replicas) < 1 or len(others) < 2:
                    return False
        return True

    def primary_port(self, sentinel: int = 0) -> int:
        """The port a sentinel names as the primary now."""
        with Redis(port=self.sentinel_ports[sentinel], socket_timeout=2) as client:
            _, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        return int(port)

    def agreed_primary(self) -> int | None:
        """The primary's port once every sentinel names the same one."""
        ports = {self.primary_port(i) for i in range(len(self.sentinel_ports))}
        return ports.pop() if len(ports) == 1 else None

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown save, no goodbye to the replica."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def name_of(self, port: int) -> str:
        return next(name for name, p in self.ports.items() if p == port)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for process in self.processes.values():
            process.kill()
        for process in self.processes.values():
            process.wait(timeout=10)


class Writer:
    """Durable publishes one after another, each numbered; a refused one is not retried (the
    next write has the next number)."""

    def __init__(self, client: StreamClient) -> None:
        self.client = client
        self.acknowledged: list[int] = []
        self.attempts = 0
        self.refused = 0
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        while not self.stopped.is_set():
            body = orjson.dumps({"n": self.attempts})
            try:
                await self.client.publish(PublishBody(streams.INGEST_RECORDS, body), durable=True)
                self.acknowledged.append(self.attempts)
            except RedisError:
                self.refused += 1
                with contextlib.suppress(TimeoutError):  # a pause while the sentinels fail over
                    await asyncio.wait_for(self.stopped.wait(), 0.02)
            self.attempts += 1

    async def until(self, count: int, what: str, timeout: float = 20) -> None:
        async def reached() -> bool:
            return len(self.acknowledged) >= count

        await eventually(reached, timeout=timeout, what=what)


@dataclass(frozen=True)
class Failover:
    acknowledged: int
    lost: int
    refused: int
    failover_s: float


async def kill_the_primary_under_writes(
    group: SentinelGroup, namespace: str, wait_replicas: int
) -> Failover:
    """Durable writes run; the replication link is cut (so the next writes reach only the
    primary), two more writes are attempted, then the primary is killed. The replica is
    promoted, the old primary comes back as its replica, writes resume. Lost: acknowledged
    writes the new primary does not hold."""
    settings = BusSettings(
        redis_sentinels=group.sentinels,
        redis_wait_replicas=wait_replicas,
        redis_wait_timeout_ms=300,
        namespace=namespace,
    )
    keys = Keys(namespace)
    redis = connection.connect(settings)
    writer = Writer(StreamClient(redis, keys, connection.Durability.of(settings, keys)))
    task = asyncio.create_task(writer.run())
    await writer.until(200, "200 acknowledged writes")
    old = group.name_of(group.primary_port())
    with Redis(port=group.ports[old]) as primary:
        primary.execute_command("CLIENT", "KILL", "TYPE", "replica")
    attempts = writer.attempts

    async def attempted() -> bool:
        return writer.attempts >= attempts + 2

    await eventually(attempted, what="two writes after the link was cut")
    group.kill(old)
    killed = time.monotonic()

    async def promoted() -> bool:
        return group.primary_port() != group.ports[old]

    async def agreed() -> bool:  # an old primary back too early could be made primary again
        return group.agreed_primary() not in (None, group.ports[old])

    await eventually(promoted, timeout=20, what="the replica promoted")
    failover_s = time.monotonic() - killed
    await eventually(agreed, timeout=20, what="every sentinel naming the new primary")
    group.start_server(old, replica_of=group.primary_port())  # back, as a replica
    await writer.until(len(writer.acknowledged) + 100, "writes resuming")
    writer.stopped.set()
    await task
    entries = await redis.xrange(keys.stream(streams.INGEST_RECORDS))
    stored = {orjson.loads(fields[b"__data__"])["n"] for _, fields in entries}
    await redis.aclose()
    lost = len(set(writer.acknowledged) - stored)
    return Failover(len(writer.acknowledged), lost, writer.refused, failover_s)
