"""Open Inference Protocol bodies: JSON and binary tensors in, columns out; answers back."""

from __future__ import annotations

import gzip
from typing import Any

import numpy as np
import orjson
import pytest
from driftloop_core import InvalidInput
from driftloop_predictor.encoding import RowEncoder
from driftloop_predictor.tensors import (
    HEADER_LENGTH,
    OutputTensor,
    check_outputs,
    columns_for,
    decode,
    encode_response,
)
from driftloop_sdk.scenario import SCHEMA, CreditScenario

from tests.unit.test_predictor_columns import SENSORS

ROWS = CreditScenario(5).draw(3, "before").features


def binary_body(header: dict[str, Any], *chunks: bytes) -> tuple[bytes, dict[str, str]]:
    head = orjson.dumps(header)
    return head + b"".join(chunks), {HEADER_LENGTH: str(len(head))}


def length_prefixed(*values: bytes) -> bytes:
    return b"".join(len(v).to_bytes(4, "little") + v for v in values)


def tensor(name: str, shape: list[int], datatype: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, **more}


@pytest.mark.parametrize(
    "data",
    [[21.5, 2.0, 0.1, -3.0, 4.0, None], [[21.5, 2.0, 0.1], [-3.0, 4.0, None]]],
    ids=["flat", "nested"],
)
def test_an_n_by_f_tensor_holds_the_features_in_schema_order(data: list[Any]) -> None:
    body = orjson.dumps({"inputs": [tensor("input-0", [2, 3], "FP64", data=data)]})

    batch = columns_for(decode(body, {}).inputs, SENSORS)

    assert list(batch) == [
        {"temperature": 21.5, "pressure": 2.0, "vibration": 0.1},
        {"temperature": -3.0, "pressure": 4.0, "vibration": None},
    ]
    RowEncoder(SENSORS).encode(batch)  # valid as they are


def test_tensors_per_feature_are_columns_by_name_in_any_order() -> None:
    inputs = []
    for spec in reversed(SCHEMA.features):
        column = [r[spec.name] for r in ROWS]
        if spec.kind == "numeric":  # shape [N, 1], nested
            inputs.append(tensor(spec.name, [3, 1], "FP64", data=[[v] for v in column]))
        else:
            inputs.append(tensor(spec.name, [3], "BYTES", data=column))

    batch = columns_for(decode(orjson.dumps({"inputs": inputs}), {}).inputs, SCHEMA)

    assert list(batch) == ROWS


def test_binary_inputs_are_read_in_input_order_after_the_json_header() -> None:
    temperatures = np.array([20.0, 21.0], dtype="<f4")
    pressures = np.array([1, 2], dtype="<i8")
    header = {
        "id": "b-1",
        "inputs": [
            tensor("temperature", [2], "FP32", parameters={"binary_data_size": 8}),
            tensor("pressure", [2], "INT64", parameters={"binary_data_size": 16}),
            tensor("vibration", [2], "FP64", data=[0.5, 0.25]),
        ],
    }
    body, headers = binary_body(header, temperatures.tobytes(), pressures.tobytes())

    request = decode(body, headers)
    x, _ = RowEncoder(SENSORS).encode(columns_for(request.inputs, SENSORS))

    assert request.id == "b-1"
    assert x.tolist() == [[20.0, 1.0, 0.5], [21.0, 2.0, 0.25]]


def test_binary_bytes_elements_are_length_prefixed_strings() -> None:
    header = {"inputs": [tensor("plan", [2], "BYTES", parameters={"binary_data_size": 17})]}
    body, headers = binary_body(header, length_prefixed(b"free", b"pro\xc3\xa9"))

    assert decode(body, headers).inputs[0].data == ["free", "proé"]


def test_a_gzipped_body_is_inflated() -> None:
    body = orjson.dumps({"inputs": [tensor("a", [1], "FP64", data=[1.0])]})

    request = decode(gzip.compress(body), {"content-encoding": "gzip"})

    assert request.inputs[0].data == [1.0]


@pytest.mark.parametrize(
    ("header", "binary", "extra_headers", "reason"),
    [
        (
            {"inputs": [tensor("a", [2], "FP64", parameters={"binary_data_size": 16})]},
            np.zeros(1).tobytes(),
            {},
            "past the body",
        ),
        (
            {"inputs": [tensor("a", [2], "FP64", parameters={"binary_data_size": 8})]},
            np.zeros(1).tobytes(),
            {},
            "8 bytes of binary data, shape \\[2\\] of FP64 needs 16",
        ),
        ({"inputs": [tensor("a", [1], "FP64", data=[1.0])]}, b"x", {}, "1 bytes after"),
        (
            {"inputs": [tensor("a", [1], "FP99", parameters={"binary_data_size": 1})]},
            b"x",
            {},
            "datatype 'FP99'",
        ),
        (
            {"inputs": [tensor("a", [1], "BYTES", parameters={"binary_data_size": 6})]},
            length_prefixed(b"abcd")[:6],
            {},
            "cut short",
        ),
        ({"inputs": [tensor("a", [1], "FP64", data=[1.0])]}, b"", {HEADER_LENGTH: "9999"}, "9999"),
    ],
)
def test_broken_binary_bodies_are_refused_saying_what_is_wrong(
    header: dict[str, Any], binary: bytes, extra_headers: dict[str, str], reason: str
) -> None:
    body, headers = binary_body(header, binary)

    with pytest.raises(InvalidInput, match=reason):
        decode(body, {**headers, **extra_headers})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"inputs": []}', "non-empty list"),
        (b'{"inputs": [{"name": "a", "shape": [2], "datatype": "FP64"}]}', "needs data"),
        (b'{"inputs": [{"name": "a", "shape": "2", "data": [1]}]}', "shape must be a list"),
        (b'{"inputs": [{"name": "a", "shape": [3], "data": [1, 2]}]}', "has 2 values"),
        (
            b'{"inputs": [{"name": "a", "shape": [1], "parameters": {"binary_data_size": 8}}]}',
            "no Inference-Header-Content-Length",
        ),
    ],
)
def test_broken_json_bodies_are_refused_saying_what_is_wrong(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        decode(body, {})


def test_tensors_that_miss_a_feature_or_disagree_on_rows_are_refused() -> None:
    one = [tensor("temperature", [1], "FP64", data=[20.0])]
    with pytest.raises(InvalidInput, match=r"missing \['pressure', 'vibration'\]") as caught:
        columns_for(decode(orjson.dumps({"inputs": one}), {}).inputs, SENSORS)
    assert "one [N, 3] tensor with the features in order" in caught.value.message

    uneven = [
        tensor("temperature", [2], "FP64", data=[20.0, 21.0]),
        tensor("pressure", [1], "FP64", data=[1.0]),
        tensor("vibration", [2], "FP64", data=[0.0, 0.1]),
    ]
    with pytest.raises(InvalidInput, match="same number of rows"):
        columns_for(decode(orjson.dumps({"inputs": uneven}), {}).inputs, SENSORS)


OUTPUTS = [
    OutputTensor("predict", "BYTES", [2], ["yes", "no"]),
    OutputTensor("predict_proba", "FP64", [2, 2], np.array([0.1, 0.9, 0.8, 0.2])),
]


def request_asking(**body: Any) -> Any:
    return decode(orjson.dumps({"inputs": [tensor("a", [1], "FP64", data=[1])], **body}), {})


def test_outputs_are_json_unless_binary_is_asked() -> None:
    content, headers = encode_response({"model_name": "m"}, OUTPUTS, request_asking())

    assert headers == {"content-type": "application/json"}
    answer = orjson.loads(content)
    assert answer["outputs"][1]["data"] == [0.1, 0.9, 0.8, 0.2]


def test_binary_data_output_sends_every_output_binary_after_the_json_header() -> None:
    request = request_asking(parameters={"binary_data_output": True})

    content, headers = encode_response({"model_name": "m"}, OUTPUTS, request)

    size = int(headers[HEADER_LENGTH])
    header = orjson.loads(content[:size])
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    assert sizes == [4 + 3 + 4 + 2, 32]
    assert content[size : size + sizes[0]] == length_prefixed(b"yes", b"no")
    assert np.frombuffer(content[size + sizes[0] :], "<f8").tolist() == [0.1, 0.9, 0.8, 0.2]


def test_an_output_named_with_binary_data_false_stays_json_and_unnamed_ones_are_left_out() -> None:
    request = request_asking(
        parameters={"binary_data_output": True},
        outputs=[{"name": "predict", "parameters": {"binary_data": False}}],
    )

    content, headers = encode_response({"model_name": "m"}, OUTPUTS, request)

    assert headers["content-type"] == "application/json"
    assert orjson.loads(content)["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [2], "data": ["yes", "no"]}
    ]


def test_an_unknown_output_is_refused_before_predicting() -> None:
    with pytest.raises(InvalidInput, match=r"unknown output\(s\) \['score'\]"):
        check_outputs(request_asking(outputs=[{"name": "score"}]), ["predict"])
