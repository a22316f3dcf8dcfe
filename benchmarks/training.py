"""`make bench-training`: what family `auto` serves, how long runs take, and why they were slow.

Three measurements, on the rows `make bench-drift` streams (its generators, plus two
non-linear concepts on the same schema):

1. **First models**: for each stream's first 5,000 rows (and for 5,000 post-drift rows of the
   concept drift), the holdout accuracy of the model the trainer serves by default (`auto`,
   default budget) beside each family's own grid search on the same rows, and the seconds.
   The issue's bar: `auto` never more than 1 point below the best family.
2. **Retrain seconds**: a retrain on 1,000 rows through the trainer's worker process, per
   family.
3. **The cause of the slow retrain** (21.5 s for `gradient_boosting` on 800 rows in the
   issue): one gradient-boosting fit on 800 rows while two other processes keep both cores
   busy (as the predictor and monitor do under traffic), with OpenMP's default threads and
   with one thread (what every fit now uses).

    python -m benchmarks.training [--only first|retrain|threads] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from driftloop_contracts.datasets import LabelledRow
from driftloop_ml import feature_matrix
from driftloop_trainer.training import (
    SEARCH_SPACES,
    TrainingConfig,
    build_pipeline,
    temporal_split,
    train,
)
from driftloop_trainer.worker import FitJob, WorkerProcess
from threadpoolctl import threadpool_limits

from benchmarks.drift.scenarios import NUMERIC, ONSET, SCENARIOS, SCHEMA, Scenario, draw

ROWS = 5_000
FAMILIES = ("logistic", "gradient_boosting", "random_forest")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
Draw = Callable[[int, np.random.Generator], tuple[list[dict[str, Any]], list[str]]]


def nonlinear(kind: str) -> Draw:
    """A concept no linear model holds: a threshold on one feature, or an interaction."""

    def draw_rows(n: int, rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[str]]:
        rows, _ = draw(SCENARIOS[0], 0, n, rng)
        x = np.array([[r[c] for c in NUMERIC] for r in rows])
        if kind == "threshold":
            truth = (np.abs(x[:, 0]) > 0.8) ^ (x[:, 1] > 0.5)
        else:
            truth = x[:, 0] * x[:, 1] + 0.5 * x[:, 2] * (x[:, 3] > 0) > 0
        flip = rng.random(n) < 0.1
        return rows, [str(int(t ^ f)) for t, f in zip(truth, flip, strict=True)]

    return draw_rows


def scenario_rows(scenario: Scenario, start: int) -> Draw:
    return lambda n, rng: draw(scenario, start, n, rng)


def streams() -> list[tuple[str, Draw]]:
    """Every bench-drift scenario's first 5,000 rows are its reference rows (drawn alike, the
    onset is at row 10,000): one stream stands for them all."""
    concept = next(s for s in SCENARIOS if s.name == "concept drift")
    return [
        (f"bench-drift reference: first {ROWS}", scenario_rows(SCENARIOS[0], 0)),
        (f"concept drift: {ROWS} post-drift", scenario_rows(concept, ONSET)),
        ("threshold on one feature (non-linear)", nonlinear("threshold")),
        ("interaction (non-linear)", nonlinear("interaction")),
    ]


def labelled(rows: list[dict[str, Any]], labels: list[str]) -> list[LabelledRow]:
    return [
        LabelledRow(f, y, T0 + timedelta(seconds=i))
        for i, (f, y) in enumerate(zip(rows, labels, strict=True))
    ]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def cpu_timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """CPU seconds of this process (fits run on one thread): what a quiet core would take,
    whatever else the machine runs."""
    started = time.process_time()
    result = fn()
    return result, time.process_time() - started


def worker_cpu(pid: int) -> float:
    """CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_models(seed: int) -> list[dict[str, Any]]:
    results = []
    for name, make in streams():
        rows = labelled(*make(ROWS, np.random.default_rng(seed)))
        auto, auto_s = cpu_timed(
            lambda rows=rows: train(
                SCHEMA, rows, TrainingConfig(family="auto", search_budget_s=8.0)
            )
        )
        line: dict[str, Any] = {
            "stream": name,
            "auto": auto.metrics.accuracy,
            "auto_family": auto.params["family"],
            "auto_s": round(auto_s, 1),
            "auto_candidates": len(auto.params["search"]["candidates"]),
        }
        for family in FAMILIES:
            model, seconds = cpu_timed(
                lambda f=family, rows=rows: train(SCHEMA, rows, TrainingConfig(family=f))
            )
            line[family], line[f"{family}_s"] = model.metrics.accuracy, round(seconds, 1)
        line["gap"] = round(max(line[f] for f in FAMILIES) - line["auto"], 4)
        results.append(line)
        print(json.dumps(line), flush=True)
    return results


async def retrain_seconds(seed: int) -> list[dict[str, Any]]:
    concept = next(s for s in SCENARIOS if s.name == "concept drift")
    rows = labelled(*draw(concept, ONSET, 1_000, np.random.default_rng(seed)))
    worker = WorkerProcess()
    pid = await worker.pid()  # started with the trainer: not part of a run
    results = []
    for family in (*FAMILIES, "auto"):
        config = TrainingConfig(family=family, search_budget_s=8.0)
        job = FitJob(None, SCHEMA, rows, config, None, tuple(sys.path))
        cpu = worker_cpu(pid)
        model, seconds = await _timed_async(worker.fit(job))
        line = {
            "worker_cpu_s": round(worker_cpu(pid) - cpu, 2),
            "family": family,
            "rows": 1_000,
            "seconds": round(seconds, 2),
            "holdout": model.metrics.accuracy,
        }
        results.append(line)
        print(json.dumps(line), flush=True)
    await worker.stop()
    return results


async def _timed_async(awaitable: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await awaitable
    return result, time.perf_counter() - started


def _busy(until: float) -> None:
    while time.monotonic() < until:
        pass


def thread_cause(seed: int) -> list[dict[str, Any]]:
    """One fit of the gradient-boosting grid's first point on 800 rows, both cores kept busy
    by two other processes, with OpenMP's default threads and with one. (The whole old grid
    is 13 such fits: under a heavily loaded machine the default-thread grid ran for minutes.)"""
    rows = labelled(*draw(SCENARIOS[0], 0, 1_000, np.random.default_rng(seed)))
    fit_rows, _ = temporal_split(rows, 0.2)
    x = feature_matrix(SCHEMA, [r.features for r in fit_rows])
    y = np.array([r.label for r in fit_rows])
    estimator = SEARCH_SPACES["gradient_boosting"][0]

    def one_fit() -> Any:
        return build_pipeline(SCHEMA, sklearn.base.clone(estimator)).fit(x, y)

    one_fit()  # imports and first-call costs out of the way
    hogs = [multiprocessing.Process(target=_busy, args=(time.monotonic() + 300,)) for _ in range(2)]
    for hog in hogs:
        hog.start()
    try:
        with threadpool_limits(limits=1):
            _, single_s = timed(one_fit)
        _, default_s = timed(one_fit)
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join()
    result = [
        {"threads": "OpenMP default (2)", "rows": len(fit_rows), "seconds": round(default_s, 2)},
        {"threads": "1 (every fit now)", "rows": len(fit_rows), "seconds": round(single_s, 2)},
    ]
    for line in result:
        print(json.dumps(line), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("first", "retrain", "threads"), action="append")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    parts = args.only or ["threads", "retrain", "first"]
    report: dict[str, Any] = {}
    if "threads" in parts:
        report["threads"] = thread_cause(args.seed)
    if "retrain" in parts:
        report["retrain"] = asyncio.run(retrain_seconds(args.seed))
    if "first" in parts:
        report["first"] = first_models(args.seed)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
