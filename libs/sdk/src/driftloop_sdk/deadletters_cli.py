"""`driftloop dlq`: dead letters per stream, one in full, and replay (as the `admin` user)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .deadletters import DeadLetters
from .options import Namespace, RedisPassword, RedisUrl, RedisUsername, StateDir, redis_profile
from .redis_cli import refusals
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
    return DeadLetters(profile.redis_url, profile.namespace, profile.login("admin"))


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
            rows = [
                (x.stream, x.entry_id, x.group, str(x.attempts), x.failed_at[:19], x.error)
                for name in names
                for x in letters.newest(name, count)
            ]
            columns = ("stream", "entry", "group", "attempts", "failed at", "error")
            show(console, table("dead letters", columns, rows))
        finally:
            letters.close()


@dlq_app.command("show")
def dlq_show(
    stream: str,
    entry_id: str,
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
            letter = letters.get(stream, entry_id)
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
            replayed = letters.replay(stream, entry_ids or None)
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
