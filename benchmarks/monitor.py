"""The drift monitor's handlers on one core: rows/s for prediction.logged and labels/s for
prediction.labelled, with the real adapter and a real Redis (on the other core).

Each event holds 1,024 rows of the demo scenario's 7 features (stationary, so nothing fires
and the figure is the steady state), scored by a model trained on 2,000 rows; windows of 500
rows, tumbling. Reported: the handler alone (snapshot reads, policy, outputs, the after-commit
swap; the bus's decoding excluded), the decoding of the same entries (pydantic, in the bus),
the copy-on-write costs per delivery, and one window test alone (scipy's KS and chi-square
calls are most of a delivery's time).

    python -m benchmarks.monitor [--events 40] [--json .driftloop/bench-monitor.json]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from driftloop_bus import AfterCommit, Keys, Output, serving
from driftloop_contracts import (
    PredictionsLabelled,
    PredictionsLogged,
    TrainingRequested,
    streams,
)
from driftloop_contracts.codec import decode_body
from driftloop_contracts.columnar import epoch_ms
from driftloop_core import ContentStore
from driftloop_drift_monitor.reader import SnapshotReader
from driftloop_drift_monitor.service import MonitorService
from driftloop_drift_monitor.settings import MonitorSettings
from driftloop_drift_monitor.watch import WatchKey
from driftloop_ml import feature_matrix
from driftloop_sdk.embedded_redis import EmbeddedRedis, wait_for_port
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from driftloop_trainer.service import completed_event
from driftloop_trainer.training import TrainedModel, TrainingConfig, train
from redis.asyncio import Redis

from benchmarks.keys import sealed, signer
from tests.support.data import labelled_rows, promoted

ROWS = 1024
WARMUP = 3


def workload(model: TrainedModel, events: int) -> tuple[list[PredictionsLogged], list[Any]]:
    """Prediction logs as the predictor writes them, and the labels ingest would publish."""
    logs, labels = [], []
    scenario = CreditScenario(5)
    for _ in range(events):
        drawn = scenario.draw(ROWS, "before")
        predicted = model.pipeline.predict(feature_matrix(SCHEMA, drawn.features))
        now = epoch_ms()
        event = PredictionsLogged(
            producer="bench",
            dataset="demo",
            model_version=1,
            prediction_ids=tuple(uuid.uuid4() for _ in range(ROWS)),
            features={n: tuple(r[n] for r in drawn.features) for n in drawn.features[0]},
            predictions=tuple(str(p) for p in predicted),
            scores=tuple([0.7] * ROWS),
            predicted_at_ms=tuple([now] * ROWS),
        )
        logs.append(event)
        labels.append(
            PredictionsLabelled(
                producer="bench",
                dataset="demo",
                model_version=1,
                prediction_ids=event.prediction_ids,
                predictions=event.predictions,
                labels=tuple(drawn.labels),
                predicted_at_ms=event.predicted_at_ms,
                labelled_at_ms=event.predicted_at_ms,
            )
        )
    return logs, labels


def commit(outputs: Sequence[Output]) -> None:
    """What the bus does after a successful transaction (no drift fires here: no writes)."""
    assert not any(type(o).__name__ == "Publish" for o in outputs), "stationary data drifted"
    for item in outputs:
        if isinstance(item, AfterCommit):
            item.apply()


async def through(handler: Callable[[list[Any]], Any], events: Sequence[Any]) -> dict[str, float]:
    for event in events[:WARMUP]:
        commit(await handler([event]))
    measured = events[WARMUP:]
    wall, cpu = time.perf_counter(), time.process_time()
    for event in measured:
        commit(await handler([event]))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = sum(len(e) for e in measured)
    return {"rows": rows, "rows_per_s_wall": rows / wall, "rows_per_s_cpu": rows / cpu}


def decoding(events: Sequence[PredictionsLogged | PredictionsLabelled]) -> dict[str, float]:
    bodies = [e.model_dump_json().encode() for e in events]
    stream = (
        streams.PREDICTION_LOGGED
        if isinstance(events[0], PredictionsLogged)
        else (streams.PREDICTION_LABELLED)
    )
    cpu = time.process_time()
    for body in bodies:
        decode_body(body, stream)  # type: ignore[arg-type]
    cpu = time.process_time() - cpu
    rows = sum(len(e) for e in events)
    return {"rows": rows, "rows_per_s_cpu": rows / cpu}


def window_test_ms(monitor: MonitorService, n: int = 50) -> float:
    """One window test (every feature and the predictions), reading the ring buffers."""
    windows = monitor.watches[WatchKey("demo", 1)].windows
    started = time.process_time()
    for _ in range(n):
        windows.test(windows.values(), windows.threshold)
    return (time.process_time() - started) / n * 1000


def copy_costs(monitor: MonitorService) -> dict[str, float]:
    watch = monitor.watches[WatchKey("demo", 1)]
    n = 2000
    started = time.process_time()
    for _ in range(n):
        watch.windows.copy()
    windows_us = (time.process_time() - started) / n * 1e6
    started = time.process_time()
    for _ in range(n):
        copy.deepcopy(watch.performance._adwin)
    adwin_us = (time.process_time() - started) / n * 1e6
    return {"windows_copy_us": windows_us, "adwin_deepcopy_us": adwin_us}


async def measure(events: int, window: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as server:
        wait_for_port(server.port)
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})  # Redis started first, on the other core
        store = ContentStore(tmp)
        model = train(SCHEMA, labelled_rows(2000, seed=1), TrainingConfig())
        cause = TrainingRequested(producer="bench", dataset=SCHEMA.name)
        run = completed_event(store, cause, "bench", "initial", model, ["v"], 1)  # type: ignore[arg-type]
        redis = Redis.from_url(server.url)
        keys = Keys("bench:")
        v1 = sealed(promoted(run))
        async with redis.pipeline(transaction=True) as pipe:  # as the registry does
            serving.record_promotion(keys, v1).apply(pipe)
            await pipe.execute()
        settings = MonitorSettings(store_url=tmp, window_size=window)
        reader = SnapshotReader(redis, keys, store, signer().verifier("registry"))
        monitor = MonitorService(settings.configs(), reader, store)
        logs, labels = workload(model, events)
        logged = await through(monitor.on_predictions, logs)
        labelled = await through(monitor.on_labelled, labels)
        result = {
            "rows_per_event": ROWS,
            "features": len(SCHEMA.features),
            "window": window,
            "handler_prediction_logged": logged,
            "handler_prediction_labelled": labelled,
            "decode_prediction_logged": decoding(logs),
            "decode_prediction_labelled": decoding(labels),
            "copy": copy_costs(monitor),
            "window_test_ms": window_test_ms(monitor),
            "windows_tested": monitor.watches[WatchKey("demo", 1)].windows.windows_tested,
            "promotion": str(v1.event_id),
        }
        await redis.aclose()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(measure(args.events, args.window))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
