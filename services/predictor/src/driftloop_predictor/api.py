"""HTTP: predict one row or a batch, for the default dataset or a named one; see what serves.

The two predict routes are answered by fastpath.FastPath in production; they are declared here
too, calling the same data plane, so that they are documented in OpenAPI and usable without it.
What the routes need comes through ``Annotated`` dependencies reading ``app.state``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from driftloop_contracts import DatasetSchema, Metrics
from driftloop_core import InvalidInput, NotReady
from driftloop_core.params import DatasetPath
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from .bodies import answer_json, request_rows
from .holders import Served
from .service import Predictor


def predictor(request: Request) -> Predictor:
    data_plane: Predictor = request.app.state.predictor
    return data_plane


def max_batch_rows(request: Request) -> int:
    return int(request.app.state.max_batch_rows)


PredictorDep = Annotated[Predictor, Depends(predictor)]
MaxRowsDep = Annotated[int, Depends(max_batch_rows)]
RequestKey = Annotated[
    str | None,
    Header(description="Routes every request with the same key to the same model in a canary."),
]

router = APIRouter(prefix="/v1", tags=["predict"])


class PredictIn(BaseModel):
    features: dict[str, Any] = Field(description="Feature values keyed by feature name.")


class PredictOut(BaseModel):
    prediction_id: uuid.UUID = Field(description="Send it back with the true label later.")
    prediction: str | float = Field(description="The class, or a number (regression).")
    probability: float | None = Field(
        default=None, description="Probability of the predicted class (absent for regression)."
    )
    probabilities: dict[str, float] | None = Field(default=None, description="By class.")
    model_version: int


class BatchIn(BaseModel):
    rows: list[dict[str, Any]] | None = Field(
        default=None, min_length=1, description="Feature rows (or `columns`)."
    )
    columns: dict[str, list[Any]] | None = Field(
        default=None,
        description="Or one list of values per feature, all of one length: validated column "
        "by column and answered in columns (`predictions` holds one list per field).",
    )


class BatchItem(BaseModel):
    prediction_id: uuid.UUID
    prediction: str | float = Field(description="The class, or a number (regression).")
    probability: float | None = None
    probabilities: list[float] | None = Field(
        default=None, description="One per class, in the order of `classes` (classification)."
    )


class BatchOut(BaseModel):
    model_version: int
    classes: list[str] | None = Field(
        default=None, description="Class labels, the order of every probabilities list."
    )
    predictions: list[BatchItem]


class RolloutOut(BaseModel):
    stage: Literal["canary", "shadow"]
    model_version: int = Field(description="The candidate beside the champion.")
    share: float = Field(description="Canary: share of requests the candidate answers.")


class ModelOut(BaseModel):
    """The model serving now, and the rollout beside it."""

    model_config = ConfigDict(populate_by_name=True)

    dataset: str
    model_version: int
    promoted_at: datetime
    reason: str = Field(description="Why it serves: gate, manual, rollback, or rollout.")
    metrics: Metrics = Field(description="Holdout metrics it was promoted with.")
    dataset_schema: DatasetSchema = Field(alias="schema", description="What a row must hold.")
    correlation_id: uuid.UUID | None = Field(description="The chain that promoted it.")
    predict_ms: float = Field(description="One predict call of one row, measured at load.")
    offload: bool = Field(description="Whether predicts run in a worker thread.")
    rollout: RolloutOut | None


class ServedOut(BaseModel):
    """What serves one dataset, without loading it."""

    dataset: str
    model_version: int
    promoted_at: datetime
    reason: str
    loaded: bool = Field(
        description="In memory now. False: unloaded to stay under the memory bound; "
        "its next request loads it again."
    )
    rollout: RolloutOut | None


class ServingOut(BaseModel):
    default: str | None = Field(description="The dataset /v1/predict answers for, if any.")
    datasets: list[ServedOut]


@router.post("/predict", response_model=PredictOut, summary="Predict one row")
async def predict(
    body: PredictIn, data_plane: PredictorDep, x_request_key: RequestKey = None
) -> Response:
    """The default dataset: DRIFTLOOP_DATASET when set, else the only one served."""
    result = await data_plane.predict([body.features], x_request_key)
    return Response(result.single_json(), media_type="application/json")


@router.post("/predict/batch", response_model=BatchOut, summary="Predict many rows")
async def predict_batch(
    body: BatchIn, data_plane: PredictorDep, limit: MaxRowsDep, x_request_key: RequestKey = None
) -> Response:
    batch = request_rows(body.model_dump(exclude_none=True), single=False)
    if len(batch) > limit:
        raise InvalidInput(f"{len(batch)} rows; send at most {limit} per request")
    result = await data_plane.predict(batch, x_request_key)
    return Response(answer_json(result, batch, single=False), media_type="application/json")


@router.post(
    "/models/{dataset}/predict", response_model=PredictOut, summary="Predict one row of a dataset"
)
async def predict_dataset(
    dataset: DatasetPath,
    body: PredictIn,
    data_plane: PredictorDep,
    x_request_key: RequestKey = None,
) -> Response:
    result = await data_plane.predict([body.features], x_request_key, dataset)
    return Response(result.single_json(), media_type="application/json")


@router.post(
    "/models/{dataset}/predict/batch",
    response_model=BatchOut,
    summary="Predict many rows of a dataset",
)
async def predict_dataset_batch(
    dataset: DatasetPath,
    body: BatchIn,
    data_plane: PredictorDep,
    limit: MaxRowsDep,
    x_request_key: RequestKey = None,
) -> Response:
    batch = request_rows(body.model_dump(exclude_none=True), single=False)
    if len(batch) > limit:
        raise InvalidInput(f"{len(batch)} rows; send at most {limit} per request")
    result = await data_plane.predict(batch, x_request_key, dataset)
    return Response(answer_json(result, batch, single=False), media_type="application/json")


@router.get("/model", summary="The model serving the default dataset", response_model_by_alias=True)
async def model(data_plane: PredictorDep) -> ModelOut:
    return await model_out(data_plane, None)


@router.get("/models", summary="What serves each dataset")
async def models(data_plane: PredictorDep) -> ServingOut:
    served = data_plane.models
    listed = [served_out(name, s) for name in served.datasets() if (s := served.peek(name))]
    return ServingOut(default=served.default, datasets=listed)


@router.get(
    "/models/{dataset}", summary="The model serving one dataset", response_model_by_alias=True
)
async def dataset_model(dataset: DatasetPath, data_plane: PredictorDep) -> ModelOut:
    return await model_out(data_plane, dataset)


async def model_out(data_plane: Predictor, dataset: str | None) -> ModelOut:
    holder = await data_plane.models.holder(dataset)
    m = holder.current
    if m is None:
        raise NotReady("no model is loaded yet: none has been promoted, or loading failed")
    e = m.promoted
    rollout = holder.rollout
    return ModelOut(
        dataset=e.dataset,
        model_version=e.model_version,
        promoted_at=e.occurred_at,
        reason=getattr(e, "reason", "rollout"),
        metrics=e.metrics,
        dataset_schema=m.schema,
        correlation_id=e.correlation_id,
        predict_ms=round(m.predict_ms, 3),
        offload=m.offload,
        rollout=RolloutOut(
            stage=rollout.stage, model_version=rollout.model.version, share=rollout.share
        )
        if rollout
        else None,
    )


def served_out(dataset: str, served: Served) -> ServedOut:
    e, rollout = served.champion, served.rollout
    assert e is not None  # listed datasets have a champion
    return ServedOut(
        dataset=dataset,
        model_version=e.model_version,
        promoted_at=e.occurred_at,
        reason=getattr(e, "reason", "rollout"),
        loaded=served.loaded,
        rollout=RolloutOut(
            stage=rollout.stage,  # an ended rollout is never kept
            model_version=rollout.model_version,
            share=rollout.share,
        )
        if rollout
        else None,
    )
