"""The console's read side: loads what a page needs through the ports, then hands it to the
pure view functions. A service that does not answer costs its part of the page only: the page
names it, where it was asked, and what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from driftloop_contracts import DriftDetected, streams
from driftloop_contracts.codec import MalformedEvent, decode
from driftloop_contracts.streams import DLQ_SUFFIX

from .lineage import Step, lineage_chain
from .ports import GroupLag, ServiceDown, Services, Streams
from .tail import DeadLetterRow, EventRow, Filters, dead_letter_row, payload_text, tail_rows
from .timeline import Timeline, timeline
from .views import (
    DatasetRow,
    RolloutView,
    TrialRow,
    VersionRow,
    dataset_rows,
    rollout_view,
    trial_rows,
    version_rows,
)

STREAMS = [s.name for s in streams.ALL_STREAMS]
#: Streams whose entries are large (columnar batches): fewer of them in an unfiltered tail.
#: Answers of a route that does not exist (yet).
NO_ROUTE = (404, 405, 422)
#: A dataset page draws the lineage of this many newest versions (one registry call each).
LINEAGES = 10
HIGH_VOLUME = {streams.PREDICTION_LOGGED.name, streams.PREDICTION_LABELLED.name}


@dataclass
class Problems:
    """What could not be read for this page, in words a person can act on."""

    items: list[str] = field(default_factory=list)

    async def guard(self, call: Awaitable[Any], default: Any) -> Any:
        """The call's answer (JSON), or `default` with the problem noted."""
        try:
            return await call
        except ServiceDown as down:
            self.items.append(
                f"{down.service} did not answer at {down.url} ({down.reason}): is it running "
                f"(driftloop up), and is CONSOLE_{down.service.upper()}_URL right?"
            )
            return default


@dataclass(frozen=True)
class DatasetPage:
    name: str
    rows: list[VersionRow]
    chains: dict[int, list[Step]]
    rollout: RolloutView
    trials: list[TrialRow] | None  # None: the registry has no trials route yet
    champion: int | None


class ConsoleReads:
    def __init__(
        self,
        services: Services,
        streams_: Streams,
        report_base: str,
        *,
        scan: int = 500,
        tail: int = 50,
    ) -> None:
        self.services, self.streams = services, streams_
        self.report_base, self.scan, self.tail = report_base, scan, tail

    async def drifts(self) -> list[DriftDetected]:
        entries = await self.streams.newest(streams.DRIFT_DETECTED.name, self.scan)
        found = []
        for entry in entries:
            try:
                found.append(decode(entry.fields, streams.DRIFT_DETECTED))
            except MalformedEvent:
                continue  # the events page shows it; a timeline cannot
        return found

    async def datasets(self, problems: Problems) -> tuple[list[DatasetRow], list[GroupLag]]:
        registrations = await problems.guard(self.services.read("ingest", "/v1/datasets"), [])
        versions = await problems.guard(self.services.read("registry", "/v1/models"), [])
        monitor = await problems.guard(self.services.read("monitor", "/v1/drift"), None)
        rows = dataset_rows(registrations or [], versions or [], monitor, await self.drifts())
        return rows, await self.streams.lag(STREAMS)

    async def dataset(self, name: str, problems: Problems) -> DatasetPage:
        read, guard = self.services.read, problems.guard
        versions = await guard(read("registry", f"/v1/models?dataset={name}"), []) or []
        rollout = await guard(read("registry", f"/v1/models/{name}/rollout"), None)
        promotions = await guard(read("registry", f"/v1/models/{name}/promotions"), []) or []
        # Until the registry has the trials route, /v1/models/{d}/trials is read as a version
        # ("trials" is no number: 422): both mean "no trials to show".
        trials = await guard(read("registry", f"/v1/models/{name}/trials", NO_ROUTE), None)
        drifts = await self.drifts()
        newest = sorted((int(v["version"]) for v in versions), reverse=True)[:LINEAGES]
        lineages = await asyncio.gather(
            *(guard(read("registry", f"/v1/models/{name}/{v}/lineage"), None) for v in newest)
        )
        chains = {
            v: lineage_chain(found, drifts, self.report_base)
            for v, found in zip(newest, lineages, strict=True)
            if found
        }
        champion = next((int(v["version"]) for v in versions if v["status"] == "champion"), None)
        return DatasetPage(
            name=name,
            rows=version_rows(versions),
            chains=chains,
            rollout=rollout_view(rollout, promotions),
            trials=trial_rows(trials) if isinstance(trials, list) else None,
            champion=champion,
        )

    async def drift(self, name: str, problems: Problems) -> Timeline:
        read, guard = self.services.read, problems.guard
        history = await guard(read("monitor", f"/v1/drift/{name}/history"), None)
        promotions = await guard(read("registry", f"/v1/models/{name}/promotions"), []) or []
        return timeline(name, history, promotions, await self.drifts(), self.report_base)

    async def events(self, filters: Filters) -> list[EventRow]:
        chosen = [filters.stream] if filters.stream in STREAMS else STREAMS
        entries = []
        for stream in chosen:
            count = self.tail if filters.stream or stream not in HIGH_VOLUME else 5
            entries += await self.streams.newest(stream, count)
        return tail_rows(entries, filters, self.tail)

    async def dead_letters(self) -> list[DeadLetterRow]:
        lengths = await self.streams.lengths([f"{s}{DLQ_SUFFIX}" for s in STREAMS])
        rows = []
        for stream in STREAMS:
            if lengths.get(f"{stream}{DLQ_SUFFIX}"):
                dead = await self.streams.newest(f"{stream}{DLQ_SUFFIX}", self.tail)
                rows += [dead_letter_row(stream, e) for e in dead]
        return sorted(rows, key=lambda r: r.entry_id, reverse=True)

    async def dead_letter(
        self, stream: str, entry_id: str, shard: int = 0
    ) -> tuple[DeadLetterRow, str] | None:
        if stream not in STREAMS:
            return None
        entry = await self.streams.entry(f"{stream}{DLQ_SUFFIX}", entry_id, shard)
        if entry is None:
            return None
        return dead_letter_row(stream, entry), payload_text(entry.fields)


def known_dataset(rows: list[DatasetRow], name: str) -> bool:
    return any(r.name == name for r in rows)
