"""The per-request cost of the predictor's routes in process, without HTTP or a load generator:
the fast path called directly (body in, answer out; logs buffered, never published), CPU
microseconds per request, the default route against the per-dataset one, with 1 and with 20
datasets loaded. Robust to a busy machine where wrk's req/s are not.

    python -m benchmarks.predictor_routes [--requests 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from driftloop_contracts import Metrics, ModelPromoted
from driftloop_core import ContentStore
from driftloop_ml import ModelArtifact, dump_artifact
from driftloop_predictor.batcher import MicroBatcher
from driftloop_predictor.fastpath import FastPath
from driftloop_predictor.holders import Holders
from driftloop_predictor.logbuffer import PredictionLog
from driftloop_predictor.model import load_model
from driftloop_predictor.service import Predictor

from benchmarks.predictor_datasets import Dataset, body, generated


async def _ignore(bodies: Sequence[bytes]) -> None:
    return None


def fast_path(store: ContentStore, datasets: list[Dataset]) -> tuple[FastPath, Holders]:
    holders = Holders(lambda e: load_model(store, e, offload="never"), default=None)
    log = PredictionLog(_ignore, batch_size=1 << 30, flush_ms=10_000, max_buffer=1_000)
    app = FastPath(Predictor(holders, log, MicroBatcher()), _unused, max_body_bytes=1 << 24,
                   max_rows=10_000)  # fmt: skip
    return app, holders


async def _unused(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError(scope["path"])


async def promote_all(store: ContentStore, holders: Holders, datasets: list[Dataset]) -> None:
    for d in datasets:
        event = ModelPromoted(
            producer="bench", dataset=d.name, model_version=1, previous_version=None,
            reason="manual",
            artifact=store.put(dump_artifact(ModelArtifact(d.pipeline, d.schema, ("0", "1"), {})),
                               kind="models", suffix=".pkl"),
            profile=store.put(b"{}", kind="profiles", suffix=".json"),
            metrics=Metrics(accuracy=1.0, f1_macro=1.0, rows=1), dataset_schema=d.schema,
        )  # fmt: skip
        model = await holders.load(event, "promoted", "not loaded")
        assert model is not None
        holders.serve_champion(event, model)


async def cost(app: FastPath, path: str, payload: bytes, requests: int) -> float:
    """CPU microseconds per request."""
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    started = time.process_time()
    for _ in range(requests):
        await app(scope, receive, send)
    spent = time.process_time() - started
    assert sent[0]["status"] == 200, sent[1]
    app.predictor.log._buffer.clear()
    app.predictor.log._rows = 0
    return spent / requests * 1e6


async def main_async(requests: int, rounds: int) -> None:
    import tempfile

    datasets = generated(20)
    with tempfile.TemporaryDirectory() as tmp:
        store = ContentStore(tmp)
        one, one_holders = fast_path(store, datasets[:1])
        await promote_all(store, one_holders, datasets[:1])
        many, many_holders = fast_path(store, datasets)
        await promote_all(store, many_holders, datasets)
        many_holders.default = "d00"  # so /v1/predict answers there too
        cases = {
            ("1 dataset", "/v1/predict"): (one, "/v1/predict", "/v1/predict/batch"),
            ("1 dataset", "/v1/models/d00/predict"): (
                one, "/v1/models/d00/predict", "/v1/models/d00/predict/batch"),
            ("20 datasets", "/v1/predict (default d00)"): (
                many, "/v1/predict", "/v1/predict/batch"),
            ("20 datasets", "/v1/models/d00/predict"): (
                many, "/v1/models/d00/predict", "/v1/models/d00/predict/batch"),
        }  # fmt: skip
        results: dict[tuple[str, str, int], list[float]] = {}
        for _ in range(rounds):  # interleaved
            for (setup, route), (app, single, batch) in cases.items():
                for rows, path in ((1, single), (100, batch)):
                    us = await cost(app, path, body(datasets[0], rows), requests // rows * 10
                                    if rows == 100 else requests)  # fmt: skip
                    results.setdefault((setup, route, rows), []).append(us)
        print(f"{'setup':12} {'route':28} {'rows':>4} {'CPU us/request (median)':>24}")
        for (setup, route, rows), values in results.items():
            print(f"{setup:12} {route:28} {rows:>4} {statistics.median(values):>24.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.requests, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
