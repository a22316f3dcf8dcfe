"""The Open Inference Protocol (KServe v2) REST endpoints, so existing OIP clients work.

The model name is the dataset: every dataset this predictor serves is a model. Inputs are
either one tensor of shape [N, F] with the features in schema order (numeric schemas), or one
tensor per feature named after it (shape [N] or [N, 1]).
Outputs: ``predict`` (class labels), ``predict_proba`` ([N, classes]) and ``prediction_id``
(regression: ``predict`` as FP64 numbers, no ``predict_proba``)
(send it back with the true label). Errors use the protocol's ``{"error": ...}`` shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from driftloop_core import DriftloopError, InvalidInput, NotFound
from driftloop_core.params import DatasetPath
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from . import tensors
from .api import MaxRowsDep, PredictorDep
from .model import LoadedModel
from .service import Predictor

DATATYPES = {"numeric": "FP64", "categorical": "BYTES"}
INFER_DOC = (
    "JSON (any or no Content-Type), or the binary tensor data extension: a JSON header of "
    "`Inference-Header-Content-Length` bytes, then the inputs that carry "
    "`parameters.binary_data_size`. Outputs are binary where the request asks "
    "(`parameters.binary_data_output`, or `binary_data` per requested output)."
)


class Tensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
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
INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
        "outputs": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
        "parameters": {"type": "object"},
    },
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'A bad request: `{"error": "...", "message": "..."}` (the same text).'},
    404: {"description": 'No such model or version: `{"error": "...", "message": "..."}`.'},
}
router = APIRouter(prefix="/v2", tags=["open inference protocol"])


def _errors(
    route: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The protocol's error shape, {"error": message} with 400 for a bad request; "message"
    repeats it so that a reader of driftloop's one shape finds it too."""

    @wraps(route)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return await route(*args, **kwargs)
        except DriftloopError as exc:
            status = 400 if exc.status_code == 422 else exc.status_code
            body = {"error": exc.message, "message": exc.message}
            return JSONResponse(body, status_code=status)

    return wrapped


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
        outputs=_outputs(model),
        parameters={
            "feature_names": list(model.schema.feature_names),
            "classes": model.class_names,
        },
    )


def _outputs(model: LoadedModel) -> list[TensorMetadata]:
    """predict (class labels) and predict_proba; regression: predict as numbers only."""
    ids = TensorMetadata(name="prediction_id", datatype="BYTES", shape=[-1])
    if model.regression:
        return [TensorMetadata(name="predict", datatype="FP64", shape=[-1]), ids]
    return [
        TensorMetadata(name="predict", datatype="BYTES", shape=[-1]),
        TensorMetadata(name="predict_proba", datatype="FP64", shape=[-1, len(model.classes)]),
        ids,
    ]


@router.get("", summary="Server metadata")
async def server() -> ServerMetadata:
    return ServerMetadata(
        name="driftloop-predictor", version="1", extensions=["binary_tensor_data"]
    )


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


async def metadata(data_plane: PredictorDep, name: DatasetPath, version: str | None = None) -> Any:
    return metadata_of(name, await model_named(data_plane, name, version))


async def model_ready(
    data_plane: PredictorDep, name: DatasetPath, version: str | None = None
) -> Any:
    await model_named(data_plane, name, version)
    return ModelReady(name=name, ready=True)


async def infer(
    request: Request,
    data_plane: PredictorDep,
    limit: MaxRowsDep,
    name: DatasetPath,
    version: str | None = None,
) -> Any:
    model = await model_named(data_plane, name, version)
    body = tensors.decode(await request.body(), request.headers)
    tensors.check_outputs(body, [o.name for o in _outputs(model)])
    batch = tensors.columns_for(body.inputs, model.schema)
    if len(batch) > limit:
        raise InvalidInput(f"{len(batch)} rows; send at most {limit} per request")
    key = body.parameters.get("request_key") or request.headers.get("x-request-key")
    result = await data_plane.predict(batch, None if key is None else str(key), name)
    n = len(result.ids)
    if result.proba is None:  # regression: the predicted numbers, no probabilities
        predicted = [tensors.OutputTensor("predict", "FP64", [n], result.labels)]
    else:
        predicted = [
            tensors.OutputTensor("predict", "BYTES", [n], result.labels),
            tensors.OutputTensor(
                "predict_proba", "FP64", [n, len(result.classes)], result.proba.reshape(-1)
            ),
        ]
    outputs = [*predicted, tensors.OutputTensor("prediction_id", "BYTES", [n], result.ids)]
    header: dict[str, Any] = {"model_name": name, "model_version": str(result.model_version)}
    if body.id is not None:
        header["id"] = body.id
    content, headers = tensors.encode_response(header, outputs, body)
    return Response(content, headers=headers)


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
for _path in ("/models/{name}/infer", f"{VERSION}/infer"):
    router.add_api_route(
        _path,
        _errors(infer),
        methods=["POST"],
        summary="Inference" if _path.count("/") == 3 else "Inference on a version",
        description=INFER_DOC,
        response_model=InferResponse,
        response_model_exclude_none=True,
        responses=ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": INFER_REQUEST}},
            }
        },
    )
