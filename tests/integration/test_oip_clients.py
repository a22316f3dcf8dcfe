"""The clients people already use, against a real predictor on a real port: Triton's
tritonclient.http (JSON and its default, the binary tensor extension) and KServe's v2 REST
client (InferenceRESTClient)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
import uvicorn
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_predictor.bootstrap import build_app
from driftloop_predictor.settings import PredictorSettings
from driftloop_sdk.embedded_redis import free_port, wait_for_port
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from tritonclient.utils import InferenceServerException

from tests.support.data import labelled_rows, promoted, trained
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

ROWS = CreditScenario(4).draw(6, "before").features
NUMERIC = [f.name for f in SCHEMA.features if f.kind == "numeric"]
CATEGORICAL = [f.name for f in SCHEMA.features if f.kind == "categorical"]


@pytest.fixture(scope="module")
def predictor_url(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A predictor served by uvicorn on a free port, serving v1 of `demo` (one for the module:
    these tests only read)."""
    namespace = f"t{uuid.uuid4().hex[:10]}:"
    store = ContentStore(str(tmp_path_factory.mktemp("clients") / "store"))
    streams_io = Streams(redis_url, namespace)
    settings = PredictorSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        dataset="demo",
        log_flush_ms=20,
    )
    port = free_port()
    config = uvicorn.Config(
        build_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port, 30)
        url = f"127.0.0.1:{port}"
        streams_io.publish(streams.MODEL_PROMOTED, promoted(trained(store, labelled_rows(300))))
        client = triton.InferenceServerClient(url)
        eventually_sync(lambda: client.is_model_ready("demo"), what="v1 served")
        client.close()
        yield url
    finally:
        streams_io.close()
        server.should_exit = True
        thread.join(30)


def triton_inputs(binary: bool) -> list[triton.InferInput]:
    inputs = []
    for name in NUMERIC:
        values = np.array([row[name] for row in ROWS], dtype=np.float64)
        tensor = triton.InferInput(name, [len(ROWS)], "FP64")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    for name in CATEGORICAL:
        values = np.array([row[name].encode() for row in ROWS], dtype=np.object_)
        tensor = triton.InferInput(name, [len(ROWS)], "BYTES")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def outputs(binary: bool) -> list[triton.InferRequestedOutput]:
    return [
        triton.InferRequestedOutput(name, binary_data=binary)
        for name in ("predict", "predict_proba", "prediction_id")
    ]


def assert_answers_every_row(result: Any) -> None:
    labels = result.as_numpy("predict")
    proba = result.as_numpy("predict_proba")
    ids = result.as_numpy("prediction_id")
    assert labels.shape == (len(ROWS),) and ids.shape == (len(ROWS),)
    assert proba.shape == (len(ROWS), 2) and np.allclose(proba.sum(axis=1), 1.0)
    decoded = {v.decode() if isinstance(v, bytes) else v for v in labels.tolist()}
    assert decoded <= {"yes", "no"}
    assert len(set(ids.tolist())) == len(ROWS)


@pytest.mark.parametrize(
    ("binary_in", "binary_out"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["json", "binary-inputs", "binary-outputs", "binary-both"],
)
def test_tritonclient_infers_with_json_and_binary_tensors(
    predictor_url: str, binary_in: bool, binary_out: bool
) -> None:
    client = triton.InferenceServerClient(predictor_url)
    try:
        result = client.infer(
            "demo", triton_inputs(binary_in), outputs=outputs(binary_out), request_id="r-7"
        )
        assert result.get_response()["id"] == "r-7"
        assert_answers_every_row(result)
        binary_sizes = [
            "binary_data_size" in o.get("parameters", {}) for o in result.get_response()["outputs"]
        ]
        assert binary_sizes == [binary_out] * 3
    finally:
        client.close()


def test_tritonclient_defaults_binary_outputs_when_none_are_named_and_gzips(
    predictor_url: str,
) -> None:
    client = triton.InferenceServerClient(predictor_url)
    try:
        result = client.infer(
            "demo", triton_inputs(True), request_compression_algorithm="gzip"
        )  # no outputs named: binary_data_output
        assert_answers_every_row(result)
    finally:
        client.close()


def test_tritonclient_reads_server_and_model_metadata_and_readiness(predictor_url: str) -> None:
    client = triton.InferenceServerClient(predictor_url)
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("demo") and client.is_model_ready("demo", "1")
        assert not client.is_model_ready("other") and not client.is_model_ready("demo", "9")
        assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
        meta = client.get_model_metadata("demo")
        assert meta["versions"] == ["1"]
        assert [i["name"] for i in meta["inputs"]] == list(SCHEMA.feature_names)
        assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba", "prediction_id"]
    finally:
        client.close()


def test_tritonclient_surfaces_a_bad_requests_reason(predictor_url: str) -> None:
    client = triton.InferenceServerClient(predictor_url)
    inputs = triton_inputs(True)
    ages = np.array([row["age"] for row in ROWS], dtype=np.float64)
    ages[2] = 7.0  # below the schema's minimum of 18
    inputs[NUMERIC.index("age")].set_data_from_numpy(ages, binary_data=True)
    try:
        with pytest.raises(InferenceServerException) as caught:
            client.infer("demo", inputs)
        assert caught.value.status() == "400"
        assert "row 2: feature 'age' is 7.0, below the minimum 18.0" in caught.value.message()
        with pytest.raises(InferenceServerException, match=r"missing \['region'\]"):
            client.infer("demo", [i for i in inputs if i.name() != "region"])
    finally:
        client.close()


def kserve_request(binary: bool) -> InferRequest:
    inputs = []
    for name in NUMERIC:
        tensor = InferInput(name, [len(ROWS)], "FP64")
        tensor.set_data_from_numpy(np.array([r[name] for r in ROWS]), binary_data=binary)
        inputs.append(tensor)
    for name in CATEGORICAL:
        tensor = InferInput(name, [len(ROWS)], "BYTES")
        tensor.set_data_from_numpy(
            np.array([r[name] for r in ROWS], dtype=np.object_), binary_data=binary
        )
        inputs.append(tensor)
    return InferRequest(model_name="demo", infer_inputs=inputs, request_id="k-1")


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
async def test_kserve_v2_rest_client_infers_and_reads_readiness(
    predictor_url: str, binary: bool
) -> None:
    base = f"http://{predictor_url}"
    async with InferenceRESTClient(RESTConfig(protocol="v2")) as client:
        assert await client.is_server_ready(base) and await client.is_server_live(base)
        assert await client.is_model_ready(base, "demo")
        assert not await client.is_model_ready(base, "other")
        response = await client.infer(base, kserve_request(binary), model_name="demo")
    assert response.id == "k-1" and response.model_name == "demo"
    by_name = {o.name: o for o in response.outputs}
    proba = by_name["predict_proba"].as_numpy()
    assert proba.shape == (len(ROWS), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert len(by_name["prediction_id"].as_numpy()) == len(ROWS)


async def test_kserve_v2_rest_client_surfaces_a_bad_requests_reason(predictor_url: str) -> None:
    request = kserve_request(False)
    request.inputs = [i for i in request.inputs if i.name != "income"]
    async with InferenceRESTClient(RESTConfig(protocol="v2")) as client:
        with pytest.raises(Exception, match=r"missing \['income'\].*400 Bad Request"):
            await client.infer(f"http://{predictor_url}", request, model_name="demo")
