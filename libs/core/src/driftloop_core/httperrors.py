"""Every error a service answers has one shape, made in one place: ``{"error", "message",
"details"?}``. Errors driftloop raises on purpose (the DriftloopError family), request
validation, unmatched routes and methods, oversized bodies and unexpected failures all go
through ``error_body``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from .errors import DriftloopError
from .telemetry import get_logger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
log = get_logger(__name__)

#: Codes of the HTTP statuses Starlette raises itself (unmatched route, wrong method...).
_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 400: "bad_request"}


class ErrorOut(BaseModel):
    """What every error response of every driftloop service looks like."""

    error: str = Field(description="A stable code: invalid_input, not_found, unauthorized...")
    message: str = Field(description="What went wrong and what to do about it.")
    details: Any | None = Field(default=None, description="Per-row or per-field problems.")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error shape."""
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def error_json(code: str, message: str, details: Any = None) -> bytes:
    return orjson.dumps(error_body(code, message, details))


def _problem(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"


def install(app: FastAPI) -> None:
    """Map every error to the one shape."""

    @app.exception_handler(DriftloopError)
    async def on_driftloop_error(_: Request, exc: DriftloopError) -> JSONResponse:
        body = error_body(exc.code, exc.message, exc.details)
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(e) for e in exc.errors()]
        body = error_body("invalid_input", "; ".join(problems), problems)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        status = exc.status_code
        code = _CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))
        message = str(exc.detail)
        if status == 404 and message == "Not Found":
            message = f"no route {request.url.path}; see /docs for this service's routes"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return JSONResponse(error_body(code, message), status_code=status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", path=request.url.path, method=request.method)
        body = error_body("internal_error", f"the server failed: {type(exc).__name__}")
        return JSONResponse(body, status_code=500)


class BodyLimit:
    """Refuse request bodies over a limit with 413, before the route reads them: by the
    Content-Length the client announces, and by counting what a chunked body really sends
    (the route's read then raises an HTTPException the handlers above shape)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: Routes (a regular expression their path matches whole) allowed a larger body.
        self.larger = [(re.compile(path), limit) for path, limit in (larger or {}).items()]

    def limit(self, path: str) -> int:
        return next((n for route, n in self.larger if route.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        refusal = f"request body larger than {limit} bytes; send less per request"
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                body = error_json("too_large", refusal)
                await send({"type": "http.response.body", "body": body})
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, detail=refusal)
            return message

        await self.app(scope, counted, send)
