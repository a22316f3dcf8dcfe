"""HTTP: what the trainer knows about a dataset (rows, first-model attempts, pending retrains)."""

from typing import Any

from driftloop_core import NotFound
from fastapi import APIRouter

from .repository import Repository
from .state import DatasetState


def describe(state: DatasetState) -> dict[str, Any]:
    return {
        "dataset": state.dataset,
        "schema_fingerprint": state.schema.fingerprint() if state.schema else None,
        "rows": state.rows,
        "champion": state.champion,
        "initial": state.initial.model_dump(mode="json") if state.initial else None,
        "initial_claimed_by": state.claims.get("initial"),
        "pending_retrains": [
            {
                "drift_event_id": p.retrain.key,
                "kind": p.retrain.drift.kind,
                "model_version": p.retrain.drift.model_version,
                "onset": p.retrain.onset.isoformat(),
                "followup": p.retrain.followup,
                "failures": p.retrain.failures,
                "min_rows": p.retrain.min_rows,
                "rows_since_onset": state.rows_since.get(p.retrain.onset),
            }
            for p in state.pending
        ],
        "retrained_for": sorted(state.retrained_for),
    }


def build_router(repo: Repository) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["trainer"])

    @router.get("/datasets/{dataset}", summary="The trainer's state of a dataset")
    async def dataset_state(dataset: str) -> dict[str, Any]:
        state = await repo.load(dataset)
        if state.schema is None and state.champion is None:
            raise NotFound(f"the trainer has no data for dataset {dataset!r}")
        return describe(state)

    return router
