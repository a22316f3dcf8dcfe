"""The `driftloop` command: run the stack, play the demo, publish, predict, manage models."""

from __future__ import annotations

import json
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import drift_cli, keys, local, status_cli, tables, train_cli, trials_cli
from .cli_errors import FriendlyGroup
from .client import DriftloopClient, DriftloopHTTPError
from .console_cli import console as console_command
from .datasets_cli import datasets_app
from .deadletters_cli import dlq_app
from .events_cli import events_app
from .options import BasePort
from .options import client as profile_client
from .publish_cli import publish_app
from .redis_cli import redis_app
from .register import PENDING, describe, wait_for_verdict
from .runner import Stack
from .scenario import CreditScenario

app = typer.Typer(
    cls=FriendlyGroup,
    help="driftloop: event-driven MLOps that closes the loop on drift. Settings come from "
    "options, then DRIFTLOOP_URL / REDIS_URL / DRIFTLOOP_ADMIN_TOKEN, then the profile that "
    "`driftloop up` writes (.driftloop/state/profile.toml, or DRIFTLOOP_PROFILE).",
    no_args_is_help=True,
)
models_app = typer.Typer(
    help="List, inspect, promote and roll back model versions.", invoke_without_command=True
)
app.add_typer(publish_app, name="publish")
app.add_typer(models_app, name="models")
app.add_typer(datasets_app, name="datasets")
app.add_typer(dlq_app, name="dlq")
app.add_typer(redis_app, name="redis")
app.add_typer(events_app, name="events")
app.command("status")(status_cli.status)
app.command("train")(train_cli.train)
app.command("drift")(drift_cli.drift)
app.command("console")(console_command)
console = Console(soft_wrap=True)  # long lines (ids, paths) are never broken

ClientToken = Annotated[
    str | None,
    typer.Option(
        envvar="DRIFTLOOP_CLIENT_TOKEN",
        help="Bearer token for ingest and the predictor, when the stack sets client tokens.",
    ),
]


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error (DRIFTLOOP_DEBUG=1).")
    ] = False,
) -> None:
    """driftloop: event-driven MLOps that closes the loop on drift."""
    ctx.obj = {"debug": debug}


def _client(
    base_port: int | None, token: str | None = None, client_token: str | None = None
) -> DriftloopClient:
    return profile_client(base_port, token, client_token)


def _fail(exc: DriftloopHTTPError) -> None:
    console.print(f"[red]error[/] {exc.message}")
    if exc.details:
        console.print_json(data=exc.details)
    raise typer.Exit(1)


@app.command()
def up(
    state_dir: Annotated[Path, typer.Option(help="Redis data, store, registry DB.")] = Path(
        ".driftloop/state"
    ),
    base_port: Annotated[int, typer.Option(help="Services listen on base+1 .. base+6.")] = 8000,
    redis_port: Annotated[int, typer.Option(help="Port of the embedded Redis.")] = 6390,
    with_demo_schema: Annotated[bool, typer.Option(help="Register the demo dataset.")] = True,
) -> None:
    """Start an embedded Redis (append-only) and the five services; Ctrl-C stops them all.
    Writes the profile the CLI reads (state folder, 0600) and the admin token, once."""
    schemas = (CreditScenario.schema,) if with_demo_schema else ()
    token, created = local.admin_token(state_dir)
    stack = Stack(
        state_dir,
        schemas=schemas,
        base_port=base_port,
        redis_port=redis_port,
        supervise=True,
        admin_token=token,
        console=True,  # the web console on base + 6
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with stack:
        profile = local.write_profile(stack, base_port)
        local.print_up(console, stack, profile, created)
        try:
            while not stop.wait(0.5):
                stack.check_alive()
        except KeyboardInterrupt:
            console.print("stopping...")


@app.command()
def demo(
    state_dir: Annotated[Path, typer.Option(help="Wiped and used for this run.")] = Path(
        ".driftloop/demo"
    ),
    seed: int = 7,
) -> None:
    """Play the whole loop on a generated dataset: v1, drift, retrain, v2."""
    from .demo import run_demo

    shutil.rmtree(state_dir, ignore_errors=True)
    ok = run_demo(state_dir, seed, console)
    raise typer.Exit(0 if ok else 1)


@app.command()
def predict(
    features: Annotated[str | None, typer.Option(help="One row as JSON.")] = None,
    file: Annotated[Path | None, typer.Option(help="JSON lines of feature rows.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="The dataset whose model answers (default: the predictor's).")
    ] = None,
    base_port: BasePort = None,
    client_token: ClientToken = None,
) -> None:
    """Ask the predictor for predictions."""
    if (features is None) == (file is None):
        console.print("[red]error[/] give either --features or --file")
        raise typer.Exit(2)
    with _client(base_port, client_token=client_token) as client:
        try:
            if features is not None:
                console.print_json(data=client.predict(json.loads(features), dataset))
            else:
                assert file is not None
                rows = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
                console.print_json(data=client.predict_batch(rows, dataset))
        except DriftloopHTTPError as exc:
            _fail(exc)


@models_app.callback()
def models(
    ctx: typer.Context,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    base_port: BasePort = None,
) -> None:
    """List model versions (default), or promote / roll back / show lineage."""
    if ctx.invoked_subcommand is not None:
        return
    with _client(base_port) as client:
        rows = client.models(dataset)
    columns = ("dataset", "version", "status", "trigger", "accuracy", "created", "run", "decision")
    shown = [
        (
            r["dataset"],
            str(r["version"]),
            r["status"],
            r["trigger"],
            f"{r['metrics']['accuracy']:.3f}",
            r["created_at"][:19],
            str(r.get("run_id", "")),
            (r.get("decision") or {}).get("reason", ""),
        )
        for r in rows
    ]
    tables.show(console, tables.table("model versions", columns, shown))


@models_app.command("lineage")
def lineage(dataset: str, version: int, base_port: BasePort = None) -> None:
    """Where a version came from: data versions, params, trigger, promotions."""
    with _client(base_port) as client:
        try:
            console.print_json(data=client.lineage(dataset, version))
        except DriftloopHTTPError as exc:
            _fail(exc)


models_app.command("trials")(trials_cli.trials)

Token = Annotated[
    str | None,
    typer.Option(
        envvar="REGISTRY_ADMIN_TOKEN",
        help="Admin token (default: DRIFTLOOP_ADMIN_TOKEN, else the state folder's).",
        show_default=False,
    ),
]


@models_app.command("promote")
def promote(dataset: str, version: int, token: Token = None, base_port: BasePort = None) -> None:
    """Serve this version now (an admin action, recorded as model.promoted)."""
    with _client(base_port, token) as client:
        try:
            console.print_json(data=client.promote(dataset, version))
        except DriftloopHTTPError as exc:
            _fail(exc)


@models_app.command("rollback")
def rollback(dataset: str, token: Token = None, base_port: BasePort = None) -> None:
    """Serve the previous champion again."""
    with _client(base_port, token) as client:
        try:
            console.print_json(data=client.rollback(dataset))
        except DriftloopHTTPError as exc:
            _fail(exc)


UploadToken = Annotated[
    str | None,
    typer.Option(
        envvar=["TRAINER_ADMIN_TOKEN", "REGISTRY_ADMIN_TOKEN"],
        help="The trainer's admin token (default: DRIFTLOOP_ADMIN_TOKEN, else the state "
        "folder's, which `driftloop up` writes).",
        show_default=False,
    ),
]


@models_app.command("register")
def register(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="A skops file of a fitted scikit-learn estimator or pipeline taking the "
            'schema\'s features in order (`skops.io.dump(model, "model.skops")`), or a '
            "driftloop artifact; joblib/pickle files only if the trainer allows them "
            "(TRAINER_ALLOW_PICKLE_UPLOADS).",
        ),
    ],
    dataset: Annotated[str, typer.Option(help="Dataset the model predicts.")],
    token: UploadToken = None,
    uploaded_by: Annotated[
        str, typer.Option(envvar="USER", help="Who uploads (kept in the lineage).")
    ] = "admin",
    wait: Annotated[float, typer.Option(help="Seconds to wait for the gate's verdict.")] = 60.0,
    base_port: BasePort = None,
) -> None:
    """Register a model trained elsewhere: the trainer checks it against the dataset's schema
    and evaluates it on the newest rows; the registry's gate then promotes or rejects it like
    a trained one. Exit 0 when promoted (or still waiting), 2 when rejected."""
    with _client(base_port, token) as client:
        try:
            accepted = client.register_model(dataset, file.read_bytes(), uploaded_by, file.name)
        except DriftloopHTTPError as exc:
            _fail(exc)
        metrics = accepted["metrics"]
        console.print(
            f"submitted: run {accepted['run_id']}, accuracy {metrics['accuracy']:.3f} on the "
            f"{metrics['rows']} newest rows (sha256 {accepted['file_sha256'][:12]})"
        )
        version = wait_for_verdict(client, dataset, accepted["run_id"], wait) if wait else None
    if version is None:
        console.print(
            f"the gate has not decided yet: follow it with `driftloop models --dataset {dataset}`"
        )
        raise typer.Exit(PENDING)
    line, code = describe(version)
    console.print(line)
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    sys.exit(app())


keys_app = typer.Typer(help="The signing keys of a deployment (Ed25519).")
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate(
    directory: Path,
    replace: Annotated[
        bool, typer.Option(help="Replace existing keys (every earlier decision then fails).")
    ] = False,
) -> None:
    """Write trainer.key/.pub and registry.key/.pub (base64 raw keys; private ones 0600)."""
    try:
        files = keys.generate(directory, replace=replace)
    except FileExistsError as exc:
        console.print(f"[red]error[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"signing keys written to {directory}; give each service only its own:")
    for service in ("trainer", "registry", "predictor", "drift-monitor"):
        for name, value in files.env(service).items():
            print(f"{service}: {name}={value}")
    console.print("(or the same names without _FILE, holding the key itself)")
