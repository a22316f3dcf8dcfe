"""Every error a service answers has one shape: {"error", "message", "details"?}."""

from __future__ import annotations

from typing import Any

import pytest
from driftloop_bus import Bus
from driftloop_core import InvalidInput, NotFound, ServiceSettings
from driftloop_core.http import create_app
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

router = APIRouter()


class Body(BaseModel):
    n: int


@router.post("/things")
async def make(body: Body) -> dict[str, int]:
    return {"n": body.n}


@router.get("/things/{name}")
async def get(name: str) -> dict[str, str]:
    if name == "missing":
        raise NotFound("no thing named missing")
    if name == "bad":
        raise InvalidInput("bad is not a thing", details=[{"row": 0}])
    if name == "boom":
        raise RuntimeError("a bug")
    return {"name": name}


@pytest.fixture
def client() -> TestClient:
    bus = Bus(ServiceSettings(redis_url="redis://127.0.0.1:1/0"))  # never started here
    app: FastAPI = create_app(title="t", bus=bus, routers=[router], max_body_bytes=100)
    return TestClient(app, raise_server_exceptions=False)


def shape(body: dict[str, Any]) -> set[str]:
    return set(body)


def test_a_driftloop_error_keeps_its_status_code_and_details(client: TestClient) -> None:
    answer = client.get("/things/bad")
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid_input",
        "message": "bad is not a thing",
        "details": [{"row": 0}],
    }
    assert client.get("/things/missing").json()["error"] == "not_found"


def test_an_unmatched_route_is_a_404_in_the_one_shape(client: TestClient) -> None:
    answer = client.get("/nowhere")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert "/nowhere" in answer.json()["message"]


def test_a_wrong_method_is_a_405_in_the_one_shape(client: TestClient) -> None:
    answer = client.delete("/things/x")
    assert answer.status_code == 405
    assert shape(answer.json()) == {"error", "message"}
    assert "DELETE" in answer.json()["message"]


def test_an_invalid_body_names_each_problem(client: TestClient) -> None:
    answer = client.post("/things", json={"n": "many"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_input"
    assert "body.n" in answer.json()["message"]


def test_a_body_that_is_not_json_is_a_422_in_the_one_shape(client: TestClient) -> None:
    answer = client.post("/things", content=b"{", headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_input"


def test_a_body_over_the_limit_is_a_413_before_the_route_reads_it(client: TestClient) -> None:
    answer = client.post(
        "/things", content=b" " * 101, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(5):
            yield b" " * 50

    answer = client.post("/things", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


def test_an_unexpected_failure_is_a_500_that_says_no_more_than_it_should(
    client: TestClient,
) -> None:
    answer = client.get("/things/boom")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "internal_error",
        "message": "the server failed: RuntimeError",
    }
