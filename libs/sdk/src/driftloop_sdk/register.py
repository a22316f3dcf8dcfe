"""`driftloop models register`: upload a model trained elsewhere and report the gate's verdict."""

from __future__ import annotations

import time
from typing import Any

from .client import DriftloopClient

#: Exit codes: the outcome, for scripts.
PROMOTED, REJECTED, PENDING = 0, 2, 0


def verdict(client: DriftloopClient, dataset: str, run_id: str) -> dict[str, Any] | None:
    """The registry's version for this run once decided (and its promotion applied)."""
    for version in client.models(dataset):
        if version["run_id"] == run_id and version["status"] != "candidate":
            return version
    return None


def wait_for_verdict(
    client: DriftloopClient, dataset: str, run_id: str, timeout: float
) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while True:
        found = verdict(client, dataset, run_id)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(0.25)  # a poll step of a command-line wait, bounded by the deadline


def describe(version: dict[str, Any]) -> tuple[str, int]:
    """One line for the outcome, and the exit code."""
    number, reason = version["version"], (version.get("decision") or {}).get("reason", "")
    if version["status"] in ("champion", "retired"):
        return f"[green]promoted[/]: version {number} serves ({reason})", PROMOTED
    return f"[yellow]rejected[/]: version {number} kept out by the gate: {reason}", REJECTED
