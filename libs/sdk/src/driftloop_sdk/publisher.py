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
    ) -> None:
        self._redis = (login or RedisLogin()).connect(redis_url)
        self.namespace = namespace
        self.producer = producer

    def close(self) -> None:
        self._redis.close()

    def publish(self, stream: Stream[Any], *events: Event) -> list[str]:
        """XADD each event (pipelined); returns the entry ids."""
        with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(
                    stream.key(self.namespace), {b"__data__": event.model_dump_json().encode()}
                )
            return [i.decode() for i in pipe.execute()]

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
        items = tuple(lb if isinstance(lb, Label) else Label.model_validate(lb) for lb in labels)
        event = FeedbackReceived(producer=self.producer, labels=items)
        self.publish(streams.FEEDBACK_RECEIVED, event)
        return event
