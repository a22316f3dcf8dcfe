"""`driftloop dlq`: dead letters per stream, one in full, and replay (as the `admin` user)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .cli_errors import fail
from .deadletters import AmbiguousEntry, DeadLetters
from .options import Namespace, RedisPassword, RedisUrl, RedisUsername, StateDir, redis_profile
from .redis_cli import refusals
from .shards import UnknownShard
from .tables import show, table

console = Console()
dlq_app = typer.Typer(help="Dead letters: list, inspect and replay.", invoke_without_command=True)


def _letters(
    redis_url: str | None,
    namespace: str | None,
    state_dir: Path | None,
    username: str | None,
    password: str | None,
) -> DeadLetters:
    profile = redis_profile(redis_url, namespace, state_dir, username, password)
    return DeadLetters(profile.streams("admin"))


Shard = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="The shard holding the entry (REDIS_SHARDS > 1; `driftloop dlq` shows it). "
        "Default: looked up in every shard.",
        show_default=False,
    ),
]


@contextmanager
def addressing() -> Iterator[None]:
    """An entry id two shards hold, or a shard that does not exist: one line saying so."""
    try:
        yield
    except AmbiguousEntry as exc:
        raise fail(f"{exc} with --shard (`driftloop dlq` shows each one's)") from None
    except UnknownShard as exc:
        raise fail(str(exc)) from None


@dlq_app.callback()
def dlq(
    ctx: typer.Context,
    stream: Annotated[
        str | None, typer.Option(help="Only this stream (e.g. data.ingested.v1).")
    ] = None,
    count: Annotated[int, typer.Option(help="Entries shown per stream.")] = 10,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """Dead letters per stream, with the newest entries and their errors."""
    if ctx.invoked_subcommand is not None:
        return
    letters = _letters(redis_url, namespace, state_dir, redis_username, redis_password)
    with refusals("admin"):
        try:
            names = [stream] if stream else [s for s, n in letters.counts().items() if n]
            if not names:
                console.print("no dead letters")
                return
            found = [x for name in names for x in letters.newest(name, count)]
            columns: tuple[str, ...] = ("stream", "entry", "group", "attempts", "failed at")
            rows: list[tuple[str, ...]] = [
                (x.stream, x.entry_id, x.group, str(x.attempts), x.failed_at[:19]) for x in found
            ]
            if letters.sharded:  # ids are per shard: show and replay need the shard
                columns = ("shard", *columns)
                rows = [(str(x.shard), *row) for x, row in zip(found, rows, strict=True)]
            columns += ("error",)
            rows = [(*row, x.error) for x, row in zip(found, rows, strict=True)]
            show(console, table("dead letters", columns, rows))
        finally:
            letters.close()


@dlq_app.command("show")
def dlq_show(
    stream: str,
    entry_id: str,
    shard: Shard = None,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """One dead letter: why it failed and the event as published."""
    letters = _letters(redis_url, namespace, state_dir, redis_username, redis_password)
    with refusals("admin"):
        try:
            with addressing():
                letter = letters.get(stream, entry_id, shard)
            if letter is None:
                console.print(f"[red]error[/] no dead letter {entry_id} for {stream}")
                raise typer.Exit(1)
            console.print_json(data=letter.summary())
            for name, value in letter.original.items():
                console.print(f"[bold]{name.decode()}[/]: {value.decode(errors='replace')}")
        finally:
            letters.close()


@dlq_app.command("replay")
def dlq_replay(
    stream: str,
    entry_ids: Annotated[list[str] | None, typer.Argument(help="Entries to replay.")] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
    shard: Shard = None,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """Publish dead letters again on their stream (fix the cause first)."""
    if not entry_ids and not all_entries:
        console.print("[red]error[/] name entry ids or pass --all")
        raise typer.Exit(2)
    letters = _letters(redis_url, namespace, state_dir, redis_username, redis_password)
    with refusals("admin"):
        try:
            with addressing():
                replayed = letters.replay(stream, entry_ids or None, shard)
            console.print(
                f"replayed {len(replayed)} dead letter(s) onto {stream.removesuffix('.dlq')}"
            )
            if kept := [x.entry_id for x in letters.newest(stream, 1_000_000) if x.truncated]:
                console.print(
                    f"[yellow]not replayed[/] {len(kept)} truncated dead letter(s) (the entry "
                    f"was over DRIFTLOOP_DLQ_PAYLOAD_BYTES; republish the event itself): "
                    f"{kept[:5]}"
                )
        finally:
            letters.close()
