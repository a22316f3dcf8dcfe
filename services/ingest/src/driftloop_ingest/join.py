"""The label join's state in Redis: what it keeps of each side, and the script that claims pairs.

Each prediction id has one hash, ``<ns>ingest:join:<prediction id>``, with up to three sides:

* ``a``, the answered prediction (role primary or canary), ``s``, its shadow (same id, never
  answered): a pointer to the prediction.logged entry (entry id, row) and what the labelled
  event needs (dataset, model version, role, predicted value and time). No features: they are
  read back from the entry when a training row is built.
* ``l``, the label and when it was received.

A pair (``a`` with ``l``, ``s`` with ``l``) is claimed by exactly one event, the one whose write
completed it: its claim ``ca`` / ``cs`` holds the claimant's event id and a copy of the label. A
redelivery of that event (its handler or commit failed) finds its own claim and emits the pair
again; no other event ever does. The claimant's commit deletes what the pair used (``a``, ``ca``
and ``l``; or ``s`` and ``cs``: the label stays for the answer), and Redis drops a hash with no
field left, so a labelled prediction leaves nothing behind. A shadow logged after its answer
was joined finds no label and expires with the key (INGEST_LABEL_WAIT_S).

One script call per stream entry writes that entry's side for every prediction id in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from driftloop_bus import Keys, RedisWrite
from driftloop_contracts import Event, Outcome, Role
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

OWNER = "ingest"
Side = Literal["a", "s", "l"]
PredictionSideName = Literal["a", "s"]
_ROLE_CODES: dict[str, bytes] = {"primary": b"p", "canary": b"c", "shadow": b"s"}
_ROLES: dict[bytes, Role] = {b"p": "primary", b"c": "canary", b"s": "shadow"}
#: The fields a committed pair no longer needs.
_USED: dict[str, tuple[str, ...]] = {"a": ("a", "ca", "l"), "s": ("s", "cs")}

_JOIN = """
local side, mine, ttl = ARGV[1], ARGV[2] .. '|', ARGV[3]
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, side, ARGV[3 + i])
  redis.call('EXPIRE', key, ttl)
  local h = redis.call('HMGET', key, 'a', 's', 'l', 'ca', 'cs')
  for j, p in ipairs({'a', 's'}) do
    if side == 'l' or side == p then
      local prediction, label, claim = h[j], h[3], h[3 + j]
      if not claim and prediction and label then
        claim = mine .. label
        redis.call('HSET', key, 'c' .. p, claim)
      end
      if claim and prediction and string.sub(claim, 1, #mine) == mine then
        table.insert(out, i)
        table.insert(out, p)
        table.insert(out, prediction)
        table.insert(out, string.sub(claim, #mine + 1))
      end
    end
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class PredictionSide:
    """What the join keeps of a prediction."""

    entry_id: str  # its prediction.logged entry
    row: int  # its row in that entry
    dataset: str
    model_version: int
    role: Role
    prediction: Outcome
    predicted_at_ms: int

    def pack(self) -> bytes:
        head = b"%s|%d|%d|%s|%d|" % (
            self.entry_id.encode(),
            self.row,
            self.model_version,
            _ROLE_CODES[self.role],
            self.predicted_at_ms,
        )
        return head + orjson.dumps(self.dataset) + b"," + orjson.dumps(self.prediction)

    @classmethod
    def unpack(cls, raw: bytes) -> PredictionSide:
        entry_id, row, version, role, at, tail = raw.split(b"|", 5)
        dataset, prediction = orjson.loads(b"[" + tail + b"]")
        return cls(
            entry_id.decode(), int(row), dataset, int(version), _ROLES[role], prediction, int(at)
        )


@dataclass(frozen=True, slots=True)
class LabelSide:
    """What the join keeps of a label."""

    label: str
    labelled_at_ms: int

    def pack(self) -> bytes:
        return b"%d|%s" % (self.labelled_at_ms, self.label.encode())

    @classmethod
    def unpack(cls, raw: bytes) -> LabelSide:
        at, label = raw.split(b"|", 1)
        return cls(label.decode(), int(at))


@dataclass(frozen=True, slots=True)
class Pair:
    """A prediction and its label, claimed by `cause` (the event whose write completed it)."""

    prediction_id: str
    side: PredictionSideName
    prediction: PredictionSide
    label: LabelSide
    cause: Event


@dataclass(frozen=True)
class SideWrite:
    """One stream entry's side of the join: every prediction (or label) of one event."""

    side: Side
    cause: Event
    items: Sequence[tuple[str, bytes]]  # (prediction id, packed side)


class JoinState:
    """The join hashes (keys ``<ns>ingest:join:<prediction id>``), expiring after `ttl_s`."""

    def __init__(self, redis: Redis, keys: Keys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = ttl_s
        self._script = redis.register_script(_JOIN)

    def key(self, prediction_id: str) -> str:
        return self._keys.owned(OWNER, "join", prediction_id)

    async def write(self, writes: Sequence[SideWrite]) -> list[Pair]:
        """Write each entry's side (one script call per entry, one round trip in all) and
        return the pairs the writing events hold."""
        # A prediction id twice in one entry is one write (the last, as HSET would keep).
        writes = [SideWrite(w.side, w.cause, [*dict(w.items).items()]) for w in writes if w.items]
        if not writes:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for w in writes:
                keys = [self.key(prediction_id) for prediction_id, _ in w.items]
                args: list[str | int | bytes] = [w.side, str(w.cause.event_id), self._ttl]
                args += [packed for _, packed in w.items]
                await self._script(keys=keys, args=args, client=pipe)
            replies: list[list[Any]] = await pipe.execute()
        return [pair for w, reply in zip(writes, replies, strict=True) for pair in _pairs(w, reply)]

    def forget(self, pairs: Sequence[Pair]) -> RedisWrite:
        """Delete what the pairs used, in the delivery's commit."""
        deletions = [(self.key(p.prediction_id), _USED[p.side]) for p in pairs]

        def apply(pipe: Pipeline) -> None:
            for key, fields in deletions:
                pipe.hdel(key, *fields)

        return RedisWrite(apply)


def _pairs(write: SideWrite, reply: list[Any]) -> list[Pair]:
    out = []
    for k in range(0, len(reply), 4):
        index, side, prediction, label = reply[k : k + 4]
        out.append(
            Pair(
                prediction_id=write.items[int(index) - 1][0],
                side="a" if side == b"a" else "s",
                prediction=PredictionSide.unpack(prediction),
                label=LabelSide.unpack(label),
                cause=write.cause,
            )
        )
    return out
