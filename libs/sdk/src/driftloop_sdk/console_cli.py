"""`driftloop console`: serve the web console for a stack that runs already (`driftloop up`
starts one itself on the base port + 6). It reads the services over HTTP and the streams as
the state folder's read-only `console` Redis user."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from . import redis_users
from .console_stack import OFFSET, URL_SETTINGS, console_env
from .redis_cli import DEFAULT_STATE, Namespace, RedisUrl, StateDir

AdminToken = Annotated[
    str | None,
    typer.Option(
        envvar="DRIFTLOOP_ADMIN_TOKEN",
        help="The registry's admin token: only its SHA-256 reaches the console, to check an "
        "operator's token before a dead-letter replay (unset: replay is disabled).",
    ),
]


def console(
    base_port: Annotated[
        int, typer.Option(help="The stack's base port (services on +1..+5).")
    ] = 8000,
    port: Annotated[int | None, typer.Option(help="The console's port (default base + 6).")] = None,
    redis_url: RedisUrl = "redis://127.0.0.1:6390/0",
    namespace: Namespace = "",
    state_dir: StateDir = DEFAULT_STATE,
    admin_token: AdminToken = None,
) -> None:
    """Serve the web console: datasets, versions and lineage, drift, events, dead letters."""
    ports = {service: base_port + i for i, service in enumerate(URL_SETTINGS, start=1)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.update(
        {
            "REDIS_URL": redis_url,
            "DRIFTLOOP_NAMESPACE": namespace,
            "CONSOLE_PORT": str(port or base_port + OFFSET),
        }
    )
    env.update(console_env(ports, admin_token or "", state_dir, acl=False))
    own = redis_users.password_file(state_dir, "console")
    if own.is_file():
        env.pop("REDIS_PASSWORD", None)
        env.update(REDIS_USERNAME="console", REDIS_PASSWORD_FILE=str(own.resolve()))
    replay = redis_users.password_file(state_dir, "console-admin")
    if admin_token and replay.is_file():
        env.update(console_env(ports, admin_token, state_dir, acl=True))
    else:
        env.pop("CONSOLE_ADMIN_TOKEN_SHA256")
    typer.echo(f"console on http://127.0.0.1:{env['CONSOLE_PORT']} (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execvpe(sys.executable, [sys.executable, "-m", "driftloop_console"], env)


__all__ = ["console"]
