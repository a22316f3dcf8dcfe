"""CPU per 100-row request in process, no sockets: the predictor's FastPath (rows, columns)
against the baseline app (rows, arrays), the same LogisticRegression, `concurrency` requests
in flight. Process CPU time, so a loaded machine inflates both sides alike (the wrk figures of
`make bench` are wall time and swing with other load). Prediction logs are encoded as in
production and handed to a publisher that drops them (no Redis).

    python -m benchmarks.request_cpu [--requests 1600] [--concurrency 1 4 16] [--runs 5]
    python -m benchmarks.request_cpu --client-tokens [--runs 5]   # the bearer check's cost
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from driftloop_core import ContentStore
from driftloop_core.clients import ClientTokens
from driftloop_predictor.batcher import MicroBatcher
from driftloop_predictor.fastpath import FastPath
from driftloop_predictor.logbuffer import PredictionLog
from driftloop_predictor.model import ModelHolder, load_model
from driftloop_predictor.service import Predictor

from benchmarks.baseline_server import build
from benchmarks.predictor import body, models, promoted_event

ROUTES = {
    "ours rows": ("/v1/predict/batch", "rows"),
    "ours columns": ("/v1/predict/batch", "columns"),
    "baseline rows": ("/v1/predict/batch", "rows"),
    "baseline arrays": ("/v1/predict/arrays", "arrays"),
}


async def cpu_per_request(
    app: Any,
    path: str,
    payload: bytes,
    requests: int,
    concurrency: int,
    log: Any,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> float:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", b"application/json"), *headers],
        "query_string": b"",
        "root_path": "",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("bench", 80),
        "client": ("bench", 1),
    }
    statuses: list[int] = []

    async def one() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # the client never disconnects
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(dict(scope), receive, send)

    async def rounds(n: int) -> None:
        for _ in range(max(1, n // concurrency)):
            await asyncio.gather(*(one() for _ in range(concurrency)))
            if log is not None and len(log) >= 1024:
                await log.flush()  # encodes the prediction.logged bodies, as in production

    await rounds(50)
    started = time.process_time()
    await rounds(requests)
    spent = time.process_time() - started
    assert set(statuses) == {200}, set(statuses)
    return spent / (max(1, requests // concurrency) * concurrency) * 1e6


async def measure(requests: int, concurrencies: Sequence[int], offload: str, runs: int = 1) -> None:
    fitted, x = models(["LR"])
    with tempfile.TemporaryDirectory() as tmp:
        store = ContentStore(tmp)
        event, artifact = promoted_event(store, fitted["LR"], 1)
        holder = ModelHolder()
        print(f"offload {offload}", end="; ")
        holder.swap(load_model(store, event, offload=offload))
        baseline = build(Path(store.root) / artifact)

        async def drop(bodies: Sequence[bytes]) -> None:
            pass

        log = PredictionLog(drop, batch_size=1024, flush_ms=200, max_buffer=10**6)
        ours = FastPath(
            Predictor(holder, log, MicroBatcher()), baseline, max_body_bytes=10**7, max_rows=10**4
        )
        for concurrency in concurrencies:
            spent: dict[str, list[float]] = {name: [] for name in ROUTES}
            for _ in range(runs):  # interleaved: noise from other processes hits every route
                for name, (path, shape) in ROUTES.items():
                    app, app_log = (ours, log) if name.startswith("ours") else (baseline, None)
                    payload = body(x, 100, shape)
                    spent[name].append(
                        await cpu_per_request(app, path, payload, requests, concurrency, app_log)
                    )
            figures = {name: statistics.median(v) for name, v in spent.items()}
            line = ", ".join(f"{k} {v:,.0f} us" for k, v in figures.items())
            arrays, columns = spent["baseline arrays"], spent["ours columns"]
            pairs = [a / c for a, c in zip(arrays, columns, strict=True)]
            print(
                f"concurrency {concurrency:>2}: {line} (medians of {runs}); columns vs arrays "
                f"{figures['baseline arrays'] / figures['ours columns']:.2f}x, run by run "
                + " ".join(f"{p:.2f}" for p in pairs)
            )


async def measure_tokens(requests: int, runs: int) -> None:
    """The predictor's fast path with and without client tokens, interleaved, CPU per
    request for one row and for 100 rows (the medians of `runs`)."""
    fitted, x = models(["LR"])
    token = "Zq8dk2LmX0pQ7rTy3vBw"
    clients = ClientTokens.parse("PREDICTOR_CLIENT_TOKENS", f"web={token},batch=Hh4Jk9Lm2Nn8Pp1Q")
    with tempfile.TemporaryDirectory() as tmp:
        store = ContentStore(tmp)
        event, _ = promoted_event(store, fitted["LR"], 1)
        holder = ModelHolder()
        holder.swap(load_model(store, event, offload="never"))

        async def drop(bodies: Sequence[bytes]) -> None:
            pass

        log = PredictionLog(drop, batch_size=1024, flush_ms=200, max_buffer=10**6)
        predictor = Predictor(holder, log, MicroBatcher())
        apps = {
            "open": (
                FastPath(predictor, build_missing(), max_body_bytes=10**7, max_rows=10**4),
                (),
            ),
            "tokens": (
                FastPath(
                    predictor,
                    build_missing(),
                    max_body_bytes=10**7,
                    max_rows=10**4,
                    clients=clients,
                ),
                ((b"authorization", f"Bearer {token}".encode()),),
            ),
        }
        for rows, path in ((1, "/v1/predict"), (100, "/v1/predict/batch")):
            payload = body(x, rows, "rows")
            figures: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(runs):
                for name, (app, headers) in apps.items():
                    spent = await cpu_per_request(app, path, payload, requests, 1, log, headers)
                    figures[name].append(spent)
            median = {name: statistics.median(v) for name, v in figures.items()}
            print(
                f"{rows:>3} row(s): open {median['open']:,.1f} us, with tokens "
                f"{median['tokens']:,.1f} us per request (CPU, median of {runs}); "
                f"ratio {median['tokens'] / median['open']:.3f}"
            )


def build_missing() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("only the predict routes are measured")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client-tokens", action="store_true")
    parser.add_argument(
        "--runs", type=int, help="interleaved runs, medians reported (default 1; 5 for tokens)"
    )
    parser.add_argument("--requests", type=int, default=1600)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument(
        "--offload", default="auto", help="PREDICTOR_OFFLOAD: auto (as served), never, always"
    )
    args = parser.parse_args()
    if args.client_tokens:
        asyncio.run(measure_tokens(args.requests, args.runs or 5))
    else:
        asyncio.run(measure(args.requests, args.concurrency, args.offload, args.runs or 1))


if __name__ == "__main__":
    main()
