"""`driftloop console`: serve the web console for a stack that runs already (`driftloop up`
starts one itself on the base port + 6). It reads the services over HTTP, at the profile's
endpoints, and the streams as the state folder's read-only `console` Redis user."""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Annotated
from urllib.parse import urlparse

import typer

from . import redis_users
from .console_stack import URL_SETTINGS
from .options import BasePort, Namespace, RedisUrl, StateDir
from .profile import Options, Profile

AdminToken = Annotated[
    str | None,
    typer.Option(
        envvar="DRIFTLOOP_ADMIN_TOKEN",
        help="The registry's admin token (default: the state folder's): only its SHA-256 "
        "reaches the console, to check an operator's token before a dead-letter replay.",
    ),
]


def console(
    base_port: BasePort = None,
    port: Annotated[int | None, typer.Option(help="The console's port (default base + 6).")] = None,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    admin_token: AdminToken = None,
) -> None:
    """Serve the web console: datasets, versions and lineage, drift, events, dead letters."""
    profile = Profile.load(
        Options(
            base_port=base_port,
            redis_url=redis_url,
            namespace=namespace,
            state_dir=state_dir,
            admin_token=admin_token,
        )
    )
    urls = profile.endpoints
    by_service = {
        "ingest": urls.ingest,
        "trainer": urls.trainer,
        "registry": urls.registry,
        "predictor": urls.predictor,
        "drift-monitor": urls.monitor,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.update({setting: by_service[service] for service, setting in URL_SETTINGS.items()})
    env.update(profile.layout.env())  # shards, cluster or sentinels, as the CLI reads them
    env.update(
        REDIS_URL=profile.redis_url,
        DRIFTLOOP_NAMESPACE=profile.namespace,
        CONSOLE_PORT=str(port or urlparse(urls.console).port or 8006),
    )
    own = redis_users.password_file(profile.state_dir, "console")
    if own.is_file():
        env.pop("REDIS_PASSWORD", None)
        env.update(REDIS_USERNAME="console", REDIS_PASSWORD_FILE=str(own.resolve()))
    replay = redis_users.password_file(profile.state_dir, "console-admin")
    if profile.admin_token and replay.is_file():
        env["CONSOLE_ADMIN_TOKEN_SHA256"] = hashlib.sha256(profile.admin_token.encode()).hexdigest()
        env["CONSOLE_REPLAY_USERNAME"] = "console-admin"
        env["CONSOLE_REPLAY_PASSWORD_FILE"] = str(replay.resolve())
    typer.echo(f"console on http://127.0.0.1:{env['CONSOLE_PORT']} (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execvpe(sys.executable, [sys.executable, "-m", "driftloop_console"], env)


__all__ = ["console"]
