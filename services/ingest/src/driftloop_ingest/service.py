"""The datasets ingest knows, and ingesting one submission (the HTTP routes' path).

No broker, no HTTP here: validation is in validation.py, versions in versions.py, the stream
handlers' decisions in policy.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from driftloop_contracts import DatasetSchema, RejectedRow
from driftloop_core import ContentStore, NotFound

from .candidates import Candidate, Candidates
from .validation import validate
from .versions import DatasetVersion, store_version, write_version

__all__ = ["IngestResult", "Schemas", "ingest", "write_version"]


class Schemas:
    """The datasets ingest knows, by name."""

    def __init__(self, schemas: Iterable[DatasetSchema]) -> None:
        self._by_name = {s.name: s for s in schemas}

    def get(self, name: str) -> DatasetSchema:
        try:
            return self._by_name[name]
        except KeyError:
            known = sorted(self._by_name) or "none: add <name>.json to INGEST_SCHEMA_DIR"
            raise NotFound(f"unknown dataset {name!r}; known datasets: {known}") from None

    def all(self) -> list[DatasetSchema]:
        return list(self._by_name.values())


@dataclass
class IngestResult:
    version: DatasetVersion | None = None
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.version.rows if self.version else 0


def ingest(
    store: ContentStore, schema: DatasetSchema, candidates: Sequence[Candidate]
) -> IngestResult:
    """Validate the rows and store the valid ones as one version."""
    valid, bad = validate(schema, Candidates.of(candidates))
    version = store_version(store, valid) if len(valid) else None
    return IngestResult(version=version, rejected=bad)
