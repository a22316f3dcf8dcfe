"""Events with made-up blobs, for tests that never open them (no store, no training), signed
with the session key as the trainer signs them."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from driftloop_contracts import BlobRef, DatasetSchema, Metrics, TrainingCompleted
from driftloop_sdk.scenario import CreditScenario

from .signing import signed

SCHEMA: DatasetSchema = CreditScenario.schema


def blob(kind: str, content: str) -> BlobRef:
    sha = hashlib.sha256(content.encode()).hexdigest()
    return BlobRef(key=f"{kind}/{sha[:2]}/{sha}", sha256=sha, size=len(content))


def completed(dataset: str = "demo", accuracy: float = 0.8, **changes: Any) -> TrainingCompleted:
    run_id = changes.pop("run_id", uuid.uuid4())
    fields: dict[str, Any] = {
        "producer": "trainer",
        "run_id": run_id,
        "dataset": dataset,
        "trigger": "initial",
        "artifact": blob("models", f"model {run_id}"),
        "profile": blob("profiles", f"profile {run_id}"),
        "holdout": blob("holdouts", f"holdout {run_id}"),
        "metrics": Metrics(accuracy=accuracy, f1_macro=accuracy - 0.05, rows=200),
        "params": {"C": 1.0},
        "seed": 42,
        "library_versions": {"python": "3.11.9", "scikit-learn": "1.6.1"},
        "dataset_versions": ("0123456789abcdef",),
        "training_rows": 800,
        "dataset_schema": SCHEMA.model_copy(update={"name": dataset}),
    }
    fields.update(changes)
    return signed(TrainingCompleted(**fields))  # as the trainer publishes it
