"""`driftloop events tail`: every stream (or some), one line per event, full ids; read-only."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from .cli_errors import fail
from .options import Namespace, RedisPassword, RedisUrl, RedisUsername, StateDir
from .options import redis_profile as load_profile
from .tail import Tail, UnknownStream, chosen

events_app = typer.Typer(help="The streams, read-only.", no_args_is_help=True)


@events_app.command("tail")
def tail(
    stream: Annotated[
        list[str] | None, typer.Option(help="Only this stream (repeat for more; .dlq too).")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Only events of this dataset.")] = None,
    last: Annotated[int, typer.Option(help="Show the last N events of each stream first.")] = 0,
    count: Annotated[
        int | None, typer.Option(help="Stop after this many events (default: follow).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: follow).")
    ] = None,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """Follow the streams (XREAD, no consumer group: nothing is taken from the services), one
    line per event: entry id, stream, type, event id, dataset, correlation, a summary.
    Ctrl-C stops."""
    profile = load_profile(redis_url, namespace, state_dir, redis_username, redis_password)
    try:
        names = chosen(stream or [])
    except UnknownStream as exc:
        raise fail(str(exc)) from None
    shards = profile.streams("admin")
    reader = Tail(shards, names)
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = 0
    try:
        backlog = reader.start(last)
        while count is None or shown < count:
            for line in backlog:
                if dataset is None or line.dataset == dataset:
                    typer.echo(line.render())
                    shown += 1
                    if count is not None and shown >= count:
                        return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            wait = 1.0 if left is None else min(left, 1.0)
            backlog = list(reader.follow(block_ms=max(1, int(wait * 1000))))
    except KeyboardInterrupt:
        return
    finally:
        shards.redis.close()
