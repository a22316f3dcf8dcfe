"""The event bus: streams, consumer groups with their delivery guarantees, followers, upkeep."""

from .bus import Bus, Follower
from .effects import AfterCommit, Output, Publish, PublishBody, RedisWrite
from .keys import Keys
from .runner import Consumer, PermanentError, each, entry_ids
from .settings import BusSettings

__all__ = [
    "AfterCommit",
    "Bus",
    "BusSettings",
    "Consumer",
    "Follower",
    "Keys",
    "Output",
    "PermanentError",
    "Publish",
    "PublishBody",
    "RedisWrite",
    "each",
    "entry_ids",
]
