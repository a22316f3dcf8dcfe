"""Prediction logging that never makes a request wait on Redis.

Requests append to a bounded in-memory buffer; a background task publishes it in batches of
prediction.logged events. While Redis is unreachable the buffer fills; when it is full the
oldest predictions are dropped and counted; when Redis returns, publishing resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from driftloop_contracts import PredictionRecord, PredictionsLogged, streams
from driftloop_core import Publish
from driftloop_core.telemetry import get_logger
from prometheus_client import Counter, Gauge

LOGS_DROPPED = Counter(
    "driftloop_predictor_logs_dropped_total", "Predictions dropped from a full log buffer."
)
LOGS_BUFFERED = Gauge("driftloop_predictor_logs_buffered", "Predictions waiting to be published.")
LOG_PUBLISH_FAILURES = Counter(
    "driftloop_predictor_log_publish_failures_total", "Failed attempts to publish prediction logs."
)

Publisher = Callable[..., Awaitable[None]]
log = get_logger(__name__)
PRODUCER = "predictor"


class PredictionLog:
    def __init__(
        self, publish: Publisher, *, batch_size: int, flush_ms: int, max_buffer: int
    ) -> None:
        self._publish = publish
        self._batch_size = batch_size
        self._flush_s = flush_ms / 1000
        self._max = max_buffer
        self._buffer: deque[tuple[str, int, PredictionRecord]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, dataset: str, model_version: int, records: Sequence[PredictionRecord]) -> None:
        """Never blocks and never raises: the request path calls this."""
        self._buffer.extend((dataset, model_version, r) for r in records)
        self._trim()
        LOGS_BUFFERED.set(len(self._buffer))
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def _trim(self) -> None:
        """Drop the oldest predictions beyond the bound, counting them."""
        overflow = len(self._buffer) - self._max
        if overflow > 0:
            for _ in range(overflow):
                self._buffer.popleft()
            LOGS_DROPPED.inc(overflow)

    def __len__(self) -> int:
        return len(self._buffer)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="prediction-log")

    async def stop(self, timeout: float = 5.0) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout)

    async def _run(self) -> None:
        backoff = self._flush_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            self._wake.clear()
            try:
                await self.flush()
                backoff = self._flush_s
            except Exception as exc:
                LOG_PUBLISH_FAILURES.inc()
                log.warning(
                    "prediction logs not published, will retry",
                    error=str(exc),
                    buffered=len(self._buffer),
                )
                backoff = min(backoff * 2, 5.0)
                await asyncio.sleep(backoff)

    async def flush(self) -> None:
        """Publish everything buffered, batch by batch; a failed batch goes back to the front."""
        while self._buffer:
            batch = [
                self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))
            ]
            try:
                await self._publish(*_events(batch))
            except BaseException:
                self._buffer.extendleft(reversed(batch))
                self._trim()  # requests kept adding while this batch was out
                raise
            finally:
                LOGS_BUFFERED.set(len(self._buffer))


def _events(batch: list[tuple[str, int, PredictionRecord]]) -> list[Publish]:
    groups: dict[tuple[str, int], list[PredictionRecord]] = {}
    for dataset, version, record in batch:
        groups.setdefault((dataset, version), []).append(record)
    return [
        Publish(
            streams.PREDICTION_LOGGED,
            PredictionsLogged(producer=PRODUCER, dataset=d, model_version=v, predictions=tuple(rs)),
        )
        for (d, v), rs in groups.items()
    ]
