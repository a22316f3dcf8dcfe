"""The Open Inference Protocol (KServe v2) REST endpoints, so existing OIP clients work.

The model name is the dataset. Inputs are either one tensor of shape [N, F] with the features in
schema order (numeric schemas), or one tensor per feature named after it (shape [N] or [N, 1]).
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


def build_router(predictor: Predictor, max_rows: int) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["open inference protocol"])

    def model_named(name: str, version: str | None = None) -> LoadedModel:
        model = predictor.model()
        if model.promoted.dataset != name:
            raise NotFound(
                f"no model named {name!r}; this predictor serves {model.promoted.dataset!r}"
            )
        if version is not None and version != str(model.version):
            raise NotFound(f"model {name!r} serves version {model.version}, not {version}")
        return model

    @router.get("", summary="Server metadata")
    async def server() -> dict[str, Any]:
        return {"name": "driftloop-predictor", "version": "1", "extensions": []}

    @router.get("/health/live", summary="Server liveness")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @router.get("/health/ready", summary="Server readiness: a model is loaded")
    async def ready() -> JSONResponse:
        ok = predictor.holder.current is not None
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    async def metadata(name: str, version: str | None = None) -> dict[str, Any]:
        model = model_named(name, version)
        features = model.schema.features
        if model.encoder.numeric:
            inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, len(features)]}]
        else:
            inputs = [
                {"name": f.name, "datatype": DATATYPES[f.kind], "shape": [-1]} for f in features
            ]
        return {
            "name": name,
            "versions": [str(model.version)],
            "platform": "sklearn",
            "inputs": inputs,
            "outputs": [
                {"name": "predict", "datatype": "BYTES", "shape": [-1]},
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(model.classes)]},
                {"name": "prediction_id", "datatype": "BYTES", "shape": [-1]},
            ],
            "parameters": {
                "feature_names": list(model.schema.feature_names),
                "classes": model.class_names,
            },
        }

    async def model_ready(name: str, version: str | None = None) -> dict[str, Any]:
        model_named(name, version)
        return {"name": name, "ready": True}

    async def infer(body: InferRequest, name: str, version: str | None = None) -> dict[str, Any]:
        model = model_named(name, version)
        key = (body.parameters or {}).get("request_key")
        rows = rows_from(body.inputs, model)
        if len(rows) > max_rows:
            raise InvalidInput(f"{len(rows)} rows; send at most {max_rows} per request")
        result = await predictor.predict(rows, key)
        n = len(result.ids)
        outputs = [
            {"name": "predict", "datatype": "BYTES", "shape": [n], "data": result.labels},
            {
                "name": "predict_proba",
                "datatype": "FP64",
                "shape": [n, len(result.classes)],
                "data": result.proba.reshape(-1).tolist(),
            },
            {"name": "prediction_id", "datatype": "BYTES", "shape": [n], "data": result.ids},
        ]
        if body.outputs:
            wanted = {o.name for o in body.outputs}
            outputs = [o for o in outputs if o["name"] in wanted]
        answer: dict[str, Any] = {
            "model_name": name,
            "model_version": str(result.model_version),
            "outputs": outputs,
        }
        if body.id is not None:
            answer["id"] = body.id
        return answer

    router.get("/models/{name}", summary="Model metadata")(_errors(metadata))
    router.get("/models/{name}/versions/{version}", summary="Model version metadata")(
        _errors(metadata)
    )
    router.get("/models/{name}/ready", summary="Model readiness")(_errors(model_ready))
    router.get("/models/{name}/versions/{version}/ready", summary="Model version readiness")(
        _errors(model_ready)
    )
    router.post("/models/{name}/infer", summary="Inference")(_errors(infer))
    router.post("/models/{name}/versions/{version}/infer", summary="Inference on a version")(
        _errors(infer)
    )
    return router
