"""The predict routes as a bare ASGI handler in front of the FastAPI app.

FastAPI's request handling costs ~4x a bare ASGI handler per request, more than a logistic
regression's predict. So POST /v1/predict and /v1/predict/batch (the default dataset) and
/v1/models/{dataset}/predict and .../predict/batch are answered here (same data plane, same
error shape; the dataset is cut from the path, no regex); everything else, including those
routes' OpenAPI documentation, goes to the FastAPI app. An ``X-Request-Key`` header makes
canary routing sticky.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from driftloop_core import DriftloopError, InvalidInput
from driftloop_core.clients import ClientAuth, ClientTokens
from driftloop_core.httperrors import error_json
from driftloop_core.telemetry import get_logger
from prometheus_client import Histogram

from .bodies import answer_json, parse_rows
from .service import Predictor

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_SECONDS = Histogram(
    "driftloop_predictor_request_seconds",
    "Predict requests, from body received to response sent, by route and status.",
    ["route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
JSON_HEADERS = [(b"content-type", b"application/json")]
MODELS = "/v1/models/"
#: Route labels of the per-dataset routes (one label for every dataset), by single row or not.
PER_DATASET = {True: MODELS + "{dataset}/predict", False: MODELS + "{dataset}/predict/batch"}
log = get_logger(__name__)


class FastPath:
    def __init__(
        self,
        predictor: Predictor,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_rows: int,
        clients: ClientTokens | None = None,
    ) -> None:
        self.predictor = predictor
        self.app = app
        #: With client tokens, the predict routes check them here (the app checks the rest).
        self.auth = ClientAuth(app, clients) if clients else None
        self.max_body = max_body_bytes
        self.max_rows = max_rows
        self.routes = {"/v1/predict": True, "/v1/predict/batch": False}
        self._timers = {
            (route, status): REQUEST_SECONDS.labels(route=route, status=str(status))
            for route in (*self.routes, *PER_DATASET.values())
            for status in (200, 404, 413, 422, 500, 503)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        single, dataset, route = self.routes.get(path), None, path
        if single is None and path.startswith(MODELS):
            single, dataset = per_dataset(path)
            if single is not None:
                route = PER_DATASET[single]
        if single is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.auth is not None and not await self.auth.admit(scope, send):
            return
        started = time.perf_counter()
        key = None
        for name, value in scope["headers"]:
            if name == b"x-request-key":
                key = value.decode("latin-1")
                break
        status, payload = await self._answer(receive, single, key, dataset)
        # With its length the body goes out as it is; without, the server frames it in chunks.
        headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(payload))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        timer = self._timers.get((route, status))
        if timer is not None:
            timer.observe(time.perf_counter() - started)

    async def _answer(
        self, receive: Receive, single: bool, key: str | None, dataset: str | None
    ) -> tuple[int, bytes]:
        try:
            body = await self._body(receive)
            rows = parse_rows(body, single)
            if len(rows) > self.max_rows:
                raise InvalidInput(f"{len(rows)} rows; send at most {self.max_rows} per request")
            result = await self.predictor.predict(rows, key, dataset)
            return 200, answer_json(result, rows, single)
        except DriftloopError as exc:
            return exc.status_code, error_json(exc.code, exc.message, exc.details)
        except orjson.JSONDecodeError as exc:
            return 422, error_json("invalid_input", f"body is not JSON: {exc}")
        except _TooLarge:
            message = (
                f"body larger than {self.max_body} bytes; split the rows into several requests"
            )
            return 413, error_json("too_large", message)
        except Exception:
            log.exception("predict failed")
            return 500, error_json("internal_error", "prediction failed")

    async def _body(self, receive: Receive) -> bytes:
        message = await receive()
        body: bytes = message.get("body", b"")
        if len(body) > self.max_body:
            raise _TooLarge
        if not message.get("more_body"):
            return body  # the common case: one message
        chunks = [body]
        size = len(body)
        while message.get("more_body"):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)


def per_dataset(path: str) -> tuple[bool | None, str | None]:
    """(single row?, dataset) of /v1/models/{dataset}/predict[/batch]; (None, None) if the
    path is neither."""
    rest = path[len(MODELS) :]
    if rest.endswith("/predict"):
        single, dataset = True, rest[: -len("/predict")]
    elif rest.endswith("/predict/batch"):
        single, dataset = False, rest[: -len("/predict/batch")]
    else:
        return None, None
    if not dataset or "/" in dataset:
        return None, None
    return single, dataset


class _TooLarge(Exception):
    pass
