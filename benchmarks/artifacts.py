"""Model artifacts, format 1 (pickle) against format 2 (skops): size, dump and load time.

The trainer's two common families, fitted on N scenario rows behind the usual preprocessing:
logistic regression and a random forest of 100 trees (max_depth 12, the catalogue's largest
grid point). Format 1 is rebuilt here as it was (`pickle.dumps` of the payload, protocol 5);
format 2 is `dump_artifact` / `load_artifact` (skops, trusted types only). Load times are the
median of R runs; the predictor loads a model once per promotion, off the event loop.

    python -m benchmarks.artifacts [--rows 5000] [--runs 7]
"""

from __future__ import annotations

import argparse
import gc
import pickle
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from driftloop_ml import ModelArtifact, dump_artifact, feature_matrix, load_artifact
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from driftloop_trainer.training import build_pipeline, library_versions
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression


def dump_v1(artifact: ModelArtifact) -> bytes:
    """Format 1 as it was: a pickle of the pipeline and its metadata."""
    payload = {
        "format": "driftloop.sklearn-pipeline/1",
        "pipeline": artifact.pipeline,
        "schema": artifact.schema.model_dump(mode="json"),
        "classes": list(artifact.classes),
        "library_versions": artifact.library_versions,
    }
    return pickle.dumps(payload, protocol=5)


def median_ms(run: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(name: str, estimator: Any, rows: int, runs: int) -> dict[str, Any]:
    drawn = CreditScenario(11).draw(rows, "before")
    x = feature_matrix(SCHEMA, drawn.features)
    pipeline = build_pipeline(SCHEMA, estimator).fit(x, np.array(drawn.labels))
    artifact = ModelArtifact(pipeline, SCHEMA, ("no", "yes"), library_versions())
    v1, v2 = dump_v1(artifact), dump_artifact(artifact)
    loaded = load_artifact(v2).pipeline
    assert np.allclose(loaded.predict_proba(x[:200]), pipeline.predict_proba(x[:200]))
    return {
        "model": name,
        "v1 KB": len(v1) / 1024,
        "v2 KB": len(v2) / 1024,
        "v1 dump ms": median_ms(lambda: dump_v1(artifact), runs),
        "v2 dump ms": median_ms(lambda: dump_artifact(artifact), runs),
        "v1 load ms": median_ms(lambda: pickle.loads(v1), runs),
        "v2 load ms": median_ms(lambda: load_artifact(v2), runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    models = [
        ("LogisticRegression", LogisticRegression(max_iter=1000)),
        ("RandomForest 100 trees", RandomForestClassifier(100, max_depth=12, random_state=0)),
    ]
    results = [measure(name, est, args.rows, args.runs) for name, est in models]
    print(f"{args.rows} rows, median of {args.runs} runs\n")
    print(
        "| model | size v1 (pickle) | size v2 (skops) | v2/v1 | load v1 | load v2 | v2/v1 "
        "| dump v1 | dump v2 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['model']} | {r['v1 KB']:,.0f} KB | {r['v2 KB']:,.0f} KB | "
            f"{r['v2 KB'] / r['v1 KB']:.2f} | {r['v1 load ms']:.1f} ms | "
            f"{r['v2 load ms']:.1f} ms | {r['v2 load ms'] / r['v1 load ms']:.1f} | "
            f"{r['v1 dump ms']:.1f} ms | {r['v2 dump ms']:.1f} ms |"
        )


if __name__ == "__main__":
    main()
