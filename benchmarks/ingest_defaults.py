"""Validation of records written for an earlier schema version: rows per CPU second of
ingest's `validate` on the demo schema (v1), on v2 (one numeric feature appended with a default),
for v1-style rows on v2 (each gets the default), and for a batch half v1-style, half v2-style.

    taskset -c 0 python -m benchmarks.ingest_defaults [--rows 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from driftloop_contracts import DatasetSchema
from driftloop_ingest.candidates import Candidates
from driftloop_ingest.validation import validate
from driftloop_sdk.scenario import SCHEMA

ROW: dict[str, Any] = {
    "income": 50.0,
    "debt_ratio": 0.4,
    "age": 40.0,
    "utilization": 0.3,
    "credit_lines": 3.0,
    "region": "north",
    "channel": "web",
}
V2 = DatasetSchema.model_validate(
    {
        **SCHEMA.model_dump(),
        "features": [
            *SCHEMA.model_dump()["features"],
            {"name": "tenure", "kind": "numeric", "default": 0},
        ],
    }
)


def rate(schema: DatasetSchema, rows: list[dict[str, Any]], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        candidates = Candidates([dict(r) for r in rows], ["no"] * len(rows), [None] * len(rows))
        start = time.process_time()
        valid, rejected = validate(schema, candidates)
        samples.append(len(rows) / (time.process_time() - start))
        assert len(valid) == len(rows) and not rejected, rejected[:1]
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n, rounds = args.rows, args.rounds
    v2_row = {**ROW, "tenure": 1.0}
    cases = {
        "v1 rows, v1 schema": (SCHEMA, [ROW] * n),
        "v2 rows, v2 schema": (V2, [v2_row] * n),
        "v1 rows, v2 schema (default)": (V2, [ROW] * n),
        "half v1, half v2 rows, v2 schema": (V2, [ROW, v2_row] * (n // 2)),
    }
    for name, (schema, rows) in cases.items():
        print(f"{name:<34} {rate(schema, rows, rounds):>10,.0f} rows/CPU s (median)")


if __name__ == "__main__":
    main()
