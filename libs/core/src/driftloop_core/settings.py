"""The settings base every service extends with its own env prefix: the bus's settings plus
what every service process has (store, logging, HTTP).

Fields shared by all services read unprefixed variables (REDIS_URL, DRIFTLOOP_*), so one
environment configures the whole stack; each service adds its own fields under its prefix.
"""

from __future__ import annotations

from typing import Annotated

from driftloop_bus import BusSettings
from driftloop_bus.settings import env
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode

#: Top-level modules whose functions run code, commands or unpickling: never trusted.
CODE_RUNNERS = frozenset(
    [
        "builtins",
        "code",
        "codeop",
        "ctypes",
        "importlib",
        "marshal",
        "nt",
        "os",
        "pickle",
        "posix",
        "runpy",
        "shutil",
        "socket",
        "subprocess",
        "sys",
    ]
)


class ServiceSettings(BusSettings):
    """Settings every driftloop service has."""

    dataset: str = Field(
        default="demo",
        validation_alias=env("DRIFTLOOP_DATASET"),
        description="Dataset the predictor serves and the drift monitor watches.",
    )
    store_url: str = Field(
        default=".driftloop/store",
        validation_alias=AliasChoices("DRIFTLOOP_STORE", "driftloop_store", "STORE_URL"),
        description="Content store root (DRIFTLOOP_STORE, or STORE_URL): a directory, or "
        "s3://bucket/prefix (credentials from the standard AWS_* variables or the pod's role).",
    )
    store_s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=env("STORE_S3_ENDPOINT_URL"),
        description="An S3-compatible server for an s3:// store (MinIO, http://minio:9000); "
        "unset: AWS.",
    )
    log_level: str = Field(default="INFO", validation_alias=env("LOG_LEVEL"))
    log_format: str = Field(
        default="console",
        validation_alias=env("LOG_FORMAT"),
        description="console (human) or json (one object per line).",
    )
    host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    port: int = Field(default=8000, ge=0, le=65535, description="HTTP port.")
    trusted_modules: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias=env("DRIFTLOOP_TRUSTED_MODULES"),
        description="Module prefixes (comma-separated) whose types a model artifact may hold "
        "besides scikit-learn's: a user's entry-point package, e.g. my_models. Set it alike "
        "on the trainer, registry and predictor; an artifact can never widen it.",
    )

    @field_validator("trusted_modules", mode="before")
    @classmethod
    def _modules(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(m.strip().strip(".") for m in value.split(",") if m.strip().strip("."))
        return value

    @field_validator("trusted_modules")
    @classmethod
    def _no_code_runners(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Trusting a module trusts every function in it: never those that run code."""
        refused = sorted(m for m in value if m.split(".")[0] in CODE_RUNNERS)
        if refused:
            raise ValueError(
                f"DRIFTLOOP_TRUSTED_MODULES names modules that run code or commands: {refused}; "
                "name only your own model package (e.g. my_models)"
            )
        return value
