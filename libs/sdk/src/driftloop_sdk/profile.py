"""Where the CLI finds the stack: command-line options, then the environment, then a profile
file, then the defaults of a local `driftloop up`.

- `DRIFTLOOP_URL` is the base URL (its port is the base port: ingest on base+1 ... the console
  on base+6); `DRIFTLOOP_<SERVICE>_URL` overrides one service.
- `REDIS_URL`, `REDIS_USERNAME`, `REDIS_PASSWORD`: the Redis holding the streams, and a login.
- `REDIS_SHARDS`, `REDIS_CLUSTER`, `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS`,
  `REDIS_SENTINEL_MASTER`: how that Redis is laid out, as the services are told (layout.py).
- `DRIFTLOOP_ADMIN_TOKEN`: the admin token (else the state folder's `admin.token`).
- The profile file is `DRIFTLOOP_PROFILE`, else `./.driftloop/profile.toml`, else the default
  state folder's `./.driftloop/state/profile.toml` (what `driftloop up` writes, 0600).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis import Redis

from . import redis_users
from .client import Endpoints
from .layout import Layout, LayoutError
from .layout import from_settings as layout_from
from .redis_users import RedisLogin
from .shards import StreamSet

DEFAULT_STATE = Path(".driftloop/state")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6390/0"
PROFILE_FILE = "profile.toml"
TOKEN_FILE = "admin.token"
SERVICES = ("ingest", "trainer", "registry", "predictor", "monitor", "console")
SEARCHED = (Path(".driftloop") / PROFILE_FILE, DEFAULT_STATE / PROFILE_FILE)


class ProfileError(ValueError):
    """A profile file or a URL that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Options:
    """What the command line gave (None: not given)."""

    base_port: int | None = None
    url: str | None = None
    redis_url: str | None = None
    redis_username: str | None = None
    redis_password: str | None = None
    admin_token: str | None = None
    state_dir: Path | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class Profile:
    endpoints: Endpoints
    redis_url: str
    state_dir: Path
    namespace: str = ""
    #: The login given (options, environment, profile); None: the state folder's per user.
    given_login: RedisLogin | None = None
    admin_token: str | None = None
    source: str = "defaults"
    extra: Mapping[str, Any] = field(default_factory=dict)
    layout: Layout = field(default_factory=Layout)

    @property
    def redis_login(self) -> RedisLogin:
        """The login given, else the state folder's `admin`, else the default user."""
        return self.login("admin")

    def login(self, user: str) -> RedisLogin:
        """The login given, else the state folder's login of `user` (client, admin)."""
        if self.given_login is not None:
            return self.given_login
        return redis_users.stored_login(self.state_dir, user) or RedisLogin()

    def connect(self, user: str = "admin") -> Redis:
        """A Redis client as `user` that reaches every shard of the stack's streams."""
        return self.layout.connect(self.redis_url, self.login(user))

    def streams(self, user: str = "admin") -> StreamSet:
        """Every shard of the stack's streams, read as `user`."""
        return StreamSet(self.connect(user), self.layout.keys)

    @classmethod
    def load(cls, options: Options | None = None, env: Mapping[str, str] | None = None) -> Profile:
        return resolve(options or Options(), os.environ if env is None else env)


def resolve(options: Options, env: Mapping[str, str]) -> Profile:
    path = profile_path(env)
    stored = read_file(path) if path is not None else {}
    state_dir = Path(
        _first(options.state_dir, env.get("DRIFTLOOP_STATE_DIR"), stored.get("state_dir"))
        or DEFAULT_STATE
    )
    namespace = (
        _first(options.namespace, env.get("DRIFTLOOP_NAMESPACE"), stored.get("namespace")) or ""
    )
    try:
        layout = layout_from(namespace, env, stored)
    except LayoutError as exc:
        raise ProfileError(str(exc)) from None
    return Profile(
        endpoints=endpoints(options, env, stored),
        redis_url=_first(options.redis_url, env.get("REDIS_URL"), stored.get("redis_url"))
        or DEFAULT_REDIS_URL,
        state_dir=state_dir,
        namespace=namespace,
        given_login=given_login(options, env, stored),
        admin_token=_first(options.admin_token, env.get("DRIFTLOOP_ADMIN_TOKEN"))
        or stored_token(stored, state_dir),
        source=str(path) if path is not None else "defaults",
        extra=stored,
        layout=layout,
    )


def endpoints(options: Options, env: Mapping[str, str], stored: Mapping[str, Any]) -> Endpoints:
    """Each service's URL: the base port or URL given, else a per-service variable, else
    DRIFTLOOP_URL, else the profile's (per-service, then base), else http://127.0.0.1:8000."""
    if options.base_port is not None:
        return Endpoints.from_base_port(options.base_port)
    if options.url is not None:
        return from_base_url(options.url)
    per_service: Mapping[str, Any] = stored.get("endpoints") or {}
    base = from_base_url(env.get("DRIFTLOOP_URL") or stored.get("url") or DEFAULT_BASE_URL)
    urls: dict[str, str] = {}
    for name in SERVICES:
        variable = f"DRIFTLOOP_{name.upper()}_URL"
        chosen = env.get(variable) or (None if env.get("DRIFTLOOP_URL") else per_service.get(name))
        urls[name] = (chosen or getattr(base, name)).rstrip("/")
    return Endpoints(**urls)


def from_base_url(url: str) -> Endpoints:
    """http://host:8000 -> ingest http://host:8001 ... console http://host:8006."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ProfileError(
            f"DRIFTLOOP_URL {url!r} needs a host and the base port, e.g. http://127.0.0.1:8000 "
            "(services listen on base+1 .. base+6)"
        )
    return Endpoints.from_base_port(port, host=parts.hostname, scheme=parts.scheme or "http")


def given_login(
    options: Options, env: Mapping[str, str], stored: Mapping[str, Any]
) -> RedisLogin | None:
    username = _first(options.redis_username, env.get("REDIS_USERNAME"), stored.get("redis_user"))
    password = _first(options.redis_password, env.get("REDIS_PASSWORD"))
    if password is None and (file := stored.get("redis_password_file")):
        password = _read(Path(file))
    if username is None and password is None:
        return None
    return RedisLogin(username, password)


def stored_token(stored: Mapping[str, Any], state_dir: Path) -> str | None:
    file = stored.get("admin_token_file")
    return _read(Path(file)) if file else _read(state_dir / TOKEN_FILE)


def profile_path(env: Mapping[str, str]) -> Path | None:
    named = env.get("DRIFTLOOP_PROFILE")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ProfileError(f"DRIFTLOOP_PROFILE names {path}, which is not a file")
        return path
    return next((p for p in SEARCHED if p.is_file()), None)


def read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"profile {path} cannot be read ({exc}): fix or delete it") from None


def write_file(path: Path, values: Mapping[str, str | Mapping[str, str]]) -> Path:
    """Write a profile (0600): strings and one level of tables, as TOML."""
    lines = ["# written by `driftloop up`; the CLI reads it (options and variables win)"]
    tables = {k: v for k, v in values.items() if isinstance(v, Mapping)}
    lines += [f"{k} = {json.dumps(v)}" for k, v in values.items() if isinstance(v, str)]
    for name, table in tables.items():
        lines += ["", f"[{name}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    redis_users.write_private(path, "\n".join(lines) + "\n")
    return path


def ensure_admin_token(state_dir: Path, make: Any) -> tuple[str, bool]:
    """The state folder's admin token (0600), created once with `make()`: (token, created)."""
    path = state_dir / TOKEN_FILE
    if (existing := _read(path)) is not None:
        return existing, False
    state_dir.mkdir(parents=True, exist_ok=True)
    token = str(make())
    redis_users.write_private(path, token + "\n")
    return token, True


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None and v != ""), None)
