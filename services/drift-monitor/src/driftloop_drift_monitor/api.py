"""HTTP: what the monitor watches, per dataset, and the report of each drift event."""

from __future__ import annotations

import uuid
from typing import Annotated

from driftloop_core import NotFound
from driftloop_core.params import DatasetPath
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from .history import DatasetHistory, dataset_history
from .service import MonitorService
from .status import DatasetStatus, MonitorStatus

router = APIRouter(prefix="/v1", tags=["drift"])
#: A report is a static page: inline styles, no script, nothing loaded, never framed.
REPORT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def get_monitor(request: Request) -> MonitorService:
    """The service the composition root put on the app."""
    monitor: MonitorService = request.app.state.monitor
    return monitor


Monitor = Annotated[MonitorService, Depends(get_monitor)]


@router.get("/drift", summary="Every watched version, by dataset: windows, tests, live accuracy")
async def drift(monitor: Monitor) -> MonitorStatus:
    return monitor.status()


@router.get("/drift/{dataset}", summary="The watched versions of one dataset")
async def drift_of(dataset: DatasetPath, monitor: Monitor) -> DatasetStatus:
    found = monitor.status(dataset).datasets.get(dataset)
    if found is None:
        raise NotFound(f"no version of dataset {dataset!r} is watched (none seen serving yet)")
    return found


@router.get(
    "/drift/{dataset}/history",
    summary="Tested windows and live accuracy over time, per watched version (bounded)",
)
async def history_of(dataset: DatasetPath, monitor: Monitor) -> DatasetHistory:
    found = dataset_history(monitor.watches, dataset)
    if found is None:
        raise NotFound(f"no version of dataset {dataset!r} is watched (none seen serving yet)")
    return found


@router.get(
    "/reports/{event_id}",
    response_class=HTMLResponse,
    summary="The HTML report of a drift event (linked from its report_url)",
)
async def report(event_id: uuid.UUID, monitor: Monitor) -> HTMLResponse:
    return HTMLResponse(await monitor.report(str(event_id)), headers=REPORT_HEADERS)
