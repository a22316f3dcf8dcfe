"""Regression labels through ingest's validation, on one core: the column path (numpy, no dict
per row) against the row-by-row validator (validate_label per row), and whole rows of the
houses scenario (libs/sdk) through `validate`. Labels as JSON numbers, and as text (CSV).

Figures are labels (or rows) per CPU second of this process, the best of the rounds.

    taskset -c 0 python -m benchmarks.regression_labels [--rows 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from driftloop_contracts.rows import validate_label
from driftloop_ingest.candidates import Candidates
from driftloop_ingest.validation import _labels, validate
from driftloop_sdk.scenario import HouseScenario

SCHEMA = HouseScenario.schema


def per_second(work: Callable[[], Any], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return n / best


def row_by_row(labels: list[Any]) -> list[str]:
    return [validate_label(SCHEMA, y) for y in labels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n, rounds = args.rows, args.rounds
    numbers = np.random.default_rng(1).normal(300, 80, n).round(2).tolist()
    texts = [repr(v) for v in numbers]
    drawn = HouseScenario(2).draw(n, "before")
    rows = Candidates(drawn.features, [float(y) for y in drawn.labels], [None] * n)
    print(f"{n:,} regression labels, best of {rounds} rounds, per CPU second:")
    labels: list[Any]
    for name, labels in (("numbers", numbers), ("text", texts)):
        column = per_second(partial(_labels, SCHEMA, labels, np.zeros(n, bool)), n, rounds)
        by_row = per_second(partial(row_by_row, labels), n, rounds)
        print(f"  labels as {name}: column path {column:,.0f}/s, row by row {by_row:,.0f}/s")
    whole = per_second(lambda: validate(SCHEMA, rows), n, rounds)
    print(f"  whole rows (4 features and the label) through validate: {whole:,.0f}/s")


if __name__ == "__main__":
    main()
