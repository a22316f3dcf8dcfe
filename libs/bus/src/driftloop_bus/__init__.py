"""The event bus: streams, consumer groups with their delivery guarantees, followers, upkeep."""

from driftloop_contracts.keys import Keys

from .bus import Bus, Follower
from .effects import AfterCommit, Output, Publish, PublishBody, RedisWrite
from .runner import Consumer, Delivery, PermanentError, each
from .settings import BusSettings

__all__ = [
    "AfterCommit",
    "Bus",
    "BusSettings",
    "Consumer",
    "Delivery",
    "Follower",
    "Keys",
    "Output",
    "PermanentError",
    "Publish",
    "PublishBody",
    "RedisWrite",
    "each",
]
