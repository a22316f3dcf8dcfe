"""What a signature costs: canonical bytes, sign and verify of the three signed events, per
event, on one core (median of several rounds).

    python -m benchmarks.signing [--events 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from driftloop_contracts import ModelPromoted, RolloutChanged, TrainingCompleted
from driftloop_core.signing import Signer, canonical_bytes, check_decision, generate

from benchmarks.keys import signer as session_signer
from tests.support.events import blob, completed


def events() -> dict[str, Any]:
    session_signer()  # tests.support signs what it builds with the session key
    run = completed()
    common = {
        "producer": "registry",
        "dataset": run.dataset,
        "model_version": 3,
        "artifact": run.artifact,
        "profile": blob("profiles", "p"),
        "metrics": run.metrics,
        "dataset_schema": run.dataset_schema,
        "sequence": 7,
    }
    return {
        "training.completed": run.model_copy(update={"signature": None}),
        "model.promoted": ModelPromoted(previous_version=2, reason="gate", **common),
        "model.rollout": RolloutChanged(stage="canary", outcome="started", share=0.2, **common),
    }


def per_event_us(fn: Callable[[], object], n: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            fn()
        times.append((time.process_time() - started) / n * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    signer = Signer.from_base64(generate()[0])
    verifier = signer.verifier("registry")
    print("| event | JSON bytes | canonical bytes µs | sign µs | verify µs |")
    print("|---|---:|---:|---:|---:|")
    for name, event in events().items():
        signed: TrainingCompleted | ModelPromoted | RolloutChanged = signer.sign(event)
        size = len(signed.model_dump_json())
        cost = [
            per_event_us(lambda e=event: canonical_bytes(e), args.events, args.rounds),
            per_event_us(lambda e=event: signer.sign(e), args.events, args.rounds),
            per_event_us(lambda s=signed: check_decision(s, verifier), args.events, args.rounds),
        ]
        print(f"| {name} | {size:,} | " + " | ".join(f"{c:.1f}" for c in cost) + " |")


if __name__ == "__main__":
    main()
