"""HTTP: what the trainer knows about a dataset (rows, first-model attempts, pending retrains,
its training spec), and registering a model trained elsewhere (admin)."""

from typing import Annotated, Any

from driftloop_core import InvalidInput, NotFound
from driftloop_core.auth import check_bearer
from driftloop_core.params import DatasetPath
from fastapi import APIRouter, Depends, Header, Request
from pydantic import SecretStr

from .registrations import TrainingSpecs
from .repository import Repository
from .requests import TrainingAccepted, TrainingRequests
from .state import DatasetState
from .uploads import ExternalModels, ExternalOut


def describe(state: DatasetState) -> dict[str, Any]:
    return {
        "dataset": state.dataset,
        "schema_fingerprint": state.schema.fingerprint() if state.schema else None,
        "rows": state.rows,
        "champion": state.champion,
        "initial": state.initial.model_dump(mode="json") if state.initial else None,
        "next_first_model": next_first_model(state),
        "initial_claimed_by": state.claims.get("initial"),
        "pending_retrains": [
            {
                "drift_event_id": p.retrain.key,
                "kind": p.retrain.drift.kind,
                "model_version": p.retrain.drift.model_version,
                "onset": p.retrain.onset.isoformat(),
                "followup": p.retrain.followup,
                "failures": p.retrain.failures,
                "min_rows": p.retrain.min_rows,
                "rows_since_onset": state.rows_since.get(p.retrain.onset),
                "shift": p.retrain.shift,
                "gate_rejections": p.retrain.rejected,
            }
            for p in state.pending
        ],
        "retrained_for": sorted(state.retrained_for),
    }


def next_first_model(state: DatasetState) -> str | None:
    """Why the dataset has no model yet and what the trainer tries next, in words."""
    last = state.initial
    if state.champion is not None or last is None or last.status == "awaiting verdict":
        return None
    return f"{last.status}: {last.reason}; next attempt: {last.next_attempt()}"


def check_admin(
    token: SecretStr | None, authorization: str | None, what: str = "model uploads"
) -> None:
    """As the registry's admin routes: a bearer token, compared in constant time."""
    unset = f"{what} are disabled: set TRAINER_ADMIN_TOKEN to enable them"
    check_bearer(token, authorization, unset)


class TrainerApi:
    """What the routes read: the repository, the training specs, uploads and the admin token."""

    def __init__(
        self,
        repo: Repository,
        specs: TrainingSpecs,
        default_family: str,
        external: ExternalModels,
        admin_token: SecretStr | None,
        requests: TrainingRequests,
    ) -> None:
        self.requests = requests
        self.repo = repo
        self.specs = specs
        self.default_family = default_family
        self.external = external
        self.admin_token = admin_token


def trainer_api(request: Request) -> TrainerApi:
    api: TrainerApi = request.app.state.trainer
    return api


ApiDep = Annotated[TrainerApi, Depends(trainer_api)]
router = APIRouter(prefix="/v1", tags=["trainer"])


@router.post(
    "/datasets/{dataset}/models",
    status_code=202,
    summary="Register a model trained elsewhere (admin): evaluated, then gated",
)
async def register_model(
    dataset: DatasetPath,
    request: Request,
    api: ApiDep,
    authorization: Annotated[str | None, Header(description="Bearer <admin token>")] = None,
    x_driftloop_user: Annotated[
        str, Header(max_length=200, description="Who uploads (kept in the lineage).")
    ] = "admin",
    filename: str | None = None,
) -> ExternalOut:
    """The body is the file: a skops file (`skops.io.dump(model, "model.skops")`) of a fitted
    scikit-learn estimator or pipeline that takes the schema's features in order, or a
    driftloop artifact; a joblib/pickle dump only with TRAINER_ALLOW_PICKLE_UPLOADS (else 415).
    Types outside the trusted list (DRIFTLOOP_TRUSTED_MODULES) are refused (422)."""
    check_admin(api.admin_token, authorization)
    data = await request.body()
    if not data:
        raise InvalidInput("send the model file as the request body (application/octet-stream)")
    return await api.external.register(dataset, data, x_driftloop_user, filename)


@router.post(
    "/datasets/{dataset}/train",
    status_code=202,
    summary="Start a training run of a dataset now (admin); its model is then gated",
)
async def train(
    dataset: DatasetPath,
    api: ApiDep,
    authorization: Annotated[str | None, Header(description="Bearer <admin token>")] = None,
    x_driftloop_user: Annotated[
        str, Header(max_length=200, description="Who asks (kept in the lineage).")
    ] = "admin",
) -> TrainingAccepted:
    """Publishes training.requested: the trainer trains on the dataset's newest rows (as
    `driftloop train D`); 404 if it holds no rows of the dataset yet."""
    check_admin(api.admin_token, authorization, "training requests")
    return await api.requests.request(dataset, f"requested by {x_driftloop_user} over HTTP")


@router.get("/datasets/{dataset}/training", summary="How the next run of a dataset trains")
async def training_spec(dataset: DatasetPath, api: ApiDep) -> dict[str, Any]:
    spec = api.specs.get(dataset)
    return {
        "dataset": dataset,
        "registered": api.specs.knows(dataset),
        "spec": spec.model_dump(exclude_none=True) if spec else {"family": api.default_family},
    }


@router.get("/datasets/{dataset}", summary="The trainer's state of a dataset")
async def dataset_state(dataset: DatasetPath, api: ApiDep) -> dict[str, Any]:
    state = await api.repo.load(dataset)
    if state.schema is None and state.champion is None:
        raise NotFound(f"the trainer has no data for dataset {dataset!r}")
    return describe(state)
