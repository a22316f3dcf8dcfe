"""One drift scenario through a fresh stack, fed through the system's public interfaces.

A fresh stack (the five services, one Redis) gets 5,000 labelled rows on ingest.records.v1,
trains and serves v1, then answers the live rows over HTTP (batches of 100) while their true
labels come back over HTTP, at once or `label_delay` rows later. Measured: drift events, the
delay in rows from the onset to the window that raised the first one, false alarms before the
onset, the served model's prequential accuracy before and after the onset beside v1 never
replaced, over the last 5,000 rows beside a model trained only on post-drift rows, what the
trainer trained, skipped and how long it fitted, and what each live trial decided (at which
row, on how many paired outcomes, won and lost).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from driftloop_contracts import Record, streams, utcnow
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_ml import evaluate, load_artifact
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_trainer.training import TrainingConfig, train

from tests.support.streams import Streams

from .scenarios import BATCH, REFERENCE_ROWS, SCHEMA, Scenario, draw

ENV = {
    "LOG_LEVEL": "WARNING",
    "DRIFTLOOP_DATASET": "bench",
    "TRAINER_MIN_INITIAL_ROWS": str(REFERENCE_ROWS),
    "TRAINER_MIN_POST_DRIFT_ROWS": "1500",
    "MONITOR_WINDOW_SIZE": "1000",
    "MONITOR_WINDOW_STEP": "500",
    "PREDICTOR_LOG_FLUSH_MS": "50",
    "OMP_NUM_THREADS": "1",
}
TAIL = 5_000
#: Five services starting on a busy 2-core machine can take longer than the runner's 90 s.
STARTUP_S = 300


@dataclass
class Outcome:
    scenario: str
    family: str
    label_delay: int
    onset: int | None
    drift_events: list[str] = field(default_factory=list)
    delay_rows: int | None = None
    false_alarms: int = 0
    accuracy_before: float = 0.0
    accuracy_after: float = 0.0
    never_replaced_after: float = 0.0
    final_served: float = 0.0
    final_never_replaced: float = 0.0
    final_post_drift_model: float | None = None
    promotions: list[str] = field(default_factory=list)
    trainings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    #: Live trials: what each decided, what stopped it, at which row, on what evidence.
    trials: list[str] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class Live:
    """What the bench sent and what it was answered."""

    right: list[bool] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # wall time each batch was sent
    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def run(scenario: Scenario, redis_url: str, workdir: Path, rows: int, seed: int) -> Outcome:
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    namespace = f"bench{seed}:"
    state = workdir / namespace.rstrip(":")
    outcome = Outcome(scenario.name, scenario.family, scenario.label_delay, scenario.onset)
    env = {**ENV, "TRAINER_MODEL_FAMILY": scenario.family}
    stack = Stack(
        state, schemas=(SCHEMA,), redis_url=redis_url, namespace=namespace, env=env, sink=None
    )
    try:
        stack.start(timeout=STARTUP_S)
        io = Streams(redis_url, namespace)
        client = DriftloopClient(stack.endpoints)
        train_first_model(scenario, redis_url, namespace, rng)
        _wait(lambda: _serving(client) >= 1, 300, "v1 served")
        live = stream(scenario, client, rows, rng)
        io.wait_consumed(streams.PREDICTION_LOGGED, "drift-monitor", timeout=300)
        io.wait_consumed(streams.PREDICTION_LABELLED, "drift-monitor", timeout=300)
        read_events(io, live, outcome)
        promoted = io.read(streams.MODEL_PROMOTED)
        v1 = load_artifact(ContentStore(str(state / "store")).get(promoted[0].artifact))
        score(scenario, outcome, live, v1.pipeline, rows, seed)
        client.close()
        io.close()
    finally:
        stack.stop()
    outcome.wall_s = round(time.monotonic() - started, 1)
    return outcome


def train_first_model(
    scenario: Scenario, redis_url: str, namespace: str, rng: np.random.Generator
) -> None:
    reference, labels = draw(scenario.reference(), 0, REFERENCE_ROWS, rng)
    t0 = utcnow() - timedelta(hours=1)
    publisher = EventPublisher(redis_url, namespace=namespace)
    publisher.submit_records(
        "bench",
        [
            Record(features=f, label=y, observed_at=t0 + timedelta(milliseconds=i))
            for i, (f, y) in enumerate(zip(reference, labels, strict=True))
        ],
    )
    publisher.close()


def stream(
    scenario: Scenario, client: DriftloopClient, rows: int, rng: np.random.Generator
) -> Live:
    """Predict the live rows batch by batch; send each batch's labels `label_delay` rows on."""
    live = Live()
    due: deque[tuple[int, list[dict[str, Any]]]] = deque()
    for start in range(0, rows, BATCH):
        batch, labels = draw(scenario, start, BATCH, rng)
        live.sent_at.append(time.time())
        predictions = client.predict_batch(batch)["predictions"]
        live.right += [p["prediction"] == y for p, y in zip(predictions, labels, strict=True)]
        feedback = [
            {"prediction_id": p["prediction_id"], "label": y}
            for p, y in zip(predictions, labels, strict=True)
        ]
        due.append((start, feedback))
        while due and due[0][0] + scenario.label_delay <= start:
            client.send_labels(due.popleft()[1])
        live.rows += batch
        live.labels += labels
    while due:
        client.send_labels(due.popleft()[1])
    return live


def read_events(io: Streams, live: Live, outcome: Outcome) -> None:
    def row(event: Any) -> int:
        return _row_at(live.sent_at, event.occurred_at.timestamp())

    outcome.promotions = [f"v{p.model_version}@{row(p)}" for p in io.read(streams.MODEL_PROMOTED)]
    completed = io.read(streams.TRAINING_COMPLETED)
    outcome.trainings = [f"{t.trigger}@{row(t)}:{t.training_rows}" for t in completed] + [
        f"failed: {f.reason}" for f in io.read(streams.TRAINING_FAILED)
    ]
    outcome.fit_seconds = [t.fit_seconds for t in completed if t.fit_seconds is not None]
    outcome.skipped = [
        f"{s.reason}@{row(s)} ({s.shift})" for s in io.read(streams.TRAINING_SKIPPED)
    ]
    outcome.rejected = [r.reason for r in io.read(streams.MODEL_REJECTED)]
    outcome.trials = trials(io, row)
    onset = outcome.onset
    for d in io.read(streams.DRIFT_DETECTED):
        at = _row_at(live.sent_at, d.window.end.timestamp())
        outcome.drift_events.append(f"{d.kind}@{at}")
        if onset is None or at < onset:
            outcome.false_alarms += 1
        elif outcome.delay_rows is None:
            outcome.delay_rows = at - onset


def trials(io: Streams, row: Callable[[Any], int]) -> list[str]:
    """Each live trial: the challenger, its decision and what stopped it, the row it was
    decided at and the paired live outcomes (won / lost); one never decided says so."""
    decided = {t.trial_id: t for t in io.read(streams.TRIAL_DECIDED)}
    out = []
    for started in io.read(streams.TRIAL_STARTED):
        head = f"v{started.model_version} vs v{started.champion_version} from {row(started)}"
        t = decided.get(started.trial_id)
        if t is None:
            out.append(f"{head}: undecided when the stream ended")
            continue
        e = t.evidence
        out.append(
            f"{head}: {t.decision} ({t.stopped_by}) at {row(t)}, "
            f"{e.pairs} pairs, won {e.wins}, lost {e.losses}"
        )
    return out


def score(scenario: Scenario, outcome: Outcome, live: Live, v1: Any, rows: int, seed: int) -> None:
    split = scenario.onset if scenario.onset is not None else rows // 3
    tail = slice(rows - TAIL, rows)
    outcome.accuracy_before = float(np.mean(live.right[:split]))
    outcome.accuracy_after = float(np.mean(live.right[split:]))
    outcome.never_replaced_after = _accuracy(v1, live.rows[split:], live.labels[split:])
    outcome.final_served = float(np.mean(live.right[tail]))
    outcome.final_never_replaced = _accuracy(v1, live.rows[tail], live.labels[tail])
    if scenario.onset is not None:  # fresh rows drawn as the last 5,000 were: post-drift only
        post, labels = draw(scenario, rows - TAIL, TAIL, np.random.default_rng(seed + 1000))
        config = TrainingConfig(family=scenario.family)
        oracle = train(SCHEMA, _labelled(post, labels), config).pipeline
        outcome.final_post_drift_model = _accuracy(oracle, live.rows[tail], live.labels[tail])


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
