"""HTTP: list and inspect versions and their lineage; promote and roll back behind a token.

No `from __future__ import annotations` here: FastAPI must evaluate the `Admin` dependency
alias, which is local to `build_router`.
"""

import hmac
from typing import Annotated, Any

from driftloop_bus import Bus, Publish
from driftloop_contracts import ModelPromoted, RolloutChanged, streams
from driftloop_core import NotFound, NotReady, Unauthorized
from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field, SecretStr

from .service import RegistryService, with_serving_state


class CanaryIn(BaseModel):
    share: float = Field(gt=0, lt=1, description="Share of requests the candidate answers.")


def build_router(service: RegistryService, bus: Bus, token: SecretStr | None) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    def admin(authorization: Annotated[str | None, Header()] = None) -> str:
        if token is None:
            raise NotReady("admin actions are disabled: set REGISTRY_ADMIN_TOKEN to enable them")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.encode(), token.get_secret_value().encode()
        ):
            raise Unauthorized("send the admin token as 'Authorization: Bearer <token>'")
        return "admin"

    Admin = Annotated[str, Depends(admin)]  # noqa: N806 - a type alias, FastAPI style

    async def publish_rollout(items: list[Publish]) -> dict[str, Any]:
        try:
            await bus.commit(with_serving_state(bus.keys, items))
        except Exception as exc:
            raise NotReady(f"could not publish the rollout change, nothing changed: {exc}") from exc
        answer: dict[str, Any] = {}
        for item in items:
            if isinstance(item.event, ModelPromoted):
                service.record_promotion(item.event)
                answer["promoted_version"] = item.event.model_version
            elif isinstance(item.event, RolloutChanged):
                service.record_rollout(item.event)
                e = item.event
                answer |= {
                    "dataset": e.dataset,
                    "stage": e.stage,
                    "outcome": e.outcome,
                    "version": e.model_version,
                    "share": e.share,
                    "event_id": str(e.event_id),
                }
        return answer

    async def publish(event: ModelPromoted) -> dict[str, Any]:
        try:
            await bus.commit(with_serving_state(bus.keys, [Publish(streams.MODEL_PROMOTED, event)]))
        except Exception as exc:
            raise NotReady(f"could not publish the promotion, nothing changed: {exc}") from exc
        service.record_promotion(event)
        return {
            "dataset": event.dataset,
            "version": event.model_version,
            "previous_version": event.previous_version,
            "reason": event.reason,
            "event_id": str(event.event_id),
        }

    @router.get("/models/{dataset}/rollout", summary="The rollout in progress, if any")
    async def rollout(dataset: str) -> dict[str, Any]:
        current = service.repo.rollout(dataset)
        if current is None:
            raise NotFound(f"dataset {dataset!r} has no rollout in progress")
        return current.__dict__

    @router.post("/models/{dataset}/rollout/promote", summary="Serve the candidate to all (admin)")
    async def rollout_promote(dataset: str, actor: Admin) -> dict[str, Any]:
        return await publish_rollout(service.end_rollout(dataset, promote=True, actor=actor))

    @router.post("/models/{dataset}/rollout/abort", summary="Stop the rollout (admin)")
    async def rollout_abort(dataset: str, actor: Admin) -> dict[str, Any]:
        return await publish_rollout(service.end_rollout(dataset, promote=False, actor=actor))

    @router.post(
        "/models/{dataset}/{version}/canary",
        summary="Let this version answer a share of requests (admin)",
    )
    async def canary(dataset: str, version: int, body: CanaryIn, actor: Admin) -> dict[str, Any]:
        event = service.start_rollout(dataset, version, "canary", body.share, actor)
        return await publish_rollout([Publish(streams.MODEL_ROLLOUT, event)])

    @router.post(
        "/models/{dataset}/{version}/shadow",
        summary="Run this version beside the champion, answers logged not returned (admin)",
    )
    async def shadow(dataset: str, version: int, actor: Admin) -> dict[str, Any]:
        event = service.start_rollout(dataset, version, "shadow", 0.0, actor)
        return await publish_rollout([Publish(streams.MODEL_ROLLOUT, event)])

    @router.get("/models", summary="Every version of every dataset")
    async def list_models(dataset: str | None = None) -> list[dict[str, Any]]:
        return [r.public() for r in service.repo.versions(dataset)]

    @router.get("/models/{dataset}/champion", summary="The version serving a dataset")
    async def champion(dataset: str) -> dict[str, Any]:
        row = service.repo.champion(dataset)
        if row is None:
            raise NotFound(f"dataset {dataset!r} has no promoted model yet")
        return row.public()

    @router.get("/models/{dataset}/{version}", summary="One version")
    async def get_model(dataset: str, version: int) -> dict[str, Any]:
        row = service.repo.get(dataset, version)
        if row is None:
            raise NotFound(f"no version {version} of dataset {dataset!r}")
        return row.public() | {"artifact": row.training.artifact.model_dump()}

    @router.get("/models/{dataset}/{version}/lineage", summary="Where a version came from")
    async def lineage(dataset: str, version: int) -> dict[str, Any]:
        row = service.repo.get(dataset, version)
        if row is None:
            raise NotFound(f"no version {version} of dataset {dataset!r}")
        t = row.training
        return {
            "dataset": dataset,
            "version": version,
            "run_id": str(t.run_id),
            "trigger": t.trigger,
            "correlation_id": str(t.correlation_id),
            "caused_by": str(t.causation_id) if t.causation_id else None,
            "training_event_id": str(t.event_id),
            "dataset_versions": list(t.dataset_versions),
            "training_rows": t.training_rows,
            "params": t.params,
            "seed": t.seed,
            "library_versions": t.library_versions,
            "artifact": t.artifact.model_dump(),
            "profile": t.profile.model_dump(),
            "holdout": t.holdout.model_dump(),
            "metrics": t.metrics.model_dump(),
            "decision": row.decision,
            "promotions": [
                p.__dict__ for p in service.repo.promotions(dataset) if p.version == version
            ],
        }

    @router.post("/models/{dataset}/{version}/promote", summary="Serve this version (admin)")
    async def promote(dataset: str, version: int, actor: Admin) -> dict[str, Any]:
        return await publish(service.manual_promotion(dataset, version, actor))

    @router.post("/models/{dataset}/rollback", summary="Serve the previous champion again (admin)")
    async def rollback(dataset: str, actor: Admin) -> dict[str, Any]:
        return await publish(service.rollback(dataset, actor))

    return router
