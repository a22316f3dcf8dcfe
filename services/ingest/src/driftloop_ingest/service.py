"""The datasets ingest knows, and ingesting one submission (the HTTP routes' path).

No broker, no HTTP here: validation is in validation.py, versions in versions.py, the stream
handlers' decisions in policy.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from driftloop_contracts import DatasetRegistered, DatasetSchema, RejectedRow
from driftloop_core import ContentStore, NotFound

from .announcements import PRODUCER
from .candidates import Candidate, Candidates
from .validation import DEFAULT_WINDOW, TimeWindow, validate
from .versions import DatasetVersion, store_version, write_version

__all__ = ["HOW_TO_REGISTER", "IngestResult", "Schemas", "ingest", "write_version"]


#: What an unknown dataset's reason tells the producer to do.
HOW_TO_REGISTER = (
    "register it with POST /v1/datasets (or `driftloop datasets add SCHEMA.json`), "
    "or add <name>.json to INGEST_SCHEMA_DIR"
)


class Schemas:
    """The datasets ingest knows, by name: each one's latest registration, kept live from
    dataset.registered (see following.py). Records are validated against `get(name)` at each
    delivery, so a new schema version applies to the next one without a restart."""

    def __init__(self, schemas: Iterable[DatasetSchema] = ()) -> None:
        self._by_name: dict[str, DatasetRegistered] = {}
        for schema in schemas:
            self.apply(
                DatasetRegistered(producer=PRODUCER, dataset=schema.name, dataset_schema=schema)
            )

    def apply(self, event: DatasetRegistered) -> bool:
        """Take a registration unless an older schema version than the one held (events can
        arrive twice: after this replica's own commit, then from the stream)."""
        held = self._by_name.get(event.dataset)
        if held is not None and held.dataset_schema.version > event.dataset_schema.version:
            return False
        self._by_name[event.dataset] = event
        return True

    def registration(self, name: str) -> DatasetRegistered:
        try:
            return self._by_name[name]
        except KeyError:
            known = sorted(self._by_name) or "none"
            raise NotFound(
                f"unknown dataset {name!r}; known datasets: {known}; {HOW_TO_REGISTER}"
            ) from None

    def get(self, name: str) -> DatasetSchema:
        return self.registration(name).dataset_schema

    def registrations(self) -> list[DatasetRegistered]:
        return [self._by_name[name] for name in sorted(self._by_name)]

    def all(self) -> list[DatasetSchema]:
        return [r.dataset_schema for r in self.registrations()]


@dataclass
class IngestResult:
    version: DatasetVersion | None = None
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.version.rows if self.version else 0


def ingest(
    store: ContentStore,
    schema: DatasetSchema,
    candidates: Sequence[Candidate],
    window: TimeWindow = DEFAULT_WINDOW,
) -> IngestResult:
    """Validate the rows and store the valid ones as one version."""
    valid, bad = validate(schema, Candidates.of(candidates), window=window)
    version = store_version(store, valid) if len(valid) else None
    return IngestResult(version=version, rejected=bad)
