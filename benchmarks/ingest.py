"""Records per second through ingest's records path, on one core: decode the stream entry (the
runner's driftloop_contracts.codec.decode, pydantic), validate (policy.decide_records), and
write the version (bytes, sha256, file in a content store).

Events are records.submitted of the demo schema (libs/sdk scenario), 500 records each (the
SDK's batch), delivered 10 entries at a time, with observed_at as the SDK sends it, or without.
Each round handles every event once into a fresh store; the figure is records per CPU second
of this process (time.process_time: what the core spent, not time waiting for it), median and
best of the rounds, with wall-clock figures alongside. The whole path runs once with CPython's
garbage-collector defaults, then every stage with ingest's settings (gc_tuning.py, applied
at the service's start). The row-by-row path (one validate_features / validate_label per row,
a dict and a sorted-keys dump per row) runs on the same events for comparison.

    taskset -c 0 python -m benchmarks.ingest [--records 20000] [--rounds 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from driftloop_contracts import Record, RecordsSubmitted, streams, utcnow
from driftloop_contracts.codec import DATA_FIELD, decode, encode
from driftloop_contracts.datasets import LabelledRow, dumps
from driftloop_contracts.rows import RowError, validate_features, validate_label
from driftloop_core import ContentStore
from driftloop_ingest.gc_tuning import tune_gc
from driftloop_ingest.policy import StoreVersion, decide_records
from driftloop_ingest.service import Schemas
from driftloop_ingest.versions import store_version
from driftloop_sdk.scenario import SCHEMA, CreditScenario

PER_EVENT = 500
PER_DELIVERY = 10
Entries = list[dict[bytes, bytes]]
SCHEMAS = Schemas([SCHEMA])
DEFAULT_GC = gc.get_threshold()


def make_entries(records: int, observed: bool, seed: int = 11) -> Entries:
    scenario, now = CreditScenario(seed), utcnow()
    entries = []
    for _ in range(records // PER_EVENT):
        drawn = scenario.draw(PER_EVENT, "before")
        rows = [
            Record(features=f, label=y, observed_at=now if observed else None)
            for f, y in zip(drawn.features, drawn.labels, strict=True)
        ]
        entries.append(encode(RecordsSubmitted(producer="bench", dataset="demo", records=rows)))
    return entries


def deliveries(entries: Entries) -> list[Entries]:
    return [entries[i : i + PER_DELIVERY] for i in range(0, len(entries), PER_DELIVERY)]


def columnar(entries: Entries, store: ContentStore, now: datetime) -> int:
    """Ingest's records path: decode, decide, store each version. Returns rows stored."""
    stored = 0
    for delivery in deliveries(entries):
        events = [decode(fields, streams.INGEST_RECORDS) for fields in delivery]
        for effect in decide_records(SCHEMAS, events, now):
            if isinstance(effect, StoreVersion):
                stored += store_version(store, effect.rows).rows
    return stored


def row_by_row(entries: Entries, store: ContentStore, now: datetime) -> int:
    """The same work one row at a time, as ingest did it: the reference point."""
    stored = 0
    for delivery in deliveries(entries):
        good: list[LabelledRow] = []
        for fields in delivery:
            body = orjson.loads(fields[DATA_FIELD])
            event = RecordsSubmitted.model_validate(body)
            for r in event.records:
                try:
                    features = validate_features(SCHEMA, r.features)
                    good.append(
                        LabelledRow(features, validate_label(SCHEMA, r.label), r.observed_at or now)
                    )
                except RowError:
                    continue
        data = dumps(sorted(good, key=lambda row: row.observed_at))
        store.put(data, kind="datasets/demo", suffix=".jsonl")
        stored += len(good)
    return stored


def decode_only(entries: Entries, store: ContentStore, now: datetime) -> int:
    return sum(len(decode(f, streams.INGEST_RECORDS).records) for f in entries)


def validate_only(events: Sequence[RecordsSubmitted]) -> Callable[..., int]:
    def run(entries: Entries, store: ContentStore, now: datetime) -> int:
        effects = decide_records(SCHEMAS, events, now)
        return sum(len(e.rows) for e in effects if isinstance(e, StoreVersion))

    return run


def write_only(effects: Sequence[StoreVersion]) -> Callable[..., int]:
    def run(entries: Entries, store: ContentStore, now: datetime) -> int:
        return sum(store_version(store, e.rows).rows for e in effects)

    return run


def measure(path: Callable[..., int], entries: Entries, rounds: int, work: Path) -> dict[str, Any]:
    cpu, wall, rows = [], [], 0
    for r in range(rounds):
        store, now = ContentStore(str(work / f"{path.__name__}-{r}")), utcnow()
        c0, w0 = time.process_time(), time.perf_counter()
        rows = path(entries, store, now)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {
        "rows": rows,
        "per_cpu_s_median": round(rows / statistics.median(cpu)),
        "per_cpu_s_best": round(rows / min(cpu)),
        "per_wall_s_median": round(rows / statistics.median(wall)),
    }


def run(records: int, rounds: int, observed: bool, work: Path) -> dict[str, Any]:
    entries = make_entries(records, observed)
    events = [decode(f, streams.INGEST_RECORDS) for f in entries]
    now = utcnow()
    effects = [
        e
        for d in range(0, len(events), PER_DELIVERY)
        for e in decide_records(SCHEMAS, events[d : d + PER_DELIVERY], now)
        if isinstance(e, StoreVersion)
    ]
    stages: dict[str, Callable[..., int]] = {
        "decode + validate + write (ingest)": columnar,
        "decode alone": decode_only,
        "validate alone": validate_only(events),
        "write alone (bytes, sha256, file)": write_only(effects),
        "row by row (reference)": row_by_row,
    }
    gc.unfreeze()  # CPython's defaults first, then ingest's (gc_tuning.py)
    gc.set_threshold(*DEFAULT_GC)
    whole = "decode + validate + write, CPython's GC defaults"
    defaults = {whole: measure(columnar, entries, rounds, work)}
    tune_gc()
    return defaults | {name: measure(path, entries, rounds, work) for name, path in stages.items()}


def markdown(results: dict[str, Any]) -> str:
    out = [
        f"records.submitted of the demo schema, {results['records']:,} records, "
        f"{PER_EVENT} per event, {PER_DELIVERY} events per delivery, {results['rounds']} rounds",
        "",
        "| observed_at | path | records per CPU s (median) | best | per wall s (median) |",
        "|---|---|---:|---:|---:|",
    ]
    for observed, stages in results["runs"].items():
        for name, m in stages.items():
            out.append(
                f"| {observed} | {name} | {m['per_cpu_s_median']:,} | {m['per_cpu_s_best']:,} "
                f"| {m['per_wall_s_median']:,} |"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path(".driftloop/bench-ingest.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"records": args.records, "rounds": args.rounds, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for observed in (True, False):
            label = "sent" if observed else "absent (ingest time)"
            results["runs"][label] = run(args.records, args.rounds, observed, Path(tmp))
    print(markdown(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
