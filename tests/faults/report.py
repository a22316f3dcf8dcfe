"""`make faults`: run every fault scenario (full variants) and print the table.

python -m tests.faults.report [--fast] [--only NAME ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from driftloop_sdk.embedded_redis import EmbeddedRedis
from rich.console import Console
from rich.table import Table

from .harness import Context, Result
from .scenarios import SCENARIOS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fast", action="store_true", help="the short variants, as in make test")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="run only these")
    parser.add_argument("--json", type=Path, default=Path("bench-results/faults.json"))
    args = parser.parse_args()
    console = Console(width=200)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        for name in args.only or SCENARIOS:
            console.print(f"[bold]{name}[/] ...")
            started = time.monotonic()
            result = SCENARIOS[name](Context(Path(tmp), redis.url, full=not args.fast))
            result.extra["wall_s"] = round(time.monotonic() - started, 1)
            results.append(result)
    table = Table(title="fault injection: events in, effects out")
    for column in (
        "scenario",
        "events in",
        "effects out",
        "lost",
        "duplicated",
        "recover s",
        "notes",
    ):
        table.add_column(column, justify="right" if column not in ("scenario", "notes") else "left")
    for r in results:
        recover = "-" if r.recover_s is None else f"{r.recover_s:.2f}"
        style = None if r.ok else "red"
        table.add_row(
            r.scenario,
            str(r.events_in),
            str(r.effects_out),
            str(r.lost),
            str(r.duplicated),
            recover,
            r.notes,
            style=style,
        )
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    console.print(f"written to {args.json}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
