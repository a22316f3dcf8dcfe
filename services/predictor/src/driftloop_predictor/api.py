"""HTTP: predict one row or a batch; see which model serves.

The two predict routes are answered by fastpath.FastPath in production; they are declared here
too, calling the same data plane, so that they are documented in OpenAPI and usable without it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from driftloop_core import InvalidInput
from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .service import Predictor

RequestKey = Annotated[
    str | None,
    Header(description="Routes every request with the same key to the same model in a canary."),
]


class PredictIn(BaseModel):
    features: dict[str, Any] = Field(description="Feature values keyed by feature name.")


class PredictOut(BaseModel):
    prediction_id: uuid.UUID = Field(description="Send it back with the true label later.")
    prediction: str
    probability: float = Field(description="Probability of the predicted class.")
    probabilities: dict[str, float]
    model_version: int


class BatchIn(BaseModel):
    rows: list[dict[str, Any]] = Field(min_length=1, description="Feature rows.")


class BatchItem(BaseModel):
    prediction_id: uuid.UUID
    prediction: str
    probability: float
    probabilities: list[float] = Field(description="One per class, in the order of `classes`.")


class BatchOut(BaseModel):
    model_version: int
    classes: list[str] = Field(description="Class labels, the order of every probabilities list.")
    predictions: list[BatchItem]


def build_router(predictor: Predictor, max_batch_rows: int) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["predict"])

    @router.post("/predict", response_model=PredictOut, summary="Predict one row")
    async def predict(body: PredictIn, x_request_key: RequestKey = None) -> Response:
        result = await predictor.predict([body.features], x_request_key)
        return Response(result.single_json(), media_type="application/json")

    @router.post("/predict/batch", response_model=BatchOut, summary="Predict many rows")
    async def predict_batch(body: BatchIn, x_request_key: RequestKey = None) -> Response:
        if len(body.rows) > max_batch_rows:
            raise InvalidInput(f"{len(body.rows)} rows; send at most {max_batch_rows} per request")
        result = await predictor.predict(body.rows, x_request_key)
        return Response(result.batch_json(), media_type="application/json")

    @router.get("/model", summary="The model serving now")
    async def model() -> dict[str, Any]:
        m = predictor.model()
        e = m.promoted
        return {
            "dataset": e.dataset,
            "model_version": e.model_version,
            "promoted_at": e.occurred_at.isoformat(),
            "reason": getattr(e, "reason", "rollout"),
            "metrics": e.metrics.model_dump(),
            "schema": m.schema.model_dump(),
            "correlation_id": str(e.correlation_id),
            "predict_ms": round(m.predict_ms, 3),
            "offload": m.offload,
            "rollout": _rollout(predictor),
        }

    return router


def _rollout(predictor: Predictor) -> dict[str, Any] | None:
    rollout = predictor.holder.rollout
    if rollout is None:
        return None
    return {"stage": rollout.stage, "model_version": rollout.model.version, "share": rollout.share}
