"""The options every command shares, and the profile they resolve to (profile.py).

None means "not given": the environment, then the profile file, then the defaults decide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .client import DriftloopClient
from .profile import Options, Profile

BasePort = Annotated[
    int | None,
    typer.Option(
        help="Services listen on base+1 .. base+6 (default: DRIFTLOOP_URL, the profile, 8000)."
    ),
]
RedisUrl = Annotated[
    str | None,
    typer.Option(
        help="Redis holding the streams, its address only (default: REDIS_URL, the profile, "
        "redis://127.0.0.1:6390/0).",
        show_default=False,
    ),
]
Namespace = Annotated[
    str | None, typer.Option(help="Stream prefix (default: DRIFTLOOP_NAMESPACE, the profile).")
]
RedisUsername = Annotated[
    str | None,
    typer.Option(
        "--redis-username",
        help="Redis ACL user (default: REDIS_USERNAME, else the state folder's client or admin).",
    ),
]
RedisPassword = Annotated[
    str | None,
    typer.Option(
        "--redis-password", help="Its password (default: REDIS_PASSWORD).", show_default=False
    ),
]
StateDir = Annotated[
    Path | None,
    typer.Option(
        help="The `driftloop up` state folder holding the Redis logins and the admin token "
        "(default: the profile's, .driftloop/state)."
    ),
]
AdminToken = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Admin token (default: DRIFTLOOP_ADMIN_TOKEN, else the state folder's).",
        show_default=False,
    ),
]


def http_profile(base_port: int | None = None, token: str | None = None) -> Profile:
    return Profile.load(Options(base_port=base_port, admin_token=token))


def redis_profile(
    redis_url: str | None,
    namespace: str | None,
    state_dir: Path | None,
    username: str | None,
    password: str | None,
    base_port: int | None = None,
) -> Profile:
    return Profile.load(
        Options(
            base_port=base_port,
            redis_url=redis_url,
            namespace=namespace,
            state_dir=state_dir,
            redis_username=username,
            redis_password=password,
        )
    )


def client(
    base_port: int | None = None, token: str | None = None, client_token: str | None = None
) -> DriftloopClient:
    """An HTTP client on the profile's endpoints, with its admin token."""
    profile = http_profile(base_port, token)
    return DriftloopClient(
        profile.endpoints, admin_token=profile.admin_token, client_token=client_token
    )
