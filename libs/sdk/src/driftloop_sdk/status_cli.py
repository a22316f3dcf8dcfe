"""`driftloop status`: which services answer (with their URLs), the datasets with their
champion and live accuracy, and the consumer groups behind or with dead letters."""

from __future__ import annotations

from typing import Any

import httpx
import redis.exceptions as redis_errors
import typer
from rich.console import Console

from . import lag, tables
from .client import DriftloopClient, DriftloopHTTPError
from .options import BasePort, Namespace, RedisPassword, RedisUrl, RedisUsername, StateDir
from .options import redis_profile as load_profile
from .profile import Profile
from .shards import StreamSet

console = Console(soft_wrap=True)  # long lines (ids, paths) are never broken


def status(
    base_port: BasePort = None,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """Services up or down, datasets with their champion, lag and dead letters.
    Exit 1 when a service of the loop (not the console) is down."""
    profile = load_profile(
        redis_url, namespace, state_dir, redis_username, redis_password, base_port
    )
    with DriftloopClient(profile.endpoints, admin_token=profile.admin_token) as client:
        up = services(client)
        if not any(up.values()):
            console.print(
                "nothing answers: is `driftloop up` running? set DRIFTLOOP_URL or --base-port",
                highlight=False,
            )
        datasets(client, up)
    streams_behind(profile)
    console.print(f"settings from: {profile.source}", highlight=False, style="dim")
    if not all(ok for name, ok in up.items() if name != "console"):
        raise typer.Exit(1)


def services(client: DriftloopClient) -> dict[str, bool]:
    up: dict[str, bool] = {}
    rows = []
    for name, url in client.endpoints.by_service().items():
        try:
            health = client.health(url)
            up[name] = bool(health["ok"])
            state = "up" if up[name] else f"unhealthy (stopped: {health.get('stopped')})"
        except httpx.HTTPError:
            up[name] = False
            state = "down"
        rows.append((name, url, state))
    tables.show(console, tables.table("services", ("service", "url", "state"), rows))
    return up


def datasets(client: DriftloopClient, up: dict[str, bool]) -> None:
    if not up.get("ingest"):
        console.print("datasets: ingest is down", highlight=False)
        return
    registered = client.datasets()
    champions = _champions(client) if up.get("registry") else {}
    live = _live(client) if up.get("drift-monitor") else {}
    rows = [
        (
            r["dataset"],
            str(r["version"]),
            champions.get(r["dataset"], "none yet"),
            live.get(r["dataset"], "-"),
        )
        for r in registered
    ]
    columns = ("dataset", "schema", "champion", "live accuracy (labels)")
    tables.show(console, tables.table("datasets", columns, rows))


def _champions(client: DriftloopClient) -> dict[str, str]:
    out: dict[str, str] = {}
    for version in client.models():
        if version["status"] == "champion":
            out[version["dataset"]] = f"v{version['version']} ({version['trigger']})"
    return out


def _live(client: DriftloopClient) -> dict[str, str]:
    try:
        watched: dict[str, Any] = client.drift_status()["datasets"]
    except DriftloopHTTPError:
        return {}
    out: dict[str, str] = {}
    for name, status in watched.items():
        if not status["versions"]:
            continue
        performance = status["versions"][0]["performance"]
        accuracy = performance.get("live_accuracy")
        shown = "-" if accuracy is None else f"{accuracy:.3f}"
        out[name] = f"{shown} ({performance['labels']})"
    return out


def streams_behind(profile: Profile) -> None:
    shards: StreamSet | None = None
    try:
        shards = profile.streams("admin")
        found = lag.groups(shards)
    except (redis_errors.ConnectionError, redis_errors.TimeoutError):
        console.print(f"redis: no answer at {profile.redis_url}", highlight=False)
        return
    except redis_errors.RedisError as exc:
        console.print(f"redis: lag not readable with this login ({exc})", highlight=False)
        return
    finally:
        if shards is not None:
            shards.redis.close()
    behind = [g for g in found if g.behind]
    if not behind:
        console.print(
            f"streams: {len(found)} consumer groups, none behind, no dead letters", highlight=False
        )
        return
    rows = [
        (
            g.stream,
            g.group,
            "?" if g.lag is None else str(g.lag),
            str(g.pending),
            str(g.dead_letters),
        )
        for g in behind
    ]
    columns = ("stream", "group", "lag", "pending", "dead letters")
    tables.show(console, tables.table("consumer groups behind", columns, rows))
    if any(g.dead_letters for g in behind):
        console.print("dead letters: `driftloop dlq` lists them, `driftloop dlq show` shows one")
