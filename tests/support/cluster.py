"""A Redis Cluster of three primaries (no replicas) as real redis-server processes on
127.0.0.1, for the cluster tests and `benchmarks.cluster`. The slots are split in three
even ranges with CLUSTER ADDSLOTS and the nodes introduced with CLUSTER MEET (no redis-cli)."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from driftloop_sdk.embedded_redis import free_port, redis_server_binary, server_env, wait_for_port
from redis import Redis

from tests.support.wait import eventually_sync

SLOTS = 16384


def node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too."""
    while True:
        port = free_port()
        if port + 10000 < 65536:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


class Cluster:
    def __init__(self, primaries: int = 3) -> None:
        self.binary = redis_server_binary()
        self.dir = Path(tempfile.mkdtemp(prefix="driftloop-cluster-"))
        self.ports = [node_port() for _ in range(primaries)]
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """REDIS_URL naming one seed node."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    @property
    def nodes(self) -> str:
        """REDIS_CLUSTER_NODES: every node."""
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def __enter__(self) -> Cluster:
        for i, port in enumerate(self.ports):
            args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{i}.conf"]
            args += ["--cluster-node-timeout", "2000", "--appendonly", "no", "--save", ""]
            self.processes.append(
                subprocess.Popen(
                    [str(self.binary), *args],
                    env=server_env(self.binary),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            wait_for_port(port)
        self._assign_slots()
        eventually_sync(self._ok, timeout=20, what="cluster_state:ok on every node")
        return self

    def _assign_slots(self) -> None:
        share = SLOTS // len(self.ports)
        for i, port in enumerate(self.ports):
            first = i * share
            last = SLOTS - 1 if i == len(self.ports) - 1 else first + share - 1
            with Redis(port=port) as node:
                node.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
                for other in self.ports[1:] if i == 0 else ():
                    node.execute_command("CLUSTER", "MEET", "127.0.0.1", other)

    def _ok(self) -> bool:
        for port in self.ports:
            with Redis(port=port, socket_timeout=2) as node:
                info = node.execute_command("CLUSTER", "INFO").decode()
                known = f"cluster_known_nodes:{len(self.ports)}"
                if "cluster_state:ok" not in info or known not in info:
                    return False
        return True

    def port_of_slot(self, slot: int) -> int:
        """The port of the primary owning `slot` (the even ranges of `_assign_slots`)."""
        share = SLOTS // len(self.ports)
        return self.ports[min(slot // share, len(self.ports) - 1)]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait(timeout=10)
