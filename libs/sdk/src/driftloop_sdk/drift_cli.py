"""`driftloop drift D`: what the monitor watches of a dataset (windows, the last window's
tests, live accuracy) and its last drift events with report links built from the profile's
monitor URL (right for any port)."""

from __future__ import annotations

from typing import Annotated, Any

import redis.exceptions as redis_errors
import typer
from driftloop_contracts import DriftDetected, codec, streams
from driftloop_contracts.codec import MalformedEvent
from rich.console import Console

from . import tables
from .client import DriftloopClient, DriftloopHTTPError
from .options import BasePort, Namespace, RedisPassword, RedisUrl, RedisUsername, StateDir
from .options import redis_profile as load_profile
from .profile import Profile

console = Console(soft_wrap=True)  # long lines (ids, paths) are never broken


def drift(
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    events: Annotated[int, typer.Option(help="Last drift events shown.")] = 5,
    base_port: BasePort = None,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """The monitor's windows and tests of DATASET, live accuracy, and its last drift events
    with their report links."""
    profile = load_profile(
        redis_url, namespace, state_dir, redis_username, redis_password, base_port
    )
    with DriftloopClient(profile.endpoints) as client:
        try:
            watched = client.drift_of(dataset)
        except DriftloopHTTPError as exc:
            if exc.status != 404:
                raise
            console.print(f"{exc.message}: the monitor watches what the predictor serves")
            watched = None
        if watched is not None:
            versions(watched)
            last_window(watched)
        found = last_events(profile, dataset, events)
        if found:
            rows = [_event_row(client, e) for e in found]
            columns = ("detected", "kind", "model", "event id", "report")
            tables.show(console, tables.table(f"drift events of {dataset}", columns, rows))
        elif found is not None:
            console.print(f"no drift event of {dataset} yet", highlight=False)


def versions(watched: dict[str, Any]) -> None:
    rows = []
    for v in watched["versions"]:
        w, p = v["windows"], v["performance"]
        live = p.get("live_mae") if p.get("live_mae") is not None else p.get("live_accuracy")
        baseline = (
            p.get("reference_mae") if p.get("reference_mae") is not None else p["baseline_accuracy"]
        )
        measure = "mae" if p.get("live_mae") is not None else "accuracy"
        rows.append(
            (
                f"v{v['model_version']}",
                v["promoted_at"][:19],
                f"{w['filling']}/{w['size']} (tested {w['tested']})",
                f"{measure} {_num(live)} vs {_num(baseline)} ({p['labels']} labels)",
                ", ".join(v["fired"]) or "-",
            )
        )
    columns = ("version", "promoted", "window", "live vs promoted", "drift fired")
    tables.show(console, tables.table(f"watched versions of {watched['dataset']}", columns, rows))


def last_window(watched: dict[str, Any]) -> None:
    if not watched["versions"]:
        return
    newest = watched["versions"][0]
    rows = [
        (
            kind,
            t["feature"],
            t["test"],
            _num(t.get("p_value")),
            _num(t.get("effect")),
            "drift" if t["drifted"] else "",
        )
        for kind, tests in newest["windows"]["last"].items()
        for t in tests
    ]
    if rows:
        columns = ("kind", "feature", "test", "p-value", "effect", "")
        title = f"last window of v{newest['model_version']}"
        tables.show(console, tables.table(title, columns, rows))


def last_events(profile: Profile, dataset: str, count: int) -> list[DriftDetected] | None:
    """The dataset's newest drift events (None: the stream cannot be read with this login)."""
    try:
        shards = profile.streams("admin")
        try:
            entries = shards.newest(streams.DRIFT_DETECTED.name, 500)
        finally:
            shards.redis.close()
    except redis_errors.RedisError as exc:
        console.print(f"drift events not readable ({exc})", highlight=False)
        return None
    found: list[DriftDetected] = []
    for entry in entries:
        try:
            event = codec.decode(entry.fields, streams.DRIFT_DETECTED)
        except MalformedEvent:
            continue
        if event.dataset == dataset:
            found.append(event)
        if len(found) >= count:
            break
    return found


def _event_row(client: DriftloopClient, event: DriftDetected) -> tuple[str, ...]:
    return (
        event.occurred_at.isoformat()[:19],
        event.kind,
        f"v{event.model_version}",
        str(event.event_id),
        client.report_url(str(event.event_id)),
    )


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
