"""The drift benchmark's command line and table (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from driftloop_sdk.embedded_redis import EmbeddedRedis
from rich.console import Console
from rich.table import Table

from .run import Outcome, run
from .scenarios import ONSET, SCENARIOS

COLUMNS = (
    "scenario",
    "family",
    "label delay",
    "drift events (kind@row)",
    "delay rows",
    "false alarms",
    "acc before",
    "acc after (served)",
    "after, never replaced",
    "last 5k served",
    "last 5k never replaced",
    "last 5k post-drift model",
    "done?",
    "promoted (at row)",
    "skipped",
    "live trials",
    "fit s",
)


def verdict(o: Outcome) -> str:
    """The issue's Done-when for one scenario: no false alarm; after drift at least the
    never-replaced champion and within 1 point of a model trained on post-drift rows only."""
    misses = []
    if o.false_alarms:
        misses.append("false alarm")
    if o.onset is not None:
        if o.accuracy_after < o.never_replaced_after:
            misses.append("below v1")
        post = o.final_post_drift_model
        if post is not None and o.final_served < post - 0.01:
            misses.append(f"{post - o.final_served:.3f} under post-drift model")
    return "yes" if not misses else "no: " + "; ".join(misses)


def row(o: Outcome) -> list[str]:
    post = o.final_post_drift_model
    return [
        o.scenario,
        o.family,
        f"{o.label_delay:,}",
        ", ".join(o.drift_events) or "-",
        "-" if o.delay_rows is None else f"{o.delay_rows:,}",
        str(o.false_alarms),
        f"{o.accuracy_before:.3f}",
        f"{o.accuracy_after:.3f}",
        f"{o.never_replaced_after:.3f}",
        f"{o.final_served:.3f}",
        f"{o.final_never_replaced:.3f}",
        "-" if post is None else f"{post:.3f}",
        verdict(o),
        ", ".join(o.promotions),
        ", ".join(o.skipped) or "-",
        "; ".join(o.trials) or "-",
        ", ".join(f"{s:.1f}" for s in o.fit_seconds),
    ]


def markdown(outcomes: list[Outcome]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row(o)) + " |" for o in outcomes]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--only", nargs="*", help="scenario names (substring match)")
    parser.add_argument("--family", help="run every scenario with this family (e.g. auto)")
    parser.add_argument("--json", type=Path, default=Path("bench-results/drift.json"))
    args = parser.parse_args()
    console = Console(width=250)
    chosen = [s for s in SCENARIOS if not args.only or any(o in s.name for o in args.only)]
    if args.family:
        chosen = [replace(s, family=args.family) for s in chosen]
    outcomes: list[Outcome] = []
    args.json.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        for seed, scenario in enumerate(chosen, start=1):
            console.print(f"[bold]{scenario.name}[/] ({scenario.family}) ...")
            try:
                outcomes.append(run(scenario, redis.url, Path(tmp), args.rows, seed))
            except Exception as exc:  # one scenario's stack failing does not lose the others
                console.print(f"[red]{scenario.name} failed: {type(exc).__name__}: {exc}[/]")
                continue
            console.print(asdict(outcomes[-1]))
            args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    table = Table(title=f"drift benchmark: {args.rows:,} live rows, onset at row {ONSET:,}")
    for column in COLUMNS:
        table.add_column(column)
    for o in outcomes:
        table.add_row(*row(o))
    console.print(table)
    args.json.with_suffix(".md").write_text(markdown(outcomes) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
