"""`driftloop datasets`: register a dataset (or evolve its schema), list and show them, and
infer a schema from a CSV for a person to edit. Errors are one line saying what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .client import DriftloopClient, DriftloopHTTPError, Endpoints
from .infer import InferError, infer

datasets_app = typer.Typer(
    help="Register datasets (or evolve their schema), list and show them, infer a schema.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)
BasePort = Annotated[int, typer.Option(help="Services listen on base+1 .. base+5.")]


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        _fail(f"no {what} file {path}")
    except (OSError, ValueError) as exc:
        _fail(f"{what} file {path} is not JSON: {exc}")
    if not isinstance(data, dict):
        _fail(f"{what} file {path} must hold a JSON object")
    return data


def _ask(base_port: int, call: str, *args: Any) -> Any:
    with DriftloopClient(Endpoints.from_base_port(base_port)) as client:
        try:
            return getattr(client, call)(*args)
        except DriftloopHTTPError as exc:
            _fail(exc.message)
        except httpx.TransportError as exc:
            _fail(f"ingest at {client.endpoints.ingest} is unreachable ({exc}); is the stack up?")


@datasets_app.command("add")
def add(
    schema: Annotated[Path, typer.Argument(help="DatasetSchema JSON (see `datasets infer`).")],
    training: Annotated[
        Path | None, typer.Option(help="TrainingSpec JSON: a family or an entry point.")
    ] = None,
    monitoring: Annotated[
        Path | None, typer.Option(help='Monitor overrides JSON, e.g. {"window_size": 300}.')
    ] = None,
    base_port: BasePort = 8000,
) -> None:
    """Register a dataset; registering it again with added features (each with a default)
    makes the next schema version."""
    body = _json_file(schema, "schema")
    if "schema" in body:  # a whole registration, as a seed file may hold
        body, training_spec, overrides = (
            body["schema"],
            body.get("training"),
            body.get("monitoring"),
        )
    else:
        training_spec, overrides = None, None
    if training is not None:
        training_spec = _json_file(training, "training")
    if monitoring is not None:
        overrides = _json_file(monitoring, "monitoring")
    out = _ask(base_port, "register_dataset", body, training_spec, overrides)
    if out["published"]:
        console.print(f"registered {out['dataset']} schema version {out['version']}")
    else:
        console.print(f"{out['dataset']} is registered so already (version {out['version']})")


@datasets_app.command("list")
def list_datasets(base_port: BasePort = 8000) -> None:
    """Every registered dataset with its schema version."""
    rows = _ask(base_port, "datasets")
    table = Table(title="datasets")
    for column in ("dataset", "version", "features", "target", "training", "registered"):
        table.add_column(column)
    for r in rows:
        target = r["schema"]["target"]
        training = r.get("training") or {}
        table.add_row(
            r["dataset"],
            str(r["version"]),
            str(len(r["schema"]["features"])),
            f"{target['name']} ({target.get('kind', 'classification')})",
            training.get("family") or training.get("entry_point") or "default",
            r["registered_at"][:19],
        )
    console.print(table)


@datasets_app.command("show")
def show(name: str, base_port: BasePort = 8000) -> None:
    """One dataset's registration: schema (with its version), training, monitoring."""
    console.print_json(data=_ask(base_port, "dataset", name))


@datasets_app.command("infer")
def infer_schema(
    file: Annotated[Path, typer.Argument(help="CSV with a header row.")],
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the file's).")] = None,
    target: Annotated[
        str | None, typer.Option(help="Target column (default: label/target/y/class, or last).")
    ] = None,
) -> None:
    """Print a proposed schema (JSON on stdout, notes on stderr): edit it, then `datasets add`."""
    try:
        proposal = infer(file, name, target)
    except InferError as exc:
        _fail(str(exc))
    print(json.dumps(proposal.schema, indent=2))
    for note in proposal.notes:
        errors.print(f"[yellow]note[/] {escape(note)}", highlight=False, soft_wrap=True)
