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
    """`primaries` primaries, and one replica for each primary whose index is in `replicated`."""

    def __init__(self, primaries: int = 3, replicated: tuple[int, ...] = ()) -> None:
        self.binary = redis_server_binary()
        self.dir = Path(tempfile.mkdtemp(prefix="driftloop-cluster-"))
        self.ports = [node_port() for _ in range(primaries)]
        self.replicas = {i: node_port() for i in replicated}  # primary index -> replica port
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
        nodes = [*self.ports, *self.replicas.values()]
        for i, port in enumerate(nodes):
            args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{i}.conf"]
            args += ["--repl-diskless-sync-delay", "0"]
            args += ["--cluster-node-timeout", "2000", "--appendonly", "no", "--save", ""]
            self.processes.append(
                subprocess.Popen(
                    [str(self.binary), *args],
                    env=server_env(self.binary),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        try:
            self._form(nodes)
        except BaseException:  # `with` calls __exit__ only after __enter__ returned
            self.__exit__(None, None, None)
            raise
        return self

    def _form(self, nodes: list[int]) -> None:
        for port in nodes:
            wait_for_port(port)
        self._assign_slots()
        eventually_sync(lambda: self._ok(self.ports), timeout=20, what="cluster_state:ok")
        if self.replicas:
            self._add_replicas()
            eventually_sync(lambda: self._ok(nodes), timeout=20, what="cluster_state:ok (all)")

    def _add_replicas(self) -> None:
        """Each replica meets the cluster, then replicates its primary (once it knows it)."""
        for primary, port in self.replicas.items():
            with Redis(port=self.ports[primary]) as node:
                primary_id = node.execute_command("CLUSTER", "MYID").decode()
            with Redis(port=port) as replica:
                replica.execute_command("CLUSTER", "MEET", "127.0.0.1", self.ports[primary])

                def replicates(r: Redis = replica, id_: str = primary_id) -> bool:
                    try:  # once: each call restarts the sync
                        return bool(r.execute_command("CLUSTER", "REPLICATE", id_))
                    except Exception:  # the primary is not known to it yet
                        return False

                def synced(r: Redis = replica) -> bool:
                    return bool(r.info("replication").get("master_link_status") == "up")

                eventually_sync(replicates, timeout=20, what=f"a replica of primary {primary}")
                eventually_sync(synced, timeout=20, what=f"the replica of {primary} in sync")

    def _assign_slots(self) -> None:
        share = SLOTS // len(self.ports)
        for i, port in enumerate(self.ports):
            first = i * share
            last = SLOTS - 1 if i == len(self.ports) - 1 else first + share - 1
            with Redis(port=port) as node:
                node.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
                for other in self.ports[1:] if i == 0 else ():
                    node.execute_command("CLUSTER", "MEET", "127.0.0.1", other)

    def _ok(self, ports: list[int]) -> bool:
        for port in ports:
            with Redis(port=port, socket_timeout=2) as node:
                info = node.execute_command("CLUSTER", "INFO").decode()
                known = f"cluster_known_nodes:{len(ports)}"
                if "cluster_state:ok" not in info or known not in info:
                    return False
        return True

    def move_slot(self, slot: int, to: int) -> None:
        """Reshard: move `slot` and its keys to primary `to`, the way `redis-cli --cluster
        reshard` does (IMPORTING/MIGRATING, MIGRATE the keys, then SETSLOT NODE everywhere)."""
        source, target = self.port_of_slot(slot), self.ports[to]
        with Redis(port=source) as src, Redis(port=target) as dst:
            src_id = src.execute_command("CLUSTER", "MYID").decode()
            dst_id = dst.execute_command("CLUSTER", "MYID").decode()
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
            while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
                src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        for port in [target, source, *(p for p in self.ports if p not in (source, target))]:
            with Redis(port=port) as node:
                node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)

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
