"""Open Inference Protocol (v2) request bodies to columns, and answers back to bytes.

Bodies are read whatever their Content-Type (tritonclient sends none with JSON, as MLServer
accepts). The binary tensor data extension (Triton's, which tritonclient and KServe's client
use by default): an ``Inference-Header-Content-Length`` header gives the size of the JSON
header; inputs with ``parameters.binary_data_size`` take their bytes, in input order, from what
follows it: little-endian, row-major, BOOL one byte, BYTES each a 4-byte length and the bytes.
Outputs go back binary when the request asks (``binary_data_output``, or ``binary_data`` per
output). ``Content-Encoding: gzip|deflate`` bodies are inflated first.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np
import orjson
from driftloop_contracts import DatasetSchema
from driftloop_core import InvalidInput

from .columns import Columns

HEADER_LENGTH = "inference-header-content-length"
NUMPY_TYPES = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}


@dataclass(frozen=True, slots=True)
class InputTensor:
    name: str
    shape: tuple[int, ...]
    datatype: str
    #: A flat list (JSON) or a flat numpy array (binary); BYTES come as str where UTF-8.
    data: Any


@dataclass(frozen=True, slots=True)
class InferBody:
    id: str | None
    inputs: list[InputTensor]
    parameters: Mapping[str, Any]
    #: Requested outputs by name, each with its ``binary_data`` (None: not said). None: every
    #: output.
    outputs: dict[str, bool | None] | None = None
    binary_default: bool = field(default=False)


def decode(body: bytes, headers: Mapping[str, str]) -> InferBody:
    """An infer request's JSON header and binary tensors; InvalidInput saying what is wrong."""
    body = _inflated(body, headers.get("content-encoding", "").lower())
    size = headers.get(HEADER_LENGTH)
    if size is None:
        header, binary = body, b""
    else:
        try:
            length = int(size)
        except ValueError:
            raise InvalidInput(
                f"Inference-Header-Content-Length must be a number: {size!r}"
            ) from None
        if not 0 < length <= len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length is {length}, the body has {len(body)} bytes"
            )
        header, binary = body[:length], body[length:]
    try:
        request = orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the inference request is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise InvalidInput("the inference request must be a JSON object with inputs")
    parameters = _object(request.get("parameters"), "parameters")
    inputs = _inputs(request.get("inputs"), memoryview(binary), binary_allowed=size is not None)
    return InferBody(
        id=None if request.get("id") is None else str(request["id"]),
        inputs=inputs,
        parameters=parameters,
        outputs=_requested(request.get("outputs")),
        binary_default=parameters.get("binary_data_output") is True,
    )


def _inflated(body: bytes, encoding: str) -> bytes:
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error) as exc:
        raise InvalidInput(f"the body is not valid {encoding}: {exc}") from None
    return body


def _inputs(value: Any, binary: memoryview, *, binary_allowed: bool) -> list[InputTensor]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("inputs must be a non-empty list of tensors")
    tensors, offset = [], 0
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput("every input needs a name, a shape, a datatype and data")
        name, datatype = item["name"], str(item.get("datatype", ""))
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise InvalidInput(f"input {name!r}: shape must be a list of sizes, got {shape!r}")
        size = _object(item.get("parameters"), f"parameters of input {name!r}").get(
            "binary_data_size"
        )
        if size is None:
            data = _json_data(name, item.get("data"), shape)
        else:
            if not binary_allowed:
                raise InvalidInput(
                    f"input {name!r} has binary_data_size but the request has no "
                    "Inference-Header-Content-Length header"
                )
            if not isinstance(size, int) or offset + size > len(binary):
                raise InvalidInput(f"input {name!r}: binary_data_size {size!r} is past the body")
            data = _binary_data(name, datatype, shape, binary[offset : offset + size])
            offset += size
        tensors.append(InputTensor(name, tuple(shape), datatype, data))
    if offset != len(binary):
        raise InvalidInput(f"{len(binary) - offset} bytes after the last binary input")
    return tensors


def _json_data(name: str, data: Any, shape: list[int]) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInput(f"input {name!r} needs data (a list) or parameters.binary_data_size")
    flat: list[Any] = data
    if data and isinstance(data[0], list):  # nested row-major lists: flatten
        flat = np.asarray(data, dtype=object).reshape(-1).tolist()
    if len(flat) != prod(shape):
        raise InvalidInput(
            f"tensor {name!r} has {len(flat)} values, its shape {shape} needs {prod(shape)}"
        )
    return flat


def _binary_data(name: str, datatype: str, shape: list[int], raw: memoryview) -> Any:
    count = prod(shape)
    if datatype == "BYTES":
        return _bytes_elements(name, raw, count)
    dtype = NUMPY_TYPES.get(datatype)
    if dtype is None:
        raise InvalidInput(f"input {name!r}: datatype {datatype!r} is not one of the protocol's")
    if len(raw) != count * dtype.itemsize:
        raise InvalidInput(
            f"input {name!r}: {len(raw)} bytes of binary data, shape {shape} of {datatype} "
            f"needs {count * dtype.itemsize}"
        )
    return np.frombuffer(raw, dtype=dtype)


def _bytes_elements(name: str, raw: memoryview, count: int) -> list[Any]:
    """4-byte little-endian length, then the bytes; text where it is UTF-8."""
    elements: list[Any] = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + 4 > end:
            raise InvalidInput(f"input {name!r}: BYTES element {len(elements)} is cut short")
        length = int.from_bytes(raw[offset : offset + 4], "little")
        offset += 4
        if offset + length > end:
            raise InvalidInput(f"input {name!r}: BYTES element {len(elements)} is cut short")
        chunk = bytes(raw[offset : offset + length])
        offset += length
        try:
            elements.append(chunk.decode())
        except UnicodeDecodeError:
            elements.append(chunk)  # refused, with its row, by the column validation
    if len(elements) != count:
        raise InvalidInput(f"tensor {name!r} has {len(elements)} values, its shape needs {count}")
    return elements


def _requested(value: Any) -> dict[str, bool | None] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput("outputs must be a list of {name, parameters?}")
    wanted: dict[str, bool | None] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput("every requested output needs a name")
        binary = _object(item.get("parameters"), "output parameters").get("binary_data")
        wanted[item["name"]] = None if binary is None else binary is True
    return wanted


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be an object")
    return value


def columns_for(inputs: Sequence[InputTensor], schema: DatasetSchema) -> Columns:
    """One [N, F] tensor with the features in schema order, or one [N] (or [N, 1]) tensor per
    feature, as columns."""
    names = list(schema.feature_names)
    if len(inputs) == 1 and len(inputs[0].shape) == 2 and inputs[0].shape[1] == len(names):
        t = inputs[0]
        rows, width = t.shape
        data = t.data
        if isinstance(data, np.ndarray):
            matrix = data.reshape(rows, width)
            return Columns({n: matrix[:, j] for j, n in enumerate(names)}, rows)
        return Columns({n: data[j::width] for j, n in enumerate(names)}, rows)
    by_name = {t.name: t for t in inputs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InvalidInput(
            f"send one [N, {len(names)}] tensor with the features in order {names}, "
            f"or one tensor per feature; missing {missing}"
        )
    for t in inputs:
        if len(t.shape) not in (1, 2) or (len(t.shape) == 2 and t.shape[1] != 1):
            raise InvalidInput(f"tensor {t.name!r} has shape {list(t.shape)}; send [N] or [N, 1]")
    lengths = {t.shape[0] for t in inputs}
    if len(lengths) != 1:
        raise InvalidInput("every feature tensor must hold the same number of rows")
    rows = lengths.pop()
    if rows == 0:
        raise InvalidInput("the tensors hold no rows: send at least one")
    return Columns({t.name: t.data for t in inputs}, rows)


@dataclass(frozen=True, slots=True)
class OutputTensor:
    name: str
    datatype: str
    shape: list[int]
    data: Any  # a list, or a numpy array


def check_outputs(request: InferBody, available: Sequence[str]) -> None:
    """Refuse, before predicting, an output the model does not have."""
    unknown = [n for n in request.outputs or () if n not in available]
    if unknown:
        raise InvalidInput(f"unknown output(s) {unknown}; this model has {list(available)}")


def encode_response(
    header: dict[str, Any], outputs: Sequence[OutputTensor], request: InferBody
) -> tuple[bytes, dict[str, str]]:
    """The response body and its headers: JSON, or a JSON header then binary outputs (with
    Inference-Header-Content-Length) for the outputs asked in binary."""
    described: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for out in outputs:
        if request.outputs is not None and out.name not in request.outputs:
            continue
        said = request.outputs.get(out.name) if request.outputs is not None else None
        tensor: dict[str, Any] = {"name": out.name, "datatype": out.datatype, "shape": out.shape}
        if request.binary_default if said is None else said:
            raw = _binary(out)
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            tensor["data"] = out.data
        described.append(tensor)
    body = orjson.dumps({**header, "outputs": described}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return body, {"content-type": "application/json"}
    headers = {"content-type": "application/octet-stream", HEADER_LENGTH: str(len(body))}
    return b"".join([body, *chunks]), headers


def _binary(out: OutputTensor) -> bytes:
    if out.datatype == "BYTES":
        encoded = [str(v).encode() for v in out.data]
        return b"".join(len(e).to_bytes(4, "little") + e for e in encoded)
    return np.ascontiguousarray(out.data, dtype=NUMPY_TYPES[out.datatype]).tobytes()
