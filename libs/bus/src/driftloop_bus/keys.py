"""The key scheme: every Redis key driftloop uses is named here, behind the namespace.

Services own keys under ``<namespace><owner>:...`` and touch no one else's; the bus owns
``<namespace>dl:...`` (handled markers, last errors, failpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop_contracts import Stream
from driftloop_contracts.streams import DLQ_SUFFIX


@dataclass(frozen=True)
class Keys:
    namespace: str = ""

    def stream(self, stream: Stream[Any] | str) -> str:
        name = stream if isinstance(stream, str) else stream.name
        return f"{self.namespace}{name}"

    def dead_letters(self, stream: Stream[Any] | str) -> str:
        return f"{self.stream(stream)}{DLQ_SUFFIX}"

    def seen(self, group: str, event_id: object) -> str:
        """Marks an event id a group has handled (dedupe)."""
        return f"{self.namespace}dl:seen:{group}:{event_id}"

    def errors(self, stream_key: str, group: str) -> str:
        """The last error of each entry a group failed to handle (for its dead letter)."""
        return f"{self.namespace}dl:errors:{stream_key}:{group}"

    def failpoint(self, name: str) -> str:
        return f"{self.namespace}dl:failpoint:{name}"

    def owned(self, owner: str, *parts: object) -> str:
        """A key of a service's own state: ``<namespace><owner>:<part>:<part>...``."""
        return ":".join([f"{self.namespace}{owner}", *(str(p) for p in parts)])
