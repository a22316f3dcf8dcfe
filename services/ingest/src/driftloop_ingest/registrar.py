"""The adapter that registers datasets: read the dataset's current registration, decide
(registration.py), publish dataset.registered with the registration state in one transaction.

Replicas may register at once: the read-decide-write runs under WATCH on the registrations
hash, so a registration committed in between aborts this one's transaction, which then decides
again over what is there now (the same schema is then `Unchanged`, a conflicting one `Refused`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from driftloop_bus import AfterCommit, Bus, Output, Publish, datasets
from driftloop_contracts import DatasetRegistered, streams
from driftloop_core import Conflict, NotReady
from driftloop_core.telemetry import get_logger
from pydantic import ValidationError
from redis.exceptions import RedisError, WatchError

from .metrics import DATASETS_REGISTERED
from .registration import Register, RegistrationIn, Unchanged, decide_registration
from .service import Schemas

#: Transactions to try before answering 503: each retry means another registration landed.
ATTEMPTS = 8
log = get_logger(__name__)


@dataclass(frozen=True)
class Registered:
    registration: DatasetRegistered
    #: new, evolved, updated (published) or unchanged (nothing published)
    change: str

    @property
    def published(self) -> bool:
        return self.change != "unchanged"


class Registrar:
    def __init__(self, bus: Bus, schemas: Schemas, before_commit: Hook | None = None) -> None:
        self.bus = bus
        self.schemas = schemas
        #: Runs between the read and the transaction (tests widen the race window with it).
        self.before_commit = before_commit

    async def register(self, request: RegistrationIn) -> Registered:
        """Raises Conflict when the schema is not an additive evolution of the registered one."""
        for _ in range(ATTEMPTS):
            try:
                return await self._attempt(request)
            except WatchError:
                continue
            except RedisError as exc:
                raise NotReady(f"could not reach Redis, nothing was registered: {exc}") from exc
        raise NotReady(f"{ATTEMPTS} registrations raced this one; send it again")

    async def _attempt(self, request: RegistrationIn) -> Registered:
        name = request.dataset_schema.name
        key = datasets.registrations_key(self.bus.keys, name)  # the dataset's shard
        async with self.bus.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            current = _parse(await pipe.hget(key, name))
            decision = decide_registration(current, request)
            if isinstance(decision, Unchanged):
                return Registered(decision.registration, "unchanged")
            if not isinstance(decision, Register):
                raise Conflict(decision.reason)
            if self.before_commit is not None:
                await self.before_commit()
            outputs = self._outputs(decision)
            pipe.multi()  # type: ignore[no-untyped-call]
            for output in outputs:
                self.bus.client.stage(pipe, output)
            await pipe.execute()  # WatchError if the hash changed since the WATCH
        self.bus.client.committed(outputs)
        log.info(
            "dataset registered",
            dataset=name,
            version=decision.event.dataset_schema.version,
            change=decision.change,
        )
        return Registered(decision.event, decision.change)

    def _outputs(self, decision: Register) -> list[Output]:
        event = decision.event
        count = DATASETS_REGISTERED.labels(change=decision.change).inc
        return [
            Publish(streams.DATASET_REGISTERED, event),
            datasets.record_registration(self.bus.keys, event),
            AfterCommit(partial(self.schemas.apply, event)),
            AfterCommit(count),
        ]


Hook = Callable[[], Awaitable[None]]


def _parse(raw: bytes | str | None) -> DatasetRegistered | None:
    if raw is None:
        return None
    try:
        return DatasetRegistered.model_validate_json(raw)
    except ValidationError as exc:  # written by an older ingest: register over it
        log.error("unreadable registration replaced", error=str(exc))
        return None
