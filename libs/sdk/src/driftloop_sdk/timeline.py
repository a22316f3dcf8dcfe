"""The story of a run, read back from the streams themselves (entry ids carry the time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from driftloop_contracts import streams
from driftloop_contracts.codec import entry_body

from .shards import StreamSet

#: High-volume streams are counted, not listed.
COUNTED = {
    streams.PREDICTION_LOGGED.name,
    streams.PREDICTION_LABELLED.name,
    streams.FEEDBACK_RECEIVED.name,
    streams.INGEST_RECORDS.name,
}


@dataclass(frozen=True)
class Moment:
    at_ms: int
    stream: str
    event: dict[str, Any]

    def detail(self) -> str:
        e = self.event
        kind = e.get("event_type", "")
        if kind == "data.ingested":
            return f"{e['rows']} rows from {e['source']}, version {e['version']}"
        if kind == "training.completed":
            accuracy = e["metrics"]["accuracy"]
            return f"{e['trigger']} run, holdout accuracy {accuracy:.3f}, {e['training_rows']} rows"
        if kind == "training.failed":
            return str(e["reason"])
        if kind in ("model.registered", "model.promoted", "model.rejected"):
            extra = f" ({e['reason']})" if "reason" in e else ""
            return f"v{e['model_version']}{extra}"
        if kind == "drift.detected":
            drifted = [f["feature"] for f in e["evidence"] if f["drifted"]]
            return f"{e['kind']} drift on v{e['model_version']}: {', '.join(drifted)}"
        if kind == "trial.started":
            return f"v{e['model_version']} shadows v{e['champion_version']} in a live trial"
        if kind == "trial.decided":
            return f"v{e['model_version']} {e['decision']}: {e['reason']}"
        if kind == "model.rollout":
            return f"v{e['model_version']} {e['stage']} {e['outcome']}"
        if kind == "data.rejected":
            return f"{len(e['rejected'])} rows rejected"
        return ""


def read_timeline(shards: StreamSet) -> tuple[list[Moment], dict[str, int]]:
    """Every event of the low-volume streams over every shard, oldest first, and a count of
    each high-volume stream."""
    moments: list[Moment] = []
    counts: dict[str, int] = {}
    for stream in streams.ALL_STREAMS:
        if stream.name in COUNTED:
            counts[stream.name] = shards.length(stream.name)
            continue
        for found in shards.everything(stream.name):
            event = orjson.loads(entry_body(found.fields))
            if event.get("source") == "feedback":  # one small version per label batch
                counts["data.ingested (feedback)"] = counts.get("data.ingested (feedback)", 0) + 1
                continue
            at_ms = int(found.entry_id.split("-")[0])
            moments.append(Moment(at_ms, stream.name, event))
    moments.sort(key=lambda m: m.at_ms)
    return moments, counts
