"""Bounded path and query parameters, one definition for every service: a dataset name
matches the contracts' rule and a version id fits every store that keeps one (SQLite's
INTEGER, Redis, a metric label), so an out-of-range value is a 422 that says so, never a 500.
"""

from __future__ import annotations

from typing import Annotated

from driftloop_contracts.schema import DATASET_NAME
from fastapi import Path, Query

#: The largest model version any route accepts (versions count up from 1).
MAX_VERSION = 2**31 - 1
#: The longest opaque id (event ids are UUIDs: 36 characters).
MAX_ID = 64

DatasetPath = Annotated[
    str,
    Path(
        pattern=DATASET_NAME,
        description="Dataset name: lowercase letters, digits, '_' and '-', at most 63.",
    ),
]
DatasetQuery = Annotated[str | None, Query(pattern=DATASET_NAME, description="Dataset name.")]
VersionPath = Annotated[
    int, Path(ge=1, le=MAX_VERSION, description=f"Model version, 1 to {MAX_VERSION}.")
]
