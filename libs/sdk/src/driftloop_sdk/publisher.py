"""Publishing events from anywhere with plain redis-py: the path any Redis client can take.

Each event is one XADD with its JSON in the field ``__data__``; see the README's event catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from driftloop_contracts import (
    Event,
    FeedbackReceived,
    Label,
    Record,
    RecordsSubmitted,
    Stream,
    streams,
)
from driftloop_contracts.keys import Keys, shard_of_prediction
from redis import Redis
from redis.cluster import RedisCluster

from .redis_users import RedisLogin

PRODUCER = "sdk"


class EventPublisher:
    def __init__(
        self,
        redis_url: str,
        *,
        namespace: str = "",
        producer: str = PRODUCER,
        login: RedisLogin | None = None,
        shards: int = 1,
        cluster: bool = False,
        redis: Redis | None = None,
    ) -> None:
        """`redis`: a client to publish with instead of one made from `redis_url` (a
        `Profile.connect()` follows sentinels too); it is closed with the publisher."""
        login = login or RedisLogin()
        self._redis: Redis | RedisCluster
        if redis is not None:
            self._redis = redis
        elif cluster:  # REDIS_CLUSTER
            self._redis = RedisCluster.from_url(redis_url, **login.kwargs())
        else:
            self._redis = login.connect(redis_url)
        self.namespace = namespace
        self.producer = producer
        #: REDIS_SHARDS of the stack: records go to their dataset's shard, labels to the
        #: shard of their predictions (driftloop_contracts.keys).
        self.shards = shards

    def close(self) -> None:
        self._redis.close()

    def publish(self, stream: Stream[Any], *events: Event) -> list[str]:
        """XADD each event (pipelined) to its shard's stream; returns the entry ids."""
        with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(self._key(stream, event), {b"__data__": event.model_dump_json().encode()})
            return [i.decode() for i in pipe.execute()]

    def _key(self, stream: Stream[Any], event: Event) -> str:
        if self.shards == 1:
            return stream.key(self.namespace)
        keys = Keys(self.namespace, self.shards)
        if isinstance(event, FeedbackReceived):
            first = event.labels[0].prediction_id
            return str(keys.shard(shard_of_prediction(first, self.shards)).stream(stream))
        return str(keys.of(str(getattr(event, "dataset", ""))).stream(stream))

    def submit_records(
        self, dataset: str, records: Iterable[Record | Mapping[str, Any]], *, batch: int = 500
    ) -> list[RecordsSubmitted]:
        """Send labelled rows to ingest in events of `batch` records."""
        chunk: list[Record] = []
        sent: list[RecordsSubmitted] = []
        for record in records:
            chunk.append(record if isinstance(record, Record) else Record.model_validate(record))
            if len(chunk) == batch:
                sent.append(self._records(dataset, chunk))
                chunk = []
        if chunk:
            sent.append(self._records(dataset, chunk))
        return sent

    def _records(self, dataset: str, records: Sequence[Record]) -> RecordsSubmitted:
        event = RecordsSubmitted(producer=self.producer, dataset=dataset, records=tuple(records))
        self.publish(streams.INGEST_RECORDS, event)
        return event

    def send_labels(self, labels: Iterable[Label | Mapping[str, Any]]) -> FeedbackReceived:
        """One feedback.received event (with shards, one per shard of the predictions; the
        first is returned)."""
        items = tuple(lb if isinstance(lb, Label) else Label.model_validate(lb) for lb in labels)
        groups: dict[int, list[Label]] = {}
        for label in items:
            groups.setdefault(self._shard_of(label), []).append(label)
        events = [FeedbackReceived(producer=self.producer, labels=g) for g in groups.values()]
        self.publish(streams.FEEDBACK_RECEIVED, *events)
        return events[0]

    def _shard_of(self, label: Label) -> int:
        if self.shards == 1:
            return 0
        return int(shard_of_prediction(label.prediction_id, self.shards))
