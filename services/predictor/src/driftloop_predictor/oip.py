"""The Open Inference Protocol (KServe v2) REST endpoints, so existing OIP clients work.

The model name is the dataset: every dataset this predictor serves is a model. Inputs are
either one tensor of shape [N, F] with the features in schema order (numeric schemas), or one
tensor per feature named after it (shape [N] or [N, 1]).
Outputs: ``predict`` (class labels), ``predict_proba`` ([N, classes]) and ``prediction_id``
(send it back with the true label). Errors use the protocol's ``{"error": ...}`` shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

import numpy as np
from driftloop_core import DriftloopError, InvalidInput, NotFound
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .api import MaxRowsDep, PredictorDep
from .model import LoadedModel
from .service import Predictor

DATATYPES = {"numeric": "FP64", "categorical": "BYTES"}


class Tensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestedOutput(BaseModel):
    name: str


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[Tensor] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None
    parameters: dict[str, Any] | None = None


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = Field(default=None, description="The request's id, when it sent one.")
    outputs: list[Tensor]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1: any size.")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, list[str]] = Field(description="feature_names and classes, in order.")


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool


VERSION = "/models/{name}/versions/{version}"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'A bad request: `{"error": "..."}`.'},
    404: {"description": 'No such model or version: `{"error": "..."}`.'},
}
router = APIRouter(prefix="/v2", tags=["open inference protocol"])


def _errors(
    route: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The protocol's error shape: {"error": message} with 400 for a bad request."""

    @wraps(route)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return await route(*args, **kwargs)
        except DriftloopError as exc:
            status = 400 if exc.status_code == 422 else exc.status_code
            return JSONResponse({"error": exc.message}, status_code=status)

    return wrapped


def rows_from(tensors: list[Tensor], model: LoadedModel) -> list[dict[str, Any]]:
    names = list(model.schema.feature_names)
    if len(tensors) == 1 and len(tensors[0].shape) == 2 and tensors[0].shape[1] == len(names):
        t = tensors[0]
        try:
            values = np.asarray(t.data, dtype=object).reshape(t.shape)
        except ValueError:
            raise InvalidInput(
                f"tensor {t.name!r} has {np.asarray(t.data, dtype=object).size} values, "
                f"its shape {t.shape} needs {int(np.prod(t.shape))}"
            ) from None
        return [dict(zip(names, row, strict=True)) for row in values.tolist()]
    by_name = {t.name: t for t in tensors}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InvalidInput(
            f"send one [N, {len(names)}] tensor with the features in order {names}, "
            f"or one tensor per feature; missing {missing}"
        )
    columns = [np.asarray(by_name[n].data, dtype=object).reshape(-1).tolist() for n in names]
    if len({len(c) for c in columns}) != 1:
        raise InvalidInput("every feature tensor must hold the same number of rows")
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


async def model_named(data_plane: Predictor, name: str, version: str | None = None) -> LoadedModel:
    model = await data_plane.model(name)  # NotFound names the datasets that serve
    if version is not None and version != str(model.version):
        raise NotFound(f"model {name!r} serves version {model.version}, not {version}")
    return model


def metadata_of(name: str, model: LoadedModel) -> ModelMetadata:
    features = model.schema.features
    if model.encoder.numeric:
        inputs = [TensorMetadata(name="input-0", datatype="FP64", shape=[-1, len(features)])]
    else:
        inputs = [
            TensorMetadata(name=f.name, datatype=DATATYPES[f.kind], shape=[-1]) for f in features
        ]
    return ModelMetadata(
        name=name,
        versions=[str(model.version)],
        platform="sklearn",
        inputs=inputs,
        outputs=[
            TensorMetadata(name="predict", datatype="BYTES", shape=[-1]),
            TensorMetadata(name="predict_proba", datatype="FP64", shape=[-1, len(model.classes)]),
            TensorMetadata(name="prediction_id", datatype="BYTES", shape=[-1]),
        ],
        parameters={
            "feature_names": list(model.schema.feature_names),
            "classes": model.class_names,
        },
    )


@router.get("", summary="Server metadata")
async def server() -> ServerMetadata:
    return ServerMetadata(name="driftloop-predictor", version="1", extensions=[])


@router.get("/health/live", summary="Server liveness")
async def live() -> Live:
    return Live(live=True)


@router.get(
    "/health/ready",
    summary="Server readiness: a model serves (any dataset)",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "No model is loaded yet."}},
)
async def ready(data_plane: PredictorDep) -> JSONResponse:
    ok = bool(data_plane.models.datasets())
    return JSONResponse({"ready": ok}, status_code=200 if ok else 503)


async def metadata(data_plane: PredictorDep, name: str, version: str | None = None) -> Any:
    return metadata_of(name, await model_named(data_plane, name, version))


async def model_ready(data_plane: PredictorDep, name: str, version: str | None = None) -> Any:
    await model_named(data_plane, name, version)
    return ModelReady(name=name, ready=True)


async def infer(
    body: InferRequest,
    data_plane: PredictorDep,
    limit: MaxRowsDep,
    name: str,
    version: str | None = None,
) -> Any:
    model = await model_named(data_plane, name, version)
    key = (body.parameters or {}).get("request_key")
    rows = rows_from(body.inputs, model)
    if len(rows) > limit:
        raise InvalidInput(f"{len(rows)} rows; send at most {limit} per request")
    result = await data_plane.predict(rows, key, name)
    n = len(result.ids)
    outputs = [
        Tensor(name="predict", datatype="BYTES", shape=[n], data=result.labels),
        Tensor(
            name="predict_proba",
            datatype="FP64",
            shape=[n, len(result.classes)],
            data=result.proba.reshape(-1).tolist(),
        ),
        Tensor(name="prediction_id", datatype="BYTES", shape=[n], data=result.ids),
    ]
    if body.outputs:
        wanted = {o.name for o in body.outputs}
        outputs = [o for o in outputs if o.name in wanted]
    return InferResponse(
        model_name=name, model_version=str(result.model_version), id=body.id, outputs=outputs
    )


def _route(method: str, path: str, summary: str, model: type[BaseModel], fn: Any) -> None:
    router.add_api_route(
        path,
        _errors(fn),
        methods=[method],
        summary=summary,
        response_model=model,
        response_model_exclude_none=True,
        responses=ERRORS,
    )


_route("GET", "/models/{name}", "Model metadata", ModelMetadata, metadata)
_route("GET", VERSION, "Model version metadata", ModelMetadata, metadata)
_route("GET", "/models/{name}/ready", "Model readiness", ModelReady, model_ready)
_route("GET", f"{VERSION}/ready", "Model version readiness", ModelReady, model_ready)
_route("POST", "/models/{name}/infer", "Inference", InferResponse, infer)
_route("POST", f"{VERSION}/infer", "Inference on a version", InferResponse, infer)
