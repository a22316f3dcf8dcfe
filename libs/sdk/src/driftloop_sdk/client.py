"""A small HTTP client for driftloop's services (httpx, sync)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import httpx


class DriftloopHTTPError(RuntimeError):
    """A service answered with an error; `message` is what it said to fix."""

    def __init__(self, status: int, message: str, details: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Endpoints:
    ingest: str = "http://127.0.0.1:8001"
    trainer: str = "http://127.0.0.1:8002"
    registry: str = "http://127.0.0.1:8003"
    predictor: str = "http://127.0.0.1:8004"
    monitor: str = "http://127.0.0.1:8005"
    console: str = "http://127.0.0.1:8006"

    @classmethod
    def from_base_port(cls, base: int, host: str = "127.0.0.1", scheme: str = "http") -> Endpoints:
        """Ingest on base+1, trainer +2, registry +3, predictor +4, monitor +5, console +6."""
        urls = [f"{scheme}://{host}:{base + i}" for i in range(1, 7)]
        return cls(*urls)

    def by_service(self) -> dict[str, str]:
        return {
            "ingest": self.ingest,
            "trainer": self.trainer,
            "registry": self.registry,
            "predictor": self.predictor,
            "drift-monitor": self.monitor,
            "console": self.console,
        }


class DriftloopClient:
    def __init__(
        self,
        endpoints: Endpoints | None = None,
        *,
        timeout: float = 30.0,
        admin_token: str | None = None,
        client_token: str | None = None,
    ) -> None:
        """`client_token` (default: $DRIFTLOOP_CLIENT_TOKEN) goes to ingest and the predictor
        as a bearer token, for a stack that sets INGEST_/PREDICTOR_CLIENT_TOKENS."""
        self.endpoints = endpoints or Endpoints()
        self._http = httpx.Client(timeout=timeout)
        self._token = admin_token
        client_token = client_token or os.environ.get("DRIFTLOOP_CLIENT_TOKEN") or None
        self._client_auth = {"Authorization": f"Bearer {client_token}"} if client_token else {}
        self._guarded = (self.endpoints.ingest, self.endpoints.predictor)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DriftloopClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        return cast(dict[str, Any], self._request(method, url, **kwargs))

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        if self._client_auth and url.startswith(self._guarded):
            kwargs["headers"] = {**self._client_auth, **kwargs.get("headers", {})}
        response = self._http.request(method, url, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                raise DriftloopHTTPError(
                    response.status_code, body.get("message", response.text), body.get("details")
                )
            except ValueError:
                raise DriftloopHTTPError(response.status_code, response.text) from None
        return response.json()

    # predictor
    def predict(self, features: Mapping[str, Any], dataset: str | None = None) -> dict[str, Any]:
        """One row; `dataset` names the model (else the predictor's default dataset)."""
        url = f"{self._predict_url(dataset)}/predict"
        return self._call("POST", url, json={"features": features})

    def predict_batch(
        self, rows: Sequence[Mapping[str, Any]], dataset: str | None = None
    ) -> dict[str, Any]:
        return self._call(
            "POST", f"{self._predict_url(dataset)}/predict/batch", json={"rows": rows}
        )

    def _predict_url(self, dataset: str | None) -> str:
        base = f"{self.endpoints.predictor}/v1"
        return base if dataset is None else f"{base}/models/{dataset}"

    def serving_model(self) -> dict[str, Any]:
        return self._call("GET", f"{self.endpoints.predictor}/v1/model")

    # ingest
    def submit_records(self, dataset: str, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        url = f"{self.endpoints.ingest}/v1/datasets/{dataset}/records"
        return self._call("POST", url, json={"records": records})

    def send_labels(self, labels: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return self._call("POST", f"{self.endpoints.ingest}/v1/labels", json={"labels": labels})

    def register_dataset(
        self,
        schema: Mapping[str, Any],
        training: Mapping[str, Any] | None = None,
        monitoring: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register a dataset or evolve its schema; `published` says whether anything changed."""
        body: dict[str, Any] = {"schema": schema}
        if training is not None:
            body["training"] = training
        if monitoring is not None:
            body["monitoring"] = monitoring
        return self._call("POST", f"{self.endpoints.ingest}/v1/datasets", json=body)

    def datasets(self) -> list[dict[str, Any]]:
        url = f"{self.endpoints.ingest}/v1/datasets"
        return cast(list[dict[str, Any]], self._request("GET", url))

    def dataset(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"{self.endpoints.ingest}/v1/datasets/{name}")

    # trainer
    def register_model(
        self, dataset: str, data: bytes, uploaded_by: str, filename: str | None = None
    ) -> dict[str, Any]:
        """Upload a model trained elsewhere: the trainer checks and evaluates it, then the
        registry's gate judges it (find it by `run_id` in `models(dataset)`)."""
        url = f"{self.endpoints.trainer}/v1/datasets/{dataset}/models"
        headers = {
            **self._auth(),
            "X-Driftloop-User": uploaded_by,
            "Content-Type": "application/octet-stream",
        }
        params = {"filename": filename} if filename else None
        return self._call("POST", url, content=data, headers=headers, params=params)

    def train(self, dataset: str) -> dict[str, Any]:
        """Start a training run of `dataset` now (admin): 202 with its `run_id`."""
        url = f"{self.endpoints.trainer}/v1/datasets/{dataset}/train"
        return self._call("POST", url, headers=self._auth())

    def trainer_state(self, dataset: str) -> dict[str, Any]:
        """Rows the trainer holds, the first model's attempts, pending retrains."""
        return self._call("GET", f"{self.endpoints.trainer}/v1/datasets/{dataset}")

    # registry
    def models(self, dataset: str | None = None) -> list[dict[str, Any]]:
        params = {"dataset": dataset} if dataset else None
        return cast(
            list[dict[str, Any]],
            self._request("GET", f"{self.endpoints.registry}/v1/models", params=params),
        )

    def champion(self, dataset: str) -> dict[str, Any]:
        """The version the registry has promoted for `dataset` (404 before the first)."""
        return self._call("GET", f"{self.endpoints.registry}/v1/models/{dataset}/champion")

    def lineage(self, dataset: str, version: int) -> dict[str, Any]:
        return self._call("GET", f"{self.endpoints.registry}/v1/models/{dataset}/{version}/lineage")

    def trials(self, dataset: str) -> list[dict[str, Any]]:
        """The dataset's live challenger trials, newest first."""
        url = f"{self.endpoints.registry}/v1/models/{dataset}/trials"
        return cast(list[dict[str, Any]], self._request("GET", url))

    def trial(self, dataset: str, trial_id: str) -> dict[str, Any]:
        url = f"{self.endpoints.registry}/v1/models/{dataset}/trials/{trial_id}"
        return self._call("GET", url)

    def promote(self, dataset: str, version: int) -> dict[str, Any]:
        url = f"{self.endpoints.registry}/v1/models/{dataset}/{version}/promote"
        return self._call("POST", url, headers=self._auth())

    def rollback(self, dataset: str) -> dict[str, Any]:
        url = f"{self.endpoints.registry}/v1/models/{dataset}/rollback"
        return self._call("POST", url, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    # monitor
    def drift_status(self) -> dict[str, Any]:
        return self._call("GET", f"{self.endpoints.monitor}/v1/drift")

    def drift_of(self, dataset: str) -> dict[str, Any]:
        """The monitor's watched versions of one dataset: windows, tests, live accuracy."""
        return self._call("GET", f"{self.endpoints.monitor}/v1/drift/{dataset}")

    def report_url(self, event_id: str) -> str:
        """A drift event's report on this monitor (whatever its port)."""
        return f"{self.endpoints.monitor}/v1/reports/{event_id}"

    # every service
    def health(self, url: str) -> dict[str, Any]:
        """GET /healthz of a service: its answer (503 included); transport errors raise."""
        response = self._http.get(f"{url}/healthz", timeout=3.0)
        body = response.json() if response.content else {}
        return {"ok": response.status_code == 200, **(body if isinstance(body, dict) else {})}
