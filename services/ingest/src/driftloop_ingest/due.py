"""Gathered feedback rows that waited long enough with no label coming to take them.

Labels arriving take the gathered rows themselves (join.py). When they stop, a ticker asks for
the rows with a ``feedback-due`` event on ingest's own stream; the delivery that handles it
takes them into its claim and commits their version like any other. Every replica may tick:
a second event finds nothing left to take.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Literal

from driftloop_bus import Bus, Publish
from driftloop_contracts import Event, Stream
from driftloop_core.telemetry import get_logger
from pydantic import Field

from .join import JoinState

log = get_logger(__name__)


class FeedbackDue(Event):
    """Ingest's own: gathered feedback rows have waited INGEST_FEEDBACK_WAIT_S; take them."""

    event_type: Literal["ingest.feedback-due"] = "ingest.feedback-due"
    shard: int = Field(default=0, ge=0, description="The shard whose gathered rows are due.")


FEEDBACK_DUE = Stream("ingest.feedback-due.v1", FeedbackDue)


class DueTicker:
    """Every half `wait_s`, publish a feedback-due event if gathered rows are older than it."""

    def __init__(
        self,
        bus: Bus,
        join: JoinState,
        wait_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.join = join
        self.wait_s = wait_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> bool:
        """Ask for each shard's gathered rows if they are due; whether it asked."""
        asked = False
        for shard in self.bus.keys.all():
            since = await self.join.gathered_since(shard)
            if since is None or self.clock() - since < self.wait_s:
                continue
            due = FeedbackDue(producer="ingest", shard=shard.index)
            await self.bus.publish(Publish(FEEDBACK_DUE, due, shard=shard.index), durable=False)
            asked = True
        return asked

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.wait_s / 2)
            try:
                await self.tick()
            except Exception as exc:  # Redis away: the next tick tries again
                log.warning("feedback-due tick failed", error=str(exc))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
