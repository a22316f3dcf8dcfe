"""HTTP: the read side (versions, lineage, promotions, rollouts) and the admin actions.

Module-level routes; what they need comes through ``Annotated`` dependencies reading
``app.state`` (set by the composition root). Errors are DriftloopErrors, which the shared
HTTP shell turns into ``{"error", "message", "details?"}``.
"""

from __future__ import annotations

from typing import Annotated

from driftloop_core.auth import check_bearer
from driftloop_core.params import DatasetPath, DatasetQuery, VersionPath
from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field, SecretStr

from .queries import Queries
from .read_models import (
    LineageOut,
    PromotionDone,
    PromotionOut,
    RolloutDone,
    RolloutOut,
    VersionDetailOut,
    VersionOut,
)
from .service import RegistryService


def service(request: Request) -> RegistryService:
    registry: RegistryService = request.app.state.registry
    return registry


def queries(request: Request) -> Queries:
    read_side: Queries = request.app.state.queries
    return read_side


def admin(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <admin token>")] = None,
) -> str:
    """The actor of an admin action, once its bearer token checks out."""
    token: SecretStr | None = request.app.state.admin_token
    unset = "admin actions are disabled: set REGISTRY_ADMIN_TOKEN to enable them"
    check_bearer(token, authorization, unset)
    return "admin"


ServiceDep = Annotated[RegistryService, Depends(service)]
QueriesDep = Annotated[Queries, Depends(queries)]
AdminDep = Annotated[str, Depends(admin)]

router = APIRouter(prefix="/v1", tags=["registry"])


class CanaryIn(BaseModel):
    share: float = Field(gt=0, lt=1, description="Share of requests the candidate answers.")


# ------------------------------------------------------------------------ read side


@router.get("/models", summary="Every version of every dataset")
async def list_models(read: QueriesDep, dataset: DatasetQuery = None) -> list[VersionOut]:
    return read.versions(dataset)


@router.get("/models/{dataset}/champion", summary="The version serving a dataset")
async def champion(dataset: DatasetPath, read: QueriesDep) -> VersionOut:
    return read.champion(dataset)


@router.get("/models/{dataset}/promotions", summary="Every promotion, in stream order")
async def promotions(dataset: DatasetPath, read: QueriesDep) -> list[PromotionOut]:
    return read.promotions(dataset)


@router.get("/models/{dataset}/rollout", summary="The rollout in progress, if any")
async def rollout(dataset: DatasetPath, read: QueriesDep) -> RolloutOut:
    return read.rollout(dataset)


@router.get("/models/{dataset}/{version}", summary="One version")
async def get_model(
    dataset: DatasetPath, version: VersionPath, read: QueriesDep
) -> VersionDetailOut:
    return read.version(dataset, version)


@router.get("/models/{dataset}/{version}/lineage", summary="Where a version came from")
async def lineage(dataset: DatasetPath, version: VersionPath, read: QueriesDep) -> LineageOut:
    return read.lineage(dataset, version)


# ---------------------------------------------------------------------- admin actions


@router.post("/models/{dataset}/rollout/promote", summary="Serve the candidate to all (admin)")
async def rollout_promote(
    dataset: DatasetPath, registry: ServiceDep, actor: AdminDep
) -> RolloutDone:
    return await registry.end_rollout(dataset, promote=True, actor=actor)


@router.post("/models/{dataset}/rollout/abort", summary="Stop the rollout (admin)")
async def rollout_abort(dataset: DatasetPath, registry: ServiceDep, actor: AdminDep) -> RolloutDone:
    return await registry.end_rollout(dataset, promote=False, actor=actor)


@router.post("/models/{dataset}/rollback", summary="Serve the previous champion again (admin)")
async def rollback(dataset: DatasetPath, registry: ServiceDep, actor: AdminDep) -> PromotionDone:
    return await registry.roll_back(dataset, actor)


@router.post("/models/{dataset}/{version}/promote", summary="Serve this version (admin)")
async def promote(
    dataset: DatasetPath, version: VersionPath, registry: ServiceDep, actor: AdminDep
) -> PromotionDone:
    return await registry.promote(dataset, version, actor)


@router.post(
    "/models/{dataset}/{version}/canary",
    summary="Let this version answer a share of requests (admin)",
)
async def canary(
    dataset: DatasetPath,
    version: VersionPath,
    body: CanaryIn,
    registry: ServiceDep,
    actor: AdminDep,
) -> RolloutDone:
    return await registry.start_rollout(dataset, version, "canary", body.share, actor)


@router.post(
    "/models/{dataset}/{version}/shadow",
    summary="Run this version beside the champion, answers logged not returned (admin)",
)
async def shadow(
    dataset: DatasetPath, version: VersionPath, registry: ServiceDep, actor: AdminDep
) -> RolloutDone:
    return await registry.start_rollout(dataset, version, "shadow", 0.0, actor)
