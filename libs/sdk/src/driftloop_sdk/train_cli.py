"""`driftloop train D`: ask the trainer for a run now (admin), and follow it to the gate."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from . import options
from .options import AdminToken, BasePort
from .register import PENDING, describe, wait_for_verdict

console = Console(soft_wrap=True)  # long lines (ids, paths) are never broken


def train(
    dataset: Annotated[str, typer.Argument(help="The dataset to train a model of.")],
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the run and the gate's verdict (0: none).")
    ] = 0.0,
    token: AdminToken = None,
    base_port: BasePort = None,
) -> None:
    """Start a training run of DATASET now on its newest rows; the registry's gate then judges
    the model like any other. Exit 0 when accepted (or promoted), 2 when the gate rejects it."""
    with options.client(base_port, token) as client:
        accepted = client.train(dataset)
        console.print(f"training run {accepted['run_id']} of {dataset} started", highlight=False)
        version = wait_for_verdict(client, dataset, accepted["run_id"], wait) if wait else None
    if version is None:
        console.print(
            f"follow it with `driftloop models --dataset {dataset}` (run {accepted['run_id']})",
            highlight=False,
        )
        raise typer.Exit(PENDING)
    line, code = describe(version)
    console.print(line)
    raise typer.Exit(code)
