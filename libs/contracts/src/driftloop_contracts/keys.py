"""The key scheme: every Redis key driftloop uses is named here, behind the namespace.

Services own keys under ``<namespace><owner>:...`` and touch no one else's; the bus owns
``<namespace>dl:...`` (handled markers, last errors, failpoints).

Sharding (REDIS_SHARDS > 1, for Redis Cluster): a *shard* is the namespace plus a hash tag,
``<namespace>{s<i>[.<k>]}:`` (`shard_tag`), and a dataset lives in exactly one shard
(`shard_of`). Every key of a shard hashes to the same cluster slot, so one delivery's commit
(its input's XACK, the events it publishes, the handled markers, the service's state of that
dataset) is one MULTI on one node. With one shard (the default) there is no tag: the key
names are today's.
"""

from __future__ import annotations

import binascii
import functools
import itertools
import zlib
from dataclasses import dataclass, replace
from typing import Any

from .streams import DLQ_SUFFIX, Stream

#: Redis Cluster's hash slots.
SLOTS = 16384


def key_slot(key: bytes) -> int:
    """The cluster slot of a key, as Redis computes it: CRC16 (XMODEM, which is what
    `binascii.crc_hqx` is) of the hash tag if the key has one, else of the whole key."""
    start = key.find(b"{")
    if start > -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key, 0) % SLOTS


def shard_of(dataset: str, shards: int) -> int:
    """The shard a dataset lives in: stable across processes and versions (CRC-32), so
    REDIS_SHARDS must not change while data exists (it would move datasets)."""
    return 0 if shards <= 1 else zlib.crc32(dataset.encode()) % shards


def shard_of_prediction(prediction_id: object, shards: int) -> int:
    """The shard a prediction was made in, read from its id: the predictor makes the id's
    first 32 bits equal the shard of its dataset modulo `shards` (`prediction_head`), so a
    label (which names no dataset) is joined in the shard that logged its prediction."""
    return 0 if shards <= 1 else int(str(prediction_id)[:8], 16) % shards


def prediction_head(first: int, shard: int, shards: int) -> int:
    """A random 32-bit `first` moved to the nearest value that names `shard`."""
    if shards <= 1:
        return first
    moved = first - first % shards + shard
    return moved if moved < 2**32 else moved - shards


@functools.cache
def shard_tag(index: int, shards: int) -> str:
    """The hash tag of shard `index` of `shards`: every key with it is in one cluster slot,
    and that slot is in the index-th of `shards` equal slot ranges. A cluster whose primaries
    own equal ranges (what `redis-cli --cluster create` makes) holds the same number of shards
    on each primary when REDIS_SHARDS is a multiple of the primaries, which plain tags
    ({s0}, {s1}, ...: CRC16 scatters them) do not give."""
    low, high = index * SLOTS // shards, (index + 1) * SLOTS // shards
    for attempt in itertools.count():
        tag = f"s{index}" if attempt == 0 else f"s{index}.{attempt}"
        if low <= key_slot(tag.encode()) < high:
            return f"{{{tag}}}"
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Keys:
    """The keys of one shard (`index`) of a namespace split in `shards` shards. `Keys(ns)` is
    the unsharded scheme; `keys.of(dataset)` the shard holding a dataset."""

    namespace: str = ""
    shards: int = 1
    index: int = 0

    def __post_init__(self) -> None:
        if self.shards < 1 or not 0 <= self.index < self.shards:
            raise ValueError(f"shard {self.index} of {self.shards}")
        if self.shards > 1 and "{" in self.namespace:
            raise ValueError("a sharded namespace must not contain '{' (it would be the tag)")

    @property
    def prefix(self) -> str:
        """What every key of this shard starts with."""
        if self.shards == 1:
            return self.namespace
        return f"{self.namespace}{shard_tag(self.index, self.shards)}:"

    def shard(self, index: int) -> Keys:
        return replace(self, index=index)

    def of(self, dataset: str) -> Keys:
        """The keys of the shard `dataset` lives in."""
        return self.shard(shard_of(dataset, self.shards))

    def all(self) -> list[Keys]:
        """Every shard's keys (one: this scheme, unsharded)."""
        return [self.shard(i) for i in range(self.shards)]

    def stream(self, stream: Stream[Any] | str) -> str:
        name = stream if isinstance(stream, str) else stream.name
        return f"{self.prefix}{name}"

    def dead_letters(self, stream: Stream[Any] | str) -> str:
        return f"{self.stream(stream)}{DLQ_SUFFIX}"

    def seen(self, group: str, event_id: object) -> str:
        """Marks an event id a group has handled (dedupe)."""
        return f"{self.prefix}dl:seen:{group}:{event_id}"

    def errors(self, stream_key: str, group: str) -> str:
        """The last error of each entry a group failed to handle (for its dead letter)."""
        return f"{self.prefix}dl:errors:{stream_key}:{group}"

    def failpoint(self, name: str) -> str:
        return f"{self.prefix}dl:failpoint:{name}"

    def owned(self, owner: str, *parts: object) -> str:
        """A key of a service's own state: ``<prefix><owner>:<part>:<part>...``."""
        return ":".join([f"{self.prefix}{owner}", *(str(p) for p in parts)])
