"""The label join's state in Redis: what it keeps of each side, and the script that claims pairs.

A side waiting for the other is one key, ``<ns>ingest:join:<side>:<prediction id>``, that
expires after INGEST_LABEL_WAIT_S:

* ``a``, the answered prediction (role primary or canary), ``s``, its shadow (same id, never
  answered): a pointer to the prediction.logged entry (entry id, row) and what the labelled
  event needs (dataset, model version, role, predicted value and time). No features: they are
  read back from the entry when a training row is built.
* ``l``, the label and when it was received.

The event whose write completes a pair (``a`` with ``l``, ``s`` with ``l``) claims it: the
sides the pair used are deleted at once (the label stays while the answer it also waits for
has not come), so no other event can ever complete it, and the pairs the event completed are
kept under its claim key, ``<ns>ingest:join:claims:<event id>``, until its commit deletes
that key. A redelivery of the event (its handler or its commit failed) finds the claim key
and gets the same pairs back, writing nothing. A labelled prediction leaves nothing behind. A
shadow logged after its answer was joined finds no label and expires, as does every side that
waits longer than INGEST_LABEL_WAIT_S.

One script call per stream entry writes that entry's side for every prediction id in it (two
Redis calls per id) and answers with one JSON string; its ids and sides go in as two JSON
arguments. redis-py spends about a microsecond of Python per argument or reply item and more
per command, which had been most of ingest's CPU per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import orjson
from driftloop_bus import Keys, RedisWrite
from driftloop_contracts import Event, FeedbackReceived, Outcome, PredictionsLogged, Role
from driftloop_contracts.columnar import epoch_ms
from redis.asyncio import Redis

OWNER = "ingest"
Side = Literal["a", "s", "l"]
PredictionSideName = Literal["a", "s"]
_ROLE_CODES: dict[str, str] = {"primary": "p", "canary": "c", "shadow": "s"}
_ROLES: dict[str, Role] = {"p": "primary", "c": "canary", "s": "shadow"}

# ARGV: side ('a', 's' or 'l'), claimant event id, ttl, key prefix, the prediction ids (a JSON
# array), their packed sides (a JSON array). Key names are built here from the prefix: the bus
# commits across streams and keys in one MULTI, so driftloop runs on one Redis node anyway.
_JOIN = """
local side, ttl, prefix = ARGV[1], ARGV[3], ARGV[4]
local claims = prefix .. 'claims:' .. ARGV[2]
local done = redis.call('GET', claims)
if done then return done end  -- a redelivery: the same pairs, nothing written again
local ids, values = cjson.decode(ARGV[5]), cjson.decode(ARGV[6])
local out = {}
for i, id in ipairs(ids) do
  local value = values[i]
  local function key(name) return prefix .. name .. ':' .. id end
  if side == 'l' then
    local got = redis.call('MGET', key('a'), key('s'))
    if got[1] then table.insert(out, {i, 'a', got[1], value}) end
    if got[2] then table.insert(out, {i, 's', got[2], value}) end
    if got[1] and got[2] then
      redis.call('DEL', key('a'), key('s'))
    elseif got[1] then
      redis.call('DEL', key('a'))
    else  -- no answer yet: the label waits for it (a shadow, if here, is joined already)
      if got[2] then redis.call('DEL', key('s')) end
      redis.call('SET', key('l'), value, 'EX', ttl)
    end
  else
    local label = redis.call('GET', key('l'))
    if label then
      table.insert(out, {i, side, value, label})
      if side == 'a' then redis.call('DEL', key('l')) end
    else
      redis.call('SET', key(side), value, 'EX', ttl)
    end
  end
end
if #out == 0 then return false end
local reply = cjson.encode(out)
redis.call('SET', claims, reply, 'EX', ttl)
return reply
"""


class PredictionSide(NamedTuple):
    """What the join keeps of a prediction. (Named tuples: a label batch makes three of these
    per pair, and a frozen dataclass costs a setattr call per field.)"""

    entry_id: str  # its prediction.logged entry
    row: int  # its row in that entry
    dataset: str
    model_version: int
    role: Role
    prediction: Outcome
    predicted_at_ms: int

    def pack(self) -> str:
        head = f"{self.entry_id}|{self.row}|{self.model_version}|{_ROLE_CODES[self.role]}|"
        tail = orjson.dumps([self.dataset, self.prediction])[1:-1].decode()
        return f"{head}{self.predicted_at_ms}|{tail}"

    @classmethod
    def unpack(cls, text: str) -> PredictionSide:
        entry_id, row, version, role, at, tail = text.split("|", 5)
        dataset, prediction = orjson.loads(f"[{tail}]")
        return cls(entry_id, int(row), dataset, int(version), _ROLES[role], prediction, int(at))


class LabelSide(NamedTuple):
    """What the join keeps of a label."""

    label: str
    labelled_at_ms: int

    def pack(self) -> str:
        return f"{self.labelled_at_ms}|{self.label}"

    @classmethod
    def unpack(cls, text: str) -> LabelSide:
        at, label = text.split("|", 1)
        return cls(label, int(at))


class Pair(NamedTuple):
    """A prediction and its label, claimed by `cause` (the event whose write completed it)."""

    prediction_id: str
    side: PredictionSideName
    prediction: PredictionSide
    label: LabelSide
    cause: Event


def prediction_sides(event: PredictionsLogged, entry_id: str) -> list[tuple[str, str]]:
    """(prediction id, packed side) for every row of a prediction.logged entry: what
    PredictionSide.pack gives, with what the rows share worked out once."""
    middle = f"|{event.model_version}|{_ROLE_CODES[event.role]}|"
    dataset = f"|{orjson.dumps(event.dataset).decode()},"
    predictions = {p: orjson.dumps(p).decode() for p in set(event.predictions)}
    return [
        (str(prediction_id), f"{entry_id}|{row}{middle}{at}{dataset}{predictions[prediction]}")
        for row, (prediction_id, prediction, at) in enumerate(
            zip(event.prediction_ids, event.predictions, event.predicted_at_ms, strict=True)
        )
    ]


def label_sides(event: FeedbackReceived) -> list[tuple[str, str]]:
    """(prediction id, packed side) for every label; received when the event was sent."""
    at = f"{epoch_ms(event.occurred_at)}|"
    return [(str(lb.prediction_id), at + lb.label) for lb in event.labels]


@dataclass(frozen=True)
class SideWrite:
    """One stream entry's side of the join: every prediction (or label) of one event."""

    side: Side
    cause: Event
    items: Sequence[tuple[str, str]]  # (prediction id, packed side)


class JoinState:
    """The join's keys (``<ns>ingest:join:...``); sides expire after `ttl_s`."""

    def __init__(self, redis: Redis, keys: Keys, ttl_s: int) -> None:
        self._redis = redis
        self._ttl = ttl_s
        self._script = redis.register_script(_JOIN)
        self._prefix = keys.owned(OWNER, "join", "")

    def key(self, name: str, suffix: object) -> str:
        """``<ns>ingest:join:<name>:<suffix>``: a side (a, s, l) of a prediction id, or the
        claims of an event (name ``claims``, suffix its event id)."""
        return f"{self._prefix}{name}:{suffix}"

    async def write(self, writes: Sequence[SideWrite]) -> list[Pair]:
        """Write each entry's side (one script call per entry, one round trip in all) and
        return the pairs the writing events claimed."""
        # A prediction id twice in one entry is one write (the last, as SET would keep).
        writes = [SideWrite(w.side, w.cause, [*dict(w.items).items()]) for w in writes if w.items]
        if not writes:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for w in writes:
                ids = orjson.dumps([prediction_id for prediction_id, _ in w.items])
                sides = orjson.dumps([packed for _, packed in w.items])
                args: list[str | int | bytes] = [w.side, str(w.cause.event_id), self._ttl]
                args += [self._prefix, ids, sides]
                await self._script(args=args, client=pipe)
            replies: list[bytes | None] = await pipe.execute()
        return [pair for w, reply in zip(writes, replies, strict=True) for pair in _pairs(w, reply)]

    def forget(self, pairs: Sequence[Pair]) -> RedisWrite:
        """Delete the claims of the events that claimed the pairs, in the delivery's commit:
        one DEL, one key per event."""
        claimants = {id(p.cause): p.cause for p in pairs}.values()
        keys = [self.key("claims", cause.event_id) for cause in claimants]
        return RedisWrite(lambda pipe: pipe.delete(*keys) if keys else None)


def _pairs(write: SideWrite, reply: bytes | None) -> list[Pair]:
    if not reply:
        return []
    return [
        Pair(
            prediction_id=write.items[index - 1][0],
            side="a" if side == "a" else "s",
            prediction=PredictionSide.unpack(prediction),
            label=LabelSide.unpack(label),
            cause=write.cause,
        )
        for index, side, prediction, label in orjson.loads(reply)
    ]
