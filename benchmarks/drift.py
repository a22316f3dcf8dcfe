"""`make bench-drift`: drift scenarios fed through the running system's public interfaces.

For each scenario a fresh stack (the five services, one Redis) gets 5,000 labelled rows on
ingest.records.v1, trains and serves v1, then answers 30,000 live rows over HTTP (batches of
100) while their true labels come back over HTTP at once. The drift onset, if any, is at row
10,000. Reported per scenario: drift events, the delay in rows from the onset to the last row
of the window that raised the first one, false alarms before the onset, the served model's
prequential accuracy before and after the onset against v1 never retrained, and over the last
5,000 rows against a model trained only on post-drift rows.

    python -m benchmarks.drift [--rows 30000] [--only NAME ...] [--json bench-results/drift.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from driftloop_contracts import (
    DatasetSchema,
    FeatureSpec,
    Record,
    TargetSpec,
    streams,
    utcnow,
)
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_ml import evaluate, load_artifact
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.embedded_redis import EmbeddedRedis
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_trainer.training import TrainingConfig, train
from rich.console import Console
from rich.table import Table

from tests.support.streams import Streams

NUMERIC = [f"x{i}" for i in range(8)]
SCHEMA = DatasetSchema(
    name="bench",
    features=(
        *(FeatureSpec(name=n, kind="numeric") for n in NUMERIC),
        FeatureSpec(name="c0", kind="categorical", categories=("a", "b", "c", "d")),
        FeatureSpec(name="c1", kind="categorical", categories=("x", "y")),
    ),
    target=TargetSpec(name="y", classes=("0", "1")),
)
REFERENCE_ROWS, ONSET, BATCH = 5_000, 10_000, 100
WEIGHTS = np.array([1.5, -1.0, 0.8, 0.0, 0.5, 0.0, -0.6, 0.3])
CONCEPT = np.array([-1.2, 1.4, 0.8, 0.9, -0.5, 0.0, 0.6, -0.3])  # P(y|x) after a concept drift
ENV = {
    "LOG_LEVEL": "WARNING",
    "DRIFTLOOP_DATASET": "bench",
    "TRAINER_MIN_INITIAL_ROWS": str(REFERENCE_ROWS),
    "TRAINER_MIN_POST_DRIFT_ROWS": "1500",
    "MONITOR_WINDOW_SIZE": "1000",
    "MONITOR_WINDOW_STEP": "500",
    "PREDICTOR_LOG_FLUSH_MS": "50",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    onset: int | None
    shift: Callable[[int], np.ndarray]  # row index -> mean shift of the 8 numeric features
    c0: Callable[[int], list[float]] = lambda i: [0.4, 0.3, 0.2, 0.1]
    prior: Callable[[int], float | None] = lambda i: None  # wanted P(y=1), None: natural
    weights: Callable[[int], np.ndarray] = lambda i: WEIGHTS


def _after(onset: int, then: Any, before: Any) -> Callable[[int], Any]:
    return lambda i: then if i >= onset else before


ZERO = np.zeros(8)
ONE = np.zeros(8)
ONE[0] = 0.5
SEVERAL = np.zeros(8)
SEVERAL[:3] = 1.0

SCENARIOS = [
    Scenario("stationary", None, lambda i: ZERO),
    Scenario("sudden shift, one feature (0.5 sd)", ONSET, _after(ONSET, ONE, ZERO)),
    Scenario(
        "gradual shift, three features (to 1 sd)",
        ONSET,
        lambda i: SEVERAL * min(max((i - ONSET) / 5000, 0.0), 1.0),
    ),
    Scenario(
        "categorical frequency shift",
        ONSET,
        lambda i: ZERO,
        c0=_after(ONSET, [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]),
    ),
    Scenario("label-prior shift", ONSET, lambda i: ZERO, prior=_after(ONSET, 0.7, None)),
    Scenario("concept drift", ONSET, lambda i: ZERO, weights=_after(ONSET, CONCEPT, WEIGHTS)),
]


def draw(
    scenario: Scenario, start: int, n: int, rng: np.random.Generator
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows start..start+n of the scenario's stream."""
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    i = start
    while len(rows) < n:
        x = rng.normal(0, 1, 8) + scenario.shift(i)
        c0 = str(rng.choice(["a", "b", "c", "d"], p=scenario.c0(i)))
        c1 = str(rng.choice(["x", "y"]))
        logit = float(x @ scenario.weights(i)) + (0.8 if c0 == "d" else 0.0) - 0.3
        y = int(rng.random() < 1 / (1 + np.exp(-logit)))
        wanted = scenario.prior(i)
        if wanted is not None:  # rejection sampling: P(y) changes, P(x|y) does not
            natural = 0.45
            keep = wanted / natural if y else (1 - wanted) / (1 - natural)
            if rng.random() > keep / max(wanted / natural, (1 - wanted) / (1 - natural)):
                continue
        rows.append(
            {
                **{n_: round(float(v), 5) for n_, v in zip(NUMERIC, x, strict=True)},
                "c0": c0,
                "c1": c1,
            }
        )
        labels.append(str(y))
        i += 1
    return rows, labels


@dataclass
class Outcome:
    scenario: str
    onset: int | None
    drift_events: list[str] = field(default_factory=list)
    delay_rows: int | None = None
    false_alarms: int = 0
    accuracy_before: float = 0.0
    accuracy_after: float = 0.0
    never_retrained_after: float = 0.0
    final_served: float = 0.0
    final_oracle: float | None = None
    promotions: list[str] = field(default_factory=list)
    trainings: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    trials: list[str] = field(default_factory=list)  # live trials: what each decided
    wall_s: float = 0.0


def run(scenario: Scenario, redis_url: str, workdir: Path, rows: int, seed: int) -> Outcome:
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    namespace = f"bench{seed}:"
    state = workdir / namespace.rstrip(":")
    outcome = Outcome(scenario.name, scenario.onset)
    with Stack(
        state, schemas=(SCHEMA,), redis_url=redis_url, namespace=namespace, env=ENV, sink=None
    ) as stack:
        io = Streams(redis_url, namespace)
        client = DriftloopClient(stack.endpoints)
        reference, ref_labels = draw(Scenario("ref", None, lambda i: ZERO), 0, REFERENCE_ROWS, rng)
        t0 = utcnow() - timedelta(hours=1)
        publisher = EventPublisher(redis_url, namespace=namespace)
        publisher.submit_records(
            "bench",
            [
                Record(features=f, label=y, observed_at=t0 + timedelta(milliseconds=i))
                for i, (f, y) in enumerate(zip(reference, ref_labels, strict=True))
            ],
        )
        publisher.close()
        _wait(lambda: _serving(client) >= 1, 120, "v1 served")
        served_right: list[bool] = []
        sent_at: list[float] = []  # wall time each batch was sent
        live_rows: list[dict[str, Any]] = []
        live_labels: list[str] = []
        for start in range(0, rows, BATCH):
            batch, labels = draw(scenario, start, BATCH, rng)
            sent_at.append(time.time())
            answer = client.predict_batch(batch)
            predictions = answer["predictions"]
            served_right += [p["prediction"] == y for p, y in zip(predictions, labels, strict=True)]
            client.send_labels(
                [
                    {"prediction_id": p["prediction_id"], "label": y}
                    for p, y in zip(predictions, labels, strict=True)
                ]
            )
            live_rows += batch
            live_labels += labels
        io.wait_consumed(streams.PREDICTION_LOGGED, "drift-monitor", timeout=120)
        io.wait_consumed(streams.PREDICTION_LABELLED, "drift-monitor", timeout=120)
        drifts = io.read(streams.DRIFT_DETECTED)
        promoted = io.read(streams.MODEL_PROMOTED)
        outcome.promotions = [
            f"v{p.model_version}@{_row_at(sent_at, p.occurred_at.timestamp())}" for p in promoted
        ]
        outcome.trainings = [
            f"{t.trigger}@{_row_at(sent_at, t.occurred_at.timestamp())}:{t.training_rows}"
            for t in io.read(streams.TRAINING_COMPLETED)
        ] + [f"failed: {f.reason}" for f in io.read(streams.TRAINING_FAILED)]
        outcome.rejected = [r.reason for r in io.read(streams.MODEL_REJECTED)]
        outcome.trials = [
            f"v{t.model_version} {t.decision} ({t.stopped_by}) @"
            f"{_row_at(sent_at, t.occurred_at.timestamp())}: {t.evidence.pairs} pairs, "
            f"+{t.evidence.wins}/-{t.evidence.losses}"
            for t in io.read(streams.TRIAL_DECIDED)
        ]
        onset = scenario.onset
        for d in drifts:
            row = _row_at(sent_at, d.window.end.timestamp())
            outcome.drift_events.append(f"{d.kind}@{row}")
            if onset is None or row < onset:
                outcome.false_alarms += 1
            elif outcome.delay_rows is None:
                outcome.delay_rows = row - onset
        v1 = load_artifact(ContentStore(str(state / "store")).get(promoted[0].artifact)).pipeline
        split = onset if onset is not None else rows // 3
        outcome.accuracy_before = float(np.mean(served_right[:split]))
        outcome.accuracy_after = float(np.mean(served_right[split:]))
        outcome.never_retrained_after = _accuracy(v1, live_rows[split:], live_labels[split:])
        tail = slice(rows - 5000, rows)
        outcome.final_served = float(np.mean(served_right[tail]))
        if onset is not None:
            post, post_labels = draw(scenario, onset, 5000, np.random.default_rng(seed + 1000))
            oracle = train(SCHEMA, _labelled(post, post_labels), TrainingConfig()).pipeline
            outcome.final_oracle = _accuracy(oracle, live_rows[tail], live_labels[tail])
        client.close()
        io.close()
    outcome.wall_s = round(time.monotonic() - started, 1)
    return outcome


def _labelled(rows: list[dict[str, Any]], labels: list[str]) -> list[LabelledRow]:
    t0 = utcnow()
    return [
        LabelledRow(r, y, t0 + timedelta(milliseconds=i))
        for i, (r, y) in enumerate(zip(rows, labels, strict=True))
    ]


def _accuracy(pipeline: Any, rows: list[dict[str, Any]], labels: list[str]) -> float:
    return evaluate(pipeline, SCHEMA, _labelled(rows, labels)).accuracy


def _row_at(sent_at: list[float], timestamp: float) -> int:
    """The live row index the stream had reached at `timestamp`."""
    for batch, at in enumerate(sent_at):
        if at > timestamp:
            return batch * BATCH
    return len(sent_at) * BATCH


def _serving(client: DriftloopClient) -> int:
    try:
        return int(client.serving_model()["model_version"])
    except Exception:
        return 0


def _wait(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--only", nargs="*", help="scenario names (substring match)")
    parser.add_argument("--json", type=Path, default=Path("bench-results/drift.json"))
    args = parser.parse_args()
    console = Console(width=200)
    chosen = [s for s in SCENARIOS if not args.only or any(o in s.name for o in args.only)]
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        for seed, scenario in enumerate(chosen, start=1):
            console.print(f"[bold]{scenario.name}[/] ...")
            outcomes.append(run(scenario, redis.url, Path(tmp), args.rows, seed))
            console.print(asdict(outcomes[-1]))
    table = Table(title=f"drift benchmark: {args.rows:,} live rows, onset at row {ONSET:,}")
    for column in (
        "scenario",
        "drift events (kind@row)",
        "delay rows",
        "false alarms",
        "acc before",
        "acc after",
        "never retrained after",
        "last 5k served",
        "last 5k post-drift model",
        "promoted",
    ):
        table.add_column(column)
    for o in outcomes:
        table.add_row(
            o.scenario,
            ", ".join(o.drift_events) or "-",
            "-" if o.delay_rows is None else str(o.delay_rows),
            str(o.false_alarms),
            f"{o.accuracy_before:.3f}",
            f"{o.accuracy_after:.3f}",
            f"{o.never_retrained_after:.3f}",
            f"{o.final_served:.3f}",
            "-" if o.final_oracle is None else f"{o.final_oracle:.3f}",
            ", ".join(o.promotions),
        )
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
