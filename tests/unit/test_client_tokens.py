"""The SDK client sends its client token to ingest and the predictor, and to nobody else."""

from __future__ import annotations

import httpx
import pytest
from driftloop_sdk.client import DriftloopClient, Endpoints

TOKEN = "Zq8dk2LmX0pQ7rTy3vBw"


def recording(client: DriftloopClient) -> dict[str, str | None]:
    """Answer every call with {} and note the Authorization header each host got."""
    seen: dict[str, str | None] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen[str(request.url.port)] = request.headers.get("authorization")
        return httpx.Response(200, json={})

    client._http = httpx.Client(transport=httpx.MockTransport(answer))
    return seen


def test_the_client_token_goes_to_ingest_and_the_predictor_only() -> None:
    client = DriftloopClient(Endpoints.from_base_port(8000), client_token=TOKEN)
    seen = recording(client)
    client.predict({"x": 1})
    client.submit_records("demo", [])
    client.champion("demo")  # the registry: no client token there
    assert seen == {"8004": f"Bearer {TOKEN}", "8001": f"Bearer {TOKEN}", "8003": None}


def test_the_client_token_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_CLIENT_TOKEN", TOKEN)
    client = DriftloopClient(Endpoints.from_base_port(8000))
    seen = recording(client)
    client.datasets()
    assert seen == {"8001": f"Bearer {TOKEN}"}


def test_without_a_token_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLOOP_CLIENT_TOKEN", raising=False)
    client = DriftloopClient(Endpoints.from_base_port(8000))
    seen = recording(client)
    client.predict({"x": 1})
    assert seen == {"8004": None}
