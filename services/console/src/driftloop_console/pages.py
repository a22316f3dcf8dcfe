"""The console's pages (GET): server-rendered with Jinja2, charts as inline SVG."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from driftloop_core.params import DatasetPath
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from . import charts
from .security import csrf_of, remember_csrf, token_of
from .service import STREAMS, ConsoleReads, Problems
from .tail import Filters

TEMPLATES = Jinja2Templates(directory=FilePath(__file__).parent / "templates")
EntryId = Annotated[str, Path(pattern=r"^\d{1,20}-\d{1,20}$", description="A stream entry id.")]
Shard = Annotated[
    int, Query(ge=0, le=255, description="The shard holding the entry (REDIS_SHARDS > 1).")
]
StreamName = Annotated[str, Path(pattern=r"^[a-z0-9.\-]{1,64}$", description="A stream name.")]
Said = Annotated[str | None, Query(max_length=500, description="A notice to show.")]

router = APIRouter(include_in_schema=False)


def reads(request: Request) -> ConsoleReads:
    found: ConsoleReads = request.app.state.reads
    return found


Reads = Annotated[ConsoleReads, Depends(reads)]


def page(request: Request, template: str, said: str | None = None, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    context.update(
        csrf=csrf_of(request),
        signed_in=token_of(request) is not None,
        replay_enabled=settings.replay_enabled,
        said=said,
    )
    response = TEMPLATES.TemplateResponse(request, template, context)
    remember_csrf(request, response, settings.cookie_secure)
    return response


@router.get("/", response_class=HTMLResponse)
async def datasets(request: Request, read: Reads, said: Said = None) -> HTMLResponse:
    problems = Problems()
    rows, lag = await read.datasets(problems)
    return page(request, "datasets.html", said, rows=rows, lag=lag, problems=problems.items)


@router.get("/datasets/{name}", response_class=HTMLResponse)
async def dataset(
    name: DatasetPath, request: Request, read: Reads, said: Said = None
) -> HTMLResponse:
    problems = Problems()
    found = await read.dataset(name, problems)
    return page(request, "dataset.html", said, d=found, problems=problems.items)


@router.get("/drift", response_class=HTMLResponse)
async def drift_index(request: Request, read: Reads) -> HTMLResponse:
    problems = Problems()
    rows, _ = await read.datasets(problems)
    return page(request, "drift_index.html", rows=rows, problems=problems.items)


@router.get("/drift/{name}", response_class=HTMLResponse)
async def drift(name: DatasetPath, request: Request, read: Reads) -> HTMLResponse:
    problems = Problems()
    t = await read.drift(name, problems)
    return page(
        request,
        "drift.html",
        t=t,
        p_chart=charts.p_value_chart(t) if t.p_values else None,
        effect_chart=charts.effect_chart(t) if t.effects else None,
        accuracy_chart=charts.accuracy_chart(t) if t.accuracy else None,
        problems=problems.items,
    )


def filters(
    stream: Annotated[str, Query(max_length=64)] = "",
    dataset: Annotated[str, Query(max_length=63)] = "",
    text: Annotated[str, Query(max_length=200)] = "",
) -> Filters:
    return Filters(stream, dataset, text)


Chosen = Annotated[Filters, Depends(filters)]


@router.get("/events", response_class=HTMLResponse)
async def events(request: Request, read: Reads, chosen: Chosen) -> HTMLResponse:
    rows = await read.events(chosen)
    return page(request, "events.html", rows=rows, f=chosen, streams=STREAMS)


@router.get("/events/rows", response_class=HTMLResponse)
async def event_rows(request: Request, read: Reads, chosen: Chosen) -> HTMLResponse:
    """The tail's rows alone: what the page's script polls."""
    return page(request, "_event_rows.html", rows=await read.events(chosen))


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(request: Request, read: Reads, said: Said = None) -> HTMLResponse:
    return page(request, "dead_letters.html", said, rows=await read.dead_letters())


@router.get("/dead-letters/{stream}/{entry_id}", response_class=HTMLResponse)
async def dead_letter(
    stream: StreamName, entry_id: EntryId, request: Request, read: Reads, shard: Shard = 0
) -> HTMLResponse:
    found = await read.dead_letter(stream, entry_id, shard)
    if found is None:
        said = f"no dead letter {entry_id} in {stream}.dlq (replayed, or trimmed)"
        return page(request, "dead_letters.html", said, rows=await read.dead_letters())
    row, payload = found
    return page(request, "dead_letter.html", row=row, payload=payload)


@router.get("/token", response_class=HTMLResponse)
async def token_form(request: Request, said: Said = None) -> HTMLResponse:
    return page(request, "token.html", said)
