"""The plain baseline the predictor is measured against: FastAPI + uvicorn served exactly as
the predictor is (the same uvicorn, uvloop and httptools, with the options of
driftloop_core.runtime.serve: no access log), predict inline in an async route, one request at
a time, no validation beyond JSON, no logging. Same model, same JSON bodies; and
``/v1/predict/arrays``, the fastest plain way: ``{"instances": [[...], ...]}`` (arrays in
schema order, no names) parsed with orjson from the raw body, answered with orjson bytes.

    python -m benchmarks.baseline_server ARTIFACT PORT
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import uvicorn
from driftloop_ml import load_artifact
from fastapi import FastAPI, Request, Response


def build(artifact_path: Path) -> FastAPI:
    artifact = load_artifact(artifact_path.read_bytes())
    model, names = artifact.pipeline, artifact.schema.feature_names
    app = FastAPI()

    @app.post("/v1/predict")
    async def predict(body: dict[str, Any]) -> dict[str, Any]:
        x = np.array([[body["features"][n] for n in names]], dtype=float)
        proba = model.predict_proba(x)[0]
        return {
            "prediction": str(model.classes_[proba.argmax()]),
            "probability": float(proba.max()),
        }

    @app.post("/v1/predict/batch")
    async def predict_batch(body: dict[str, Any]) -> dict[str, Any]:
        x = np.array([[row[n] for n in names] for row in body["rows"]], dtype=float)
        proba = model.predict_proba(x)
        labels = model.classes_[proba.argmax(axis=1)]
        return {
            "predictions": [
                {"prediction": str(c), "probability": float(p)}
                for c, p in zip(labels, proba.max(axis=1), strict=True)
            ]
        }

    @app.post("/v1/predict/arrays")
    async def predict_arrays(request: Request) -> Response:
        x = np.array(orjson.loads(await request.body())["instances"], dtype=float)
        proba = model.predict_proba(x)
        labels = model.classes_[proba.argmax(axis=1)]
        answer = {"predictions": labels.tolist(), "probabilities": proba}
        return Response(
            orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
        )

    return app


#: The uvicorn options driftloop_core.runtime.serve gives every service: a fair comparison.
SERVE_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "timeout_graceful_shutdown": 30,
}

if __name__ == "__main__":
    uvicorn.run(build(Path(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), **SERVE_OPTIONS)
