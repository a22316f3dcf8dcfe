"""`driftloop models trials D`: the dataset's live challenger trials, newest first, with the
evidence each was decided on (or has gathered so far); `--trial ID` prints one as JSON."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .client import DriftloopHTTPError
from .options import BasePort
from .options import client as profile_client

console = Console()
errors = Console(stderr=True)


def trials(
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    trial: Annotated[str | None, typer.Option(help="Show this trial whole (JSON).")] = None,
    base_port: BasePort = None,
) -> None:
    """Live challenger trials: who shadowed whom, the paired outcomes, the decision."""
    with profile_client(base_port) as client:
        try:
            if trial is not None:
                console.print_json(data=client.trial(dataset, trial))
                return
            rows = client.trials(dataset)
        except DriftloopHTTPError as exc:
            errors.print(f"[red]error[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from exc
    if not rows:
        console.print(f"no live trials for {dataset!r} yet")
        return
    console.print(table(dataset, rows))


def table(dataset: str, rows: list[dict[str, Any]]) -> Table:
    out = Table(title=f"live trials of {dataset}")
    for column in ("started", "challenger", "status", "pairs", "won / lost", "errors", "why"):
        out.add_column(column)
    for r in rows:
        e = r["evidence"]
        errors_ = (
            f"{e['champion_error']:.3f} -> {e['challenger_error']:.3f}"
            if e.get("champion_error") is not None
            else ""
        )
        out.add_row(
            r["started_at"][:19],
            f"v{r['model_version']} vs v{r['champion_version']}",
            r["status"] if r["stopped_by"] is None else f"{r['status']} ({r['stopped_by']})",
            str(e["pairs"]),
            f"{e['wins']} / {e['losses']}",
            errors_,
            r["reason"] or f"LLR {e['statistic']:.2f} in ({e['lower']:.2f}, {e['upper']:.2f})",
        )
    return out
