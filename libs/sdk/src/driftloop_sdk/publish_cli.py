"""`driftloop publish FILE`: send labelled rows to ingest over the stream with a progress bar,
then wait for ingest's verdict on them and print accepted and rejected rows with the first
reasons. `driftloop publish labels FILE` sends true labels of earlier predictions.

What can be known wrong before publishing is said then (an unknown dataset, a label column
the file lacks, columns that are not features), from ingest's registration of the dataset.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import redis.exceptions as redis_errors
import typer
from driftloop_contracts import RecordsSubmitted, streams
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from . import outcome, records_file
from .cli_errors import errors, fail
from .client import DriftloopClient, DriftloopHTTPError
from .options import BasePort, Namespace, RedisPassword, RedisUrl, RedisUsername, StateDir
from .options import redis_profile as load_profile
from .profile import Profile
from .publisher import EventPublisher
from .records_file import RecordsFileError
from .redis_cli import refusals

#: Exit codes: all rows accepted; some rejected; their outcome not known by the deadline.
ACCEPTED, SOME_REJECTED, UNKNOWN = 0, 2, 3
BATCH = 500


class RecordsByDefault(TyperGroup):
    """`driftloop publish FILE ...` means `driftloop publish records FILE ...`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["records", *args]
        return super().parse_args(ctx, args)


publish_app = typer.Typer(
    cls=RecordsByDefault,
    help="Publish labelled rows (`publish FILE --dataset D`) or true labels (`publish labels`).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)  # long lines (ids, paths) are never broken


@publish_app.command("records")
def publish_records(
    file: Annotated[Path, typer.Argument(help="CSV with a header, or JSON lines of records.")],
    dataset: Annotated[
        str | None, typer.Option(help="Dataset the rows belong to (default: the file's name).")
    ] = None,
    label_column: Annotated[
        str | None,
        typer.Option(help="CSV column holding the label (default: the dataset's target)."),
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for ingest's verdict on the rows (0: none).")
    ] = 60.0,
    base_port: BasePort = None,
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """Send labelled rows to ingest.records.v1; then say how many ingest accepted and why it
    rejected the others. Exit 0: all accepted; 2: some rejected; 3: not known in time."""
    profile = load_profile(
        redis_url, namespace, state_dir, redis_username, redis_password, base_port
    )
    name = dataset or file.stem
    registration = registered(profile, name)
    label = records_file.label_column(label_column, registration)
    try:
        rows = records_file.read(file, label)
        if registration is not None:
            records_file.check_columns(rows, label, name, registration)
    except RecordsFileError as exc:
        raise fail(str(exc)) from None
    tally, readable = send(profile, name, rows.records, wait)
    raise typer.Exit(report(tally, name, wait) if readable else ACCEPTED)


def registered(profile: Profile, dataset: str) -> dict[str, Any] | None:
    """The dataset's registration from ingest; an unknown dataset stops the command. None:
    ingest is not reachable (the rows are then published unchecked, with a warning)."""
    with DriftloopClient(profile.endpoints) as client:
        try:
            return client.dataset(dataset)
        except DriftloopHTTPError as exc:
            if exc.status == 404:
                raise fail(
                    f"unknown dataset {dataset!r}: register it first (`driftloop datasets infer "
                    f"FILE.csv -o schema.json`, then `driftloop datasets add schema.json`), or "
                    f"name another with --dataset. Ingest said: {exc.message}"
                ) from None
            raise
        except Exception as exc:  # transport errors: publishing goes through Redis anyway
            errors.print(
                f"[yellow]warning[/] ingest at {profile.endpoints.ingest} did not answer "
                f"({type(exc).__name__}): publishing unchecked",
                highlight=False,
                soft_wrap=True,
            )
            return None


def send(
    profile: Profile, dataset: str, records: list[dict[str, Any]], wait: float
) -> tuple[outcome.Tally, bool]:
    """Publish in events of BATCH rows under one correlation id; then wait for the outcome."""
    batch = uuid.uuid4()
    publisher = publisher_of(profile)
    reader = outcome.OutcomeReader(profile.streams("admin"))
    offsets: dict[uuid.UUID, int] = {}
    try:
        readable = mark(reader, wait)
        with progress_bar() as bar, refusals("client"):
            task = bar.add_task("published", total=len(records))
            for start in range(0, len(records), BATCH):
                chunk = records[start : start + BATCH]
                event = RecordsSubmitted(
                    producer="cli", dataset=dataset, records=tuple(chunk), correlation_id=batch
                )
                publisher.publish(streams.INGEST_RECORDS, event)
                offsets[event.event_id] = start
                bar.advance(task, len(chunk))
        tally = outcome.Tally(batch, len(records), offsets)
        console.print(
            f"published {len(records)} rows of {dataset} in {len(offsets)} events (batch {batch})",
            highlight=False,
        )
        if readable:
            with progress_bar() as bar:
                task = bar.add_task("ingest's verdict", total=len(records))
                outcome.wait(tally, reader, wait, lambda t: bar.update(task, completed=t.known))
        return tally, readable
    finally:
        publisher.close()
        reader.streams.redis.close()


def mark(reader: outcome.OutcomeReader, wait: float) -> bool:
    """Whether the outcome can be read (the login may read ingest's outcome streams)."""
    if wait <= 0:
        return False
    try:
        reader.mark()
    except redis_errors.ConnectionError:
        raise  # no Redis: nothing can be published either (one line, cli_errors)
    except Exception as exc:  # a refusal (NOPERM) or no Redis: say so, still publish
        errors.print(
            f"[yellow]note[/] ingest's verdict cannot be read with this Redis login ({exc}); "
            "`driftloop events tail --stream data.rejected.v1` as admin shows rejections",
            highlight=False,
            soft_wrap=True,
        )
        return False
    return True


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def report(tally: outcome.Tally, dataset: str, wait: float) -> int:
    line = f"accepted {tally.accepted} rows, rejected {tally.rejected}"
    if not tally.done:
        line += f"; {tally.total - tally.known} not known after {wait:g}s (is ingest running?)"
    console.print(line, highlight=False)
    for number, reason in tally.reasons:
        console.print(f"  row {number}: {reason}", highlight=False, soft_wrap=True)
    if tally.rejected > len(tally.reasons):
        console.print(f"  ... and {tally.rejected - len(tally.reasons)} more", highlight=False)
    if tally.accepted:
        console.print(
            f"next: `driftloop status` shows when a model serves {dataset}; "
            f"`driftloop train {dataset}` trains one now",
            highlight=False,
        )
    if not tally.done:
        return UNKNOWN
    return SOME_REJECTED if tally.rejected else ACCEPTED


def publisher_of(profile: Profile) -> EventPublisher:
    """Publishes as the `client` user into the shard each event belongs to."""
    return EventPublisher(
        profile.redis_url,
        namespace=profile.namespace,
        shards=profile.layout.shards,
        redis=profile.connect("client"),
    )


@publish_app.command("labels")
def publish_labels(
    file: Annotated[Path, typer.Argument(help='JSON lines: {"prediction_id": ..., "label": ...}')],
    redis_url: RedisUrl = None,
    namespace: Namespace = None,
    state_dir: StateDir = None,
    redis_username: RedisUsername = None,
    redis_password: RedisPassword = None,
) -> None:
    """Send true labels for earlier predictions to feedback.received.v1."""
    profile = load_profile(redis_url, namespace, state_dir, redis_username, redis_password)
    labels = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    publisher = publisher_of(profile)
    with refusals("client"):
        event = publisher.send_labels(labels)
    console.print(f"published {len(labels)} labels as event {event.event_id}")
