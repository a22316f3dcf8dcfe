"""Prediction logging that never makes a request wait on Redis, and costs it almost nothing.

A request appends one tuple (its rows, ids, answers) to a bounded buffer. A background task
turns the buffer into prediction.logged events (JSON written directly with orjson, checked
against the contract in the tests) and publishes them pipelined. While Redis is unreachable
the buffer fills; beyond ``max_buffer`` rows the oldest are dropped and counted; when Redis
returns, publishing resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from driftloop_contracts.columnar import prediction_log_body
from driftloop_core.telemetry import get_logger
from prometheus_client import Counter, Gauge

LOGS_DROPPED = Counter(
    "driftloop_predictor_logs_dropped_total", "Predictions dropped from a full log buffer."
)
LOGS_BUFFERED = Gauge("driftloop_predictor_logs_buffered", "Predictions waiting to be published.")
LOG_PUBLISH_FAILURES = Counter(
    "driftloop_predictor_log_publish_failures_total", "Failed attempts to publish prediction logs."
)

#: Publishes prediction.logged bodies (JSON).
Publisher = Callable[[Sequence[bytes]], Awaitable[None]]
log = get_logger(__name__)
PRODUCER = "predictor"


@dataclass(slots=True, frozen=True)
class Logged:
    """What one request predicted; `features` in the order of `feature_names` (a float
    matrix from the fast path, lists of values otherwise)."""

    dataset: str
    model_version: int
    role: str
    feature_names: Sequence[str]
    ids: Sequence[str]
    features: np.ndarray | Sequence[Sequence[Any]]
    labels: Sequence[str] | Sequence[float]  # classes, or numbers (regression)
    probabilities: np.ndarray | None  # of the predicted class; None for regression
    predicted_at_ms: int

    def __len__(self) -> int:
        return len(self.ids)


class PredictionLog:
    def __init__(
        self, publish: Publisher, *, batch_size: int, flush_ms: int, max_buffer: int
    ) -> None:
        self._publish = publish
        self._batch_size = batch_size
        self._flush_s = flush_ms / 1000
        self._max = max_buffer
        self._buffer: deque[Logged] = deque()
        self._rows = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def add(self, entry: Logged) -> None:
        """Never blocks and never raises: the request path calls this."""
        self._buffer.append(entry)
        self._rows += len(entry)
        self._trim()
        if self._rows >= self._batch_size:
            self._wake.set()

    def _trim(self) -> None:
        """Drop the oldest predictions beyond the bound, counting them."""
        dropped = 0
        while self._rows > self._max and self._buffer:
            oldest = self._buffer.popleft()
            self._rows -= len(oldest)
            dropped += len(oldest)
        if dropped:
            LOGS_DROPPED.inc(dropped)

    def __len__(self) -> int:
        return self._rows

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="prediction-log")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the background task by a flag, then publish what is left.

        Not by cancelling it alone: on Python 3.11 `asyncio.wait_for` can swallow a
        cancellation that lands as its inner wait completes, and the loop then ran forever,
        hanging the service's shutdown."""
        self._stopping = True
        self._wake.set()
        if self._task:
            _, running = await asyncio.wait({self._task}, timeout=timeout)
            for task in running:  # a publish stuck on a dead connection
                task.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                await self.flush()

    async def _run(self) -> None:
        backoff = self._flush_s
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                backoff = self._flush_s
            except Exception as exc:
                LOG_PUBLISH_FAILURES.inc()
                log.warning(
                    "prediction logs not published, will retry", error=str(exc), buffered=self._rows
                )
                backoff = min(backoff * 2, 5.0)
                if not self._stopping:
                    await asyncio.sleep(backoff)
            LOGS_BUFFERED.set(self._rows)

    async def flush(self) -> None:
        """Publish everything buffered; a failed batch goes back to the front, in order."""
        while self._buffer:
            batch: list[Logged] = []
            rows = 0
            while self._buffer and rows < self._batch_size:
                entry = self._buffer.popleft()
                batch.append(entry)
                rows += len(entry)
            self._rows -= rows
            try:
                await self._publish(encode_events(batch))
            except BaseException:
                self._buffer.extendleft(reversed(batch))
                self._rows += rows
                self._trim()  # requests kept adding while this batch was out
                raise


class LogBody(bytes):
    """A prediction.logged body that knows its dataset (the shard it is published to)."""

    dataset: str

    def __new__(cls, body: bytes, dataset: str) -> LogBody:
        made = super().__new__(cls, body)
        made.dataset = dataset
        return made


def encode_events(batch: Sequence[Logged]) -> list[bytes]:
    """prediction.logged bodies (columnar, see the contract), one per dataset, model version
    and role; each a LogBody."""
    groups: dict[tuple[str, int, str], list[Logged]] = {}
    for entry in batch:
        groups.setdefault((entry.dataset, entry.model_version, entry.role), []).append(entry)
    return [
        LogBody(_body(dataset, version, role, entries), dataset)
        for (dataset, version, role), entries in groups.items()
    ]


def _body(dataset: str, version: int, role: str, entries: Sequence[Logged]) -> bytes:
    return prediction_log_body(
        producer=PRODUCER,
        dataset=dataset,
        model_version=version,
        role=role,
        prediction_ids=[i for e in entries for i in e.ids],
        features=_columns(entries),
        predictions=[label for e in entries for label in e.labels],
        scores=_scores(entries),
        predicted_at_ms=[e.predicted_at_ms for e in entries for _ in e.ids],
    )


def _scores(entries: Sequence[Logged]) -> np.ndarray | None:
    """The probability of each predicted class, or None (regression: no probabilities)."""
    probabilities = [e.probabilities for e in entries]
    if any(p is None for p in probabilities):
        return None
    return np.round(np.concatenate(probabilities), 4)  # type: ignore[arg-type]


def _columns(entries: Sequence[Logged]) -> dict[str, Any]:
    """One array per feature; numeric matrices (the fast path) stay numpy end to end."""
    names = entries[0].feature_names
    if all(isinstance(e.features, np.ndarray) for e in entries):
        matrix = np.asarray(
            np.concatenate([e.features for e in entries])
            if len(entries) > 1
            else entries[0].features
        )
        if matrix.dtype == object:  # a mixed schema's columnar request: one list per column
            return {name: matrix[:, j].tolist() for j, name in enumerate(names)}
        columns = np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T)
        return dict(zip(names, columns, strict=True))
    rows: list[Any] = []
    for e in entries:
        rows.extend(e.features.tolist() if isinstance(e.features, np.ndarray) else e.features)
    return dict(zip(names, (list(c) for c in zip(*rows, strict=True)), strict=True))
