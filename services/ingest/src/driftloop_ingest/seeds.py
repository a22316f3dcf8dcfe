"""Schema files are seeds: at start-up each `*.json` in INGEST_SCHEMA_DIR is registered through
the same path as POST /v1/datasets. A file already registered with that schema changes nothing;
an additive evolution applies. A bad file is logged with its path and the reason, counted, and
skipped: it never stops ingest, and the other datasets are registered.

A file holds a DatasetSchema, or a whole registration ``{"schema", "training"?,
"monitoring"?}`` as POST /v1/datasets takes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from driftloop_contracts import DatasetSchema
from driftloop_contracts.codec import describe_validation_error
from driftloop_core import DriftloopError
from driftloop_core.telemetry import get_logger
from pydantic import ValidationError

from .metrics import SEED_FILES_SKIPPED
from .registrar import Registered
from .registration import RegistrationIn

log = get_logger(__name__)
Register = Callable[[RegistrationIn], Awaitable[Registered]]


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


class SeedError(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def read_seed(path: Path) -> RegistrationIn:
    """The registration a file asks for, or SeedError saying what is wrong with it."""
    try:
        data: Any = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise SeedError("unreadable", f"cannot read the file: {exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise SeedError("invalid_json", f"not JSON: {exc}") from exc
    try:
        if isinstance(data, dict) and "schema" in data:
            return RegistrationIn.model_validate(data)
        return RegistrationIn(dataset_schema=DatasetSchema.model_validate(data))
    except ValidationError as exc:
        raise SeedError("invalid_schema", describe_validation_error(exc)) from exc


async def register_seeds(directory: Path, register: Register) -> list[Skipped]:
    """Register every file of the directory (sorted by name); the ones skipped, and why."""
    files = await asyncio.to_thread(schema_files, directory)
    skipped: list[Skipped] = []
    for path in files:
        try:
            registered = await register(read_seed(path))
        except SeedError as exc:
            skipped.append(_skip(path, exc.kind, exc.reason))
        except DriftloopError as exc:  # Conflict: not an additive evolution; NotReady
            skipped.append(_skip(path, exc.code, exc.message))
        except Exception as exc:  # whatever it is, one file never stops ingest
            log.exception("schema file failed", path=str(path))
            skipped.append(_skip(path, "error", f"{type(exc).__name__}: {exc}"))
        else:
            schema = registered.registration.dataset_schema
            log.info(
                "schema file registered",
                path=str(path),
                dataset=schema.name,
                version=schema.version,
                change=registered.change,
            )
    return skipped


def schema_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def _skip(path: Path, kind: str, reason: str) -> Skipped:
    SEED_FILES_SKIPPED.labels(reason=kind).inc()
    log.error(f"schema file {path} skipped: {reason}", path=str(path), reason=reason)
    return Skipped(path, reason)
