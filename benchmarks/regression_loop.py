"""The regression loop measured through public interfaces, on an embedded Redis with the
services' default settings: v1 trained on 2,000 rows of the houses scenario (libs/sdk), then
`--stationary` rows predicted over HTTP with their labels sent back (false alarms), then the
relation changes (concept drift, the features keep their distribution) and rows continue
until a new model serves, then `--after` more. Prints the served model's MAE per phase, the
drift events (kind @ post-drift rows sent when first seen) and the rows until the new model.

    python -m benchmarks.regression_loop [--stationary 5000] [--after 2000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from driftloop_contracts import Record, streams, utcnow
from driftloop_contracts.codec import decode
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import HouseScenario, Phase

ENV = {"LOG_LEVEL": "WARNING", "DRIFTLOOP_DATASET": "houses"}
INITIAL = 2000


class Loop:
    def __init__(self, stack: Stack) -> None:
        self.client = DriftloopClient(stack.endpoints)
        self.redis = stack.connect("admin")
        self.namespace = stack.namespace
        self.scenario = HouseScenario(17)

    def serve(self, phase: Phase) -> tuple[int, list[float]]:
        """100 rows predicted and labelled; (version, absolute errors)."""
        drawn = self.scenario.draw(100, phase)
        answer = self.client.predict_batch(drawn.features)
        predictions = answer["predictions"]
        values = np.array([p["prediction"] for p in predictions])
        self.client.send_labels(
            [
                {"prediction_id": p["prediction_id"], "label": y}
                for p, y in zip(predictions, drawn.labels, strict=True)
            ]
        )
        errors = np.abs(values - np.array(drawn.labels, dtype=float)).tolist()
        return int(answer["model_version"]), errors

    def drift_kinds(self) -> list[str]:
        entries = self.redis.xrange(streams.DRIFT_DETECTED.key(self.namespace)) or []
        return [decode(fields, streams.DRIFT_DETECTED).kind for _, fields in entries]  # type: ignore[arg-type]


def run(stationary: int, after: int) -> None:
    state = Path(tempfile.mkdtemp(prefix="driftloop-regression-"))
    with Stack(state, schemas=(HouseScenario.schema,), env=ENV, sink=None) as stack:
        loop = Loop(stack)
        drawn, now = loop.scenario.draw(INITIAL, "before"), utcnow()
        publisher = EventPublisher(
            stack.redis_url, namespace=stack.namespace, login=stack.login("client")
        )
        publisher.submit_records(
            "houses",
            [
                Record(features=f, label=y, observed_at=now)
                for f, y in zip(drawn.features, drawn.labels, strict=True)
            ],
        )
        publisher.close()
        while True:
            try:
                if loop.client.serving_model()["model_version"] == 1:
                    break
            except Exception:
                stack.check_alive()
        before: list[float] = []
        for _ in range(stationary // 100):
            before += loop.serve("before")[1]
        false_alarms = loop.drift_kinds()
        sent, version = 0, 1
        seen: dict[str, int] = {}
        v1_after: list[float] = []
        while version == 1 and sent < 30_000:
            version, errors = loop.serve("after")
            sent += 100
            if version == 1:
                v1_after += errors
            for kind in loop.drift_kinds():
                seen.setdefault(kind, sent)
        swapped_at = sent
        recovered: list[float] = []
        for _ in range(after // 100):
            recovered += loop.serve("after")[1]
        print(f"v1 MAE before drift ({stationary:,} rows): {np.mean(before):.1f}")
        print(f"drift events before the drift: {false_alarms or 'none'}")
        print(f"v1 MAE after drift: {np.mean(v1_after):.1f}")
        print(f"drift events (kind@post-drift rows sent): {seen}")
        print(f"v{version} served after {swapped_at:,} post-drift rows")
        print(f"v{version} MAE over the next {after:,} rows: {np.mean(recovered):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stationary", type=int, default=5000)
    parser.add_argument("--after", type=int, default=2000)
    args = parser.parse_args()
    run(args.stationary, args.after)


if __name__ == "__main__":
    main()
