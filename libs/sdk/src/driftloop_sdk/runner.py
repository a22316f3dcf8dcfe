"""Run the whole stack locally: an embedded Redis and the five services as child processes.

``driftloop up`` and ``make demo`` use this; so does the e2e test, with a random namespace.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
from driftloop_contracts import DatasetSchema
from redis import Redis

from . import keys, redis_users
from .client import Endpoints
from .console_stack import OFFSET, console_env
from .embedded_redis import EmbeddedRedis, free_port, redis_server_binary, server_version
from .layout import Layout
from .layout import from_settings as layout_from
from .redis_users import RedisLogin
from .shards import StreamSet


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    env_prefix: str


SERVICES = (
    ServiceSpec("ingest", "driftloop_ingest", "INGEST_"),
    ServiceSpec("trainer", "driftloop_trainer", "TRAINER_"),
    ServiceSpec("registry", "driftloop_registry", "REGISTRY_"),
    ServiceSpec("predictor", "driftloop_predictor", "PREDICTOR_"),
    ServiceSpec("drift-monitor", "driftloop_drift_monitor", "MONITOR_"),
)
#: The web console (`console=True`, as `driftloop up` runs it), on the base port + 6.
CONSOLE = ServiceSpec("console", "driftloop_console", "CONSOLE_")

LogSink = Callable[[str, str], None]


def print_sink(service: str, line: str) -> None:
    print(f"{service:>13} | {line}", flush=True)


@dataclass
class _Child:
    spec: ServiceSpec
    port: int
    process: subprocess.Popen[bytes]
    name: str
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))


class Stack:
    """Start with `start()` (or `with Stack(...)`), stop with `stop()`; Ctrl-C safe.

    Children are named after their service; extra replicas get ``#2``, ``#3``... With
    ``supervise=True`` a child that exits is started again, as an orchestrator would.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        schemas: tuple[DatasetSchema, ...] = (),
        redis_url: str | None = None,
        base_port: int | None = None,
        namespace: str = "",
        env: Mapping[str, str] | None = None,
        sink: LogSink | None = print_sink,
        admin_token: str | None = None,
        redis_port: int | None = None,
        redis_persistent: bool = True,
        services: Sequence[str] | None = None,
        replicas: Mapping[str, int] | None = None,
        supervise: bool = False,
        acl: bool = True,
        console: bool = False,
    ) -> None:
        self.state_dir = state_dir
        self.schemas = schemas
        self.namespace = namespace
        self.extra_env = dict(env or {})
        self.sink = sink
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self._redis_url = redis_url
        self._redis_port = redis_port
        self._redis_persistent = redis_persistent
        self.redis: EmbeddedRedis | None = None
        #: The embedded Redis runs with one ACL user per service (an external one is yours).
        self.acl = acl and redis_url is None
        wanted = set(services) if services is not None else {s.name for s in SERVICES}
        unknown = wanted - {s.name for s in SERVICES}
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}")
        self.specs = {
            name: spec
            for spec in SERVICES
            for i in range((replicas or {}).get(spec.name, 1))
            if spec.name in wanted
            for name in [spec.name if i == 0 else f"{spec.name}#{i + 1}"]
        }
        self.ports = {
            name: (base_port + i + 1 if base_port else free_port())
            for i, name in enumerate(self.specs)
        }
        if console:
            self.specs[CONSOLE.name] = CONSOLE
            self.ports[CONSOLE.name] = base_port + OFFSET if base_port else free_port()
        self.children: dict[str, _Child] = {}
        self.restarts: dict[str, int] = {}
        self._supervise = supervise
        self._stopping = threading.Event()
        self._lock = threading.RLock()

    @property
    def redis_url(self) -> str:
        if self._redis_url:
            return self._redis_url
        assert self.redis is not None, "stack not started"
        return self.redis.url

    @property
    def endpoints(self) -> Endpoints:
        urls = {s.name: f"http://127.0.0.1:{self.ports.get(s.name, 0)}" for s in SERVICES}
        return Endpoints(*(urls[s.name] for s in SERVICES))

    def login(self, user: str) -> RedisLogin:
        """How `user` (a service, `client` or `admin`) connects; the default user without ACLs."""
        if not self.acl:
            return RedisLogin()
        found = redis_users.stored_login(self.state_dir, user)
        assert found is not None, "stack not started"
        return found

    def connect(self, user: str = "admin") -> Redis:
        """A redis-py client logged in as `user` (close it)."""
        return self.login(user).connect(self.redis_url)

    @property
    def layout(self) -> Layout:
        """REDIS_SHARDS and the rest as the services get them (the environment, then `env`)."""
        return layout_from(self.namespace, {**os.environ, **self.extra_env}, {})

    def streams(self, user: str = "admin") -> StreamSet:
        """Every shard of the stack's streams, read as `user` (close its `redis`)."""
        return StreamSet(self.connect(user), self.layout.keys)

    def url(self, child: str) -> str:
        return f"http://127.0.0.1:{self.ports[child]}"

    # ------------------------------------------------------------------ lifecycle

    @property
    def user_schema_dir(self) -> str | None:
        """INGEST_SCHEMA_DIR as the user set it (in the environment or `env`): respected."""
        return self.extra_env.get("INGEST_SCHEMA_DIR") or os.environ.get("INGEST_SCHEMA_DIR")

    @property
    def schema_dir(self) -> Path:
        """The directory ingest seeds its datasets from."""
        return Path(self.user_schema_dir or self.state_dir / "schemas")

    @property
    def given_keys(self) -> dict[str, str]:
        """Signing keys set in the environment or `env` (the deployment's own; the tests'
        session keys): used as they are. Without them the stack makes its own."""
        given = {n: v for n in keys.ALL_VARIABLES if (v := os.environ.get(n))}
        given.update({n: v for n in keys.ALL_VARIABLES if (v := self.extra_env.get(n))})
        return given

    @property
    def key_files(self) -> keys.KeyFiles:
        """Where the stack keeps the keys it generated (once, then reused)."""
        return keys.KeyFiles(self.state_dir / "keys")

    def start(self, timeout: float = 90.0) -> Stack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.given_keys:
            keys.ensure(self.key_files.directory)
        if self.user_schema_dir is None:  # the stack's own seeds directory
            self.schema_dir.mkdir(exist_ok=True)
            for schema in self.schemas:
                path = self.schema_dir / f"{schema.name}.json"
                path.write_text(schema.model_dump_json(indent=2))
        if self._redis_url is None:
            self._start_redis()
        try:
            for name in self.specs:
                self._spawn(name)
            self.wait_healthy(timeout)
            if self.user_schema_dir is not None:
                self._register_schemas()
        except BaseException:
            self.stop()
            raise
        if self._supervise:
            threading.Thread(target=self._supervisor, daemon=True).start()
        return self

    def _start_redis(self) -> None:
        data_dir = self.state_dir / "redis" if self._redis_persistent else None
        binary = redis_server_binary()
        acl_file = self._write_acl(server_version(binary) >= (7, 0)) if self.acl else None
        self.redis = EmbeddedRedis(
            port=self._redis_port, data_dir=data_dir, acl_file=acl_file, binary=binary
        )
        self.redis.start()

    def _write_acl(self, selectors_supported: bool) -> Path:
        """Passwords generated once (0600 files), the ACL file rendered from them each start."""
        from driftloop_bus import acl  # the operator's side: services are installed here

        passwords = redis_users.ensure_passwords(self.state_dir, acl.USERS)
        content = acl.render(self.namespace, passwords, selectors_supported=selectors_supported)
        return redis_users.write_acl_file(self.state_dir, content)

    def _env(self, name: str) -> dict[str, str]:
        spec = self.specs[name]
        given = self.given_keys
        env = {k: v for k, v in os.environ.items() if k not in keys.ALL_VARIABLES}
        # Each service gets only the keys it needs (the trainer and the registry their own
        # private key, the others public keys).
        if given:
            env.update(keys.given_env(given, spec.name))
        else:
            env.update(self.key_files.env(spec.name))
        env.update(
            {
                "REDIS_URL": self.redis_url,
                "DRIFTLOOP_NAMESPACE": self.namespace,
                "DRIFTLOOP_STORE": str((self.state_dir / "store").resolve()),
                "INGEST_SCHEMA_DIR": str(self.schema_dir.resolve()),
                "REGISTRY_DB_PATH": str((self.state_dir / "registry.sqlite3").resolve()),
                "REGISTRY_ADMIN_TOKEN": self.admin_token,
                "TRAINER_ADMIN_TOKEN": self.admin_token,  # models trained elsewhere
                "PYTHONUNBUFFERED": "1",
                f"{spec.env_prefix}PORT": str(self.ports[name]),
            }
        )
        if "drift-monitor" in self.ports:  # report links on the port it listens on
            env.setdefault("MONITOR_PUBLIC_URL", self.url("drift-monitor"))
        if self.acl:
            user = spec.name
            env["REDIS_USERNAME"] = user
            env["REDIS_PASSWORD_FILE"] = str(
                redis_users.password_file(self.state_dir, user).resolve()
            )
            env.pop("REDIS_PASSWORD", None)
        if spec is CONSOLE:
            env.update(console_env(self.ports, self.admin_token, self.state_dir, acl=self.acl))
        env.update({k: v for k, v in self.extra_env.items() if k not in keys.ALL_VARIABLES})
        return env

    def _register_schemas(self) -> None:
        """The stack's own datasets, beside the user's seeds (their directory is theirs)."""
        if "ingest" not in self.specs:
            return
        for schema in self.schemas:
            body = {"schema": schema.model_dump(mode="json")}
            answer = httpx.post(f"{self.url('ingest')}/v1/datasets", json=body, timeout=30)
            if answer.status_code >= 400 and self.sink:
                self.sink("ingest", f"dataset {schema.name} not registered: {answer.text}")

    def _spawn(self, name: str) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", self.specs[name].module],
            env=self._env(name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        child = _Child(self.specs[name], self.ports[name], process, name)
        with self._lock:
            self.children[name] = child
        threading.Thread(target=self._pump, args=(child,), daemon=True).start()

    def _pump(self, child: _Child) -> None:
        assert child.process.stdout is not None
        for raw in child.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            child.tail.append(line)
            if self.sink:
                self.sink(child.name, line)

    def _supervisor(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                dead = [n for n, c in self.children.items() if c.process.poll() is not None]
                for name in dead:
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    if self.sink:
                        code = self.children[name].process.returncode
                        self.sink(name, f"exited with {code}; restarting")
                    self._spawn(name)

    def wait_healthy(self, timeout: float, names: Sequence[str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = set(names or self.children)
        with httpx.Client(timeout=2) as http:
            while pending:
                for name in sorted(pending):
                    child = self.children[name]
                    if child.process.poll() is not None and not self._supervise:
                        tail = "\n".join(child.tail)
                        raise RuntimeError(
                            f"{name} exited with {child.process.returncode}:\n{tail}"
                        )
                    try:
                        if http.get(f"http://127.0.0.1:{child.port}/healthz").status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise TimeoutError(f"not healthy after {timeout}s: {sorted(pending)}")
                if pending:
                    time.sleep(0.1)

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.process.poll() is not None and not self._supervise:
                raise RuntimeError(
                    f"{name} died ({child.process.returncode}):\n" + "\n".join(child.tail)
                )

    # --------------------------------------------------------------- fault control

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send a signal to one child (SIGKILL: no shutdown, no finally, like a lost node);
        waits for the exit of signals that end a process."""
        child = self.children[name]
        child.process.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            child.process.wait(30)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        with self._lock:
            child = self.children[name]
            if child.process.poll() is None:
                child.process.terminate()
                child.process.wait(30)
            self._spawn(name)
        self.wait_healthy(timeout, [name])

    def exited(self, name: str) -> int | None:
        return self.children[name].process.poll()

    def stop_redis(self) -> None:
        assert self.redis is not None, "only the embedded Redis can be stopped"
        self.redis.stop()

    def start_redis(self) -> None:
        assert self.redis is not None, "only the embedded Redis can be started"
        self.redis.start()

    # ---------------------------------------------------------------------- stop

    def stop(self, timeout: float = 20.0) -> None:
        self._stopping.set()
        with self._lock:
            children = list(self.children.values())
            self.children.clear()
        for child in children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self.redis:
            self.redis.stop()
            self.redis = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
