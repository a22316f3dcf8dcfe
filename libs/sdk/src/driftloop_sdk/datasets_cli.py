"""`driftloop datasets`: register a dataset (or evolve its schema), list and show them, and
infer a schema from a CSV for a person to edit. Errors are one line saying what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from . import options, tables
from .infer import InferError, infer
from .options import BasePort

datasets_app = typer.Typer(
    help="Register datasets (or evolve their schema), list and show them, infer a schema.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)  # long lines (ids, paths) are never broken
errors = Console(stderr=True, soft_wrap=True)


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


def _ask(base_port: int | None, call: str, *args: Any) -> Any:
    """Ask ingest; a refusal or an absent service becomes one line (cli_errors)."""
    with options.client(base_port) as client:
        return getattr(client, call)(*args)


@datasets_app.command("add")
def add(
    schema: Annotated[Path, typer.Argument(help="DatasetSchema JSON (see `datasets infer`).")],
    training: Annotated[
        Path | None, typer.Option(help="TrainingSpec JSON: a family or an entry point.")
    ] = None,
    monitoring: Annotated[
        Path | None, typer.Option(help='Monitor overrides JSON, e.g. {"window_size": 300}.')
    ] = None,
    base_port: BasePort = None,
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
        console.print(
            f"next: `driftloop publish FILE.csv --dataset {out['dataset']}` (the first model "
            "trains once enough labelled rows are in)",
            highlight=False,
        )
    else:
        console.print(f"{out['dataset']} is registered so already (version {out['version']})")


@datasets_app.command("list")
def list_datasets(base_port: BasePort = None) -> None:
    """Every registered dataset with its schema version."""
    rows = _ask(base_port, "datasets")
    columns = ("dataset", "version", "features", "target", "training", "registered")
    tables.show(console, tables.table("datasets", columns, [_row(r) for r in rows]))


def _row(r: dict[str, Any]) -> tuple[str, ...]:
    target = r["schema"]["target"]
    training = r.get("training") or {}
    return (
        r["dataset"],
        str(r["version"]),
        str(len(r["schema"]["features"])),
        f"{target['name']} ({target.get('kind', 'classification')})",
        training.get("family") or training.get("entry_point") or "default",
        r["registered_at"][:19],
    )


@datasets_app.command("show")
def show(name: str, base_port: BasePort = None) -> None:
    """One dataset's registration: schema (with its version), training, monitoring."""
    console.print_json(data=_ask(base_port, "dataset", name))


@datasets_app.command("infer")
def infer_schema(
    file: Annotated[Path, typer.Argument(help="CSV with a header row.")],
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the file's).")] = None,
    target: Annotated[
        str | None, typer.Option(help="Target column (default: label/target/y/class, or last).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the schema here, not stdout.")
    ] = None,
) -> None:
    """Print a proposed schema (JSON on stdout, notes on stderr): edit it, then `datasets add`."""
    try:
        proposal = infer(file, name, target)
    except InferError as exc:
        _fail(str(exc))
    text = json.dumps(proposal.schema, indent=2)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n")
        errors.print(f"schema of {proposal.schema['name']} written to {output}", highlight=False)
    for note in proposal.notes:
        errors.print(f"[yellow]note[/] {escape(note)}", highlight=False, soft_wrap=True)
