"""Admin actions (POST, CSRF-checked): promote, end a rollout, roll back, replay a dead
letter. Registry actions carry the operator's token as `Authorization: Bearer`; the registry
decides. A replay is checked against the token's SHA-256 and done as `console-admin`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from driftloop_core.params import DatasetPath, VersionPath
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from .pages import EntryId, Shard, StreamName
from .ports import Refused, Replayer, ServiceDown, Services
from .security import (
    MAX_TOKEN,
    csrf_ok,
    forget_token,
    keep_token,
    token_matches,
    token_of,
)
from .service import STREAMS

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=64)]


def back(to: str, said: str) -> RedirectResponse:
    return RedirectResponse(f"{to}?said={quote(said[:480])}", status_code=303)


async def registry_action(
    request: Request, csrf: str, path: str, to: str, done: str
) -> RedirectResponse:
    if not csrf_ok(request, csrf):
        return back(to, "the form expired (CSRF check failed): reload the page and try again")
    token = token_of(request)
    if token is None:
        return back("/token", "enter the registry's admin token first")
    services: Services = request.app.state.services
    try:
        await services.act("registry", path, token)
    except Refused as refused:
        return back(to, f"the registry refused ({refused.status}): {refused.message}")
    except ServiceDown as down:
        return back(to, str(down))
    return back(to, done)


@router.post("/datasets/{name}/promote/{version}")
async def promote(
    name: DatasetPath, version: VersionPath, request: Request, csrf: Csrf
) -> RedirectResponse:
    path = f"/v1/models/{name}/{version}/promote"
    return await registry_action(request, csrf, path, f"/datasets/{name}", f"v{version} promoted")


@router.post("/datasets/{name}/rollout/promote")
async def rollout_promote(name: DatasetPath, request: Request, csrf: Csrf) -> RedirectResponse:
    path = f"/v1/models/{name}/rollout/promote"
    return await registry_action(request, csrf, path, f"/datasets/{name}", "candidate promoted")


@router.post("/datasets/{name}/rollout/abort")
async def rollout_abort(name: DatasetPath, request: Request, csrf: Csrf) -> RedirectResponse:
    path = f"/v1/models/{name}/rollout/abort"
    return await registry_action(request, csrf, path, f"/datasets/{name}", "rollout aborted")


@router.post("/datasets/{name}/rollback")
async def rollback(name: DatasetPath, request: Request, csrf: Csrf) -> RedirectResponse:
    path = f"/v1/models/{name}/rollback"
    return await registry_action(request, csrf, path, f"/datasets/{name}", "rolled back")


@router.post("/dead-letters/{stream}/{entry_id}/replay")
async def replay(
    stream: StreamName, entry_id: EntryId, request: Request, csrf: Csrf, shard: Shard = 0
) -> RedirectResponse:
    to = "/dead-letters"
    if not csrf_ok(request, csrf):
        return back(to, "the form expired (CSRF check failed): reload the page and try again")
    settings = request.app.state.settings
    replayer: Replayer | None = request.app.state.replayer
    if replayer is None or not settings.replay_enabled:
        return back(
            to,
            "replay is disabled: set CONSOLE_ADMIN_TOKEN_SHA256 and "
            "CONSOLE_REPLAY_USERNAME/_PASSWORD (driftloop up does)",
        )
    token = token_of(request)
    if token is None or not token_matches(token, settings.admin_token_sha256):
        return back("/token", "replaying needs the registry's admin token: enter it here")
    if stream not in STREAMS:
        return back(to, f"unknown stream {stream}")
    try:
        new_id = await replayer.replay(stream, entry_id, shard)
    except Refused as refused:
        return back(to, refused.message)
    return back(to, f"replayed {entry_id} onto {stream} as {new_id}")


@router.post("/token")
async def sign_in(
    request: Request, csrf: Csrf, token: Annotated[str, Form(max_length=MAX_TOKEN)]
) -> RedirectResponse:
    if not csrf_ok(request, csrf):
        return back("/token", "the form expired (CSRF check failed): reload and try again")
    response = back("/", "admin token kept for this browser (8 hours, HttpOnly cookie)")
    keep_token(response, token.strip(), request.app.state.settings.cookie_secure)
    return response


@router.post("/token/forget")
async def sign_out(request: Request, csrf: Csrf) -> RedirectResponse:
    if not csrf_ok(request, csrf):
        return back("/token", "the form expired (CSRF check failed): reload and try again")
    response = back("/", "admin token forgotten")
    forget_token(response)
    return response
