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
shadow logged after its answer was joined finds the label only if its dataset had a shadow
logged in the last ten minutes (a marker, ``<ns>ingest:shadowed:<dataset>``, that each shadow
entry sets): then the label is kept, marked ``!``, for INGEST_SHADOW_WAIT_S after the answer's
join; a label whose shadow joined first is marked ``~`` until its answer comes. Without a
shadow nothing is kept. Every side that waits longer than INGEST_LABEL_WAIT_S expires.
(Labels sent right after their answers, as a live trial's traffic often is, reach ingest
before the predictor's log of either side; the shadow's log may come after the answer's.)

Answered pairs (not shadows) are also gathered, for training rows, in one list,
``<ns>ingest:join:rows`` (each the two packed sides; ``rows:since`` holds when the first came).
The script call that finds it holding INGEST_FEEDBACK_ROWS rows, or its first row older than
INGEST_FEEDBACK_WAIT_S, takes it whole into its event's claim, so the rows become one dataset
version committed with that event, exactly once, as pairs are. A ``feedback-due`` event (side
``f``, no ids), published when gathered rows wait too long with no label coming, takes them
too. (One version per delivery had been hundreds of small versions a minute, each written,
announced and recorded by the trainer.)

One script call per stream entry writes that entry's side for every prediction id in it (two
Redis calls per id) and answers with one JSON string; its ids and sides go in as two JSON
arguments. redis-py spends about a microsecond of Python per argument or reply item and more
per command, which had been most of ingest's CPU per label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import orjson
from driftloop_bus import Keys, RedisWrite
from driftloop_bus.connection import is_cluster
from driftloop_contracts import Event, FeedbackReceived, Outcome, PredictionsLogged, Role
from driftloop_contracts.columnar import epoch_ms
from driftloop_contracts.keys import shard_of_prediction
from redis.asyncio import Redis

OWNER = "ingest"
Side = Literal["a", "s", "l", "f"]
PredictionSideName = Literal["a", "s"]
_ROLE_CODES: dict[str, str] = {"primary": "p", "canary": "c", "shadow": "s"}
_ROLES: dict[str, Role] = {"p": "primary", "c": "canary", "s": "shadow"}

# ARGV: side ('a', 's', 'l', or 'f' to take the gathered rows only), claimant event id, ttl,
# key prefix, the prediction ids (a JSON array), their packed sides (a JSON array), now (ms),
# the rows and the age (ms) at which the gathered rows are taken, the ttl of a label that came
# before its prediction. Reply: [pairs, taken rows].
# Key names are built here from the prefix (the shard's: every key the script touches is in
# one slot); KEYS[1], the claims key, only routes the call to its node on a Redis Cluster.
_JOIN = """
local side, ttl, prefix = ARGV[1], ARGV[3], ARGV[4]
local claims = prefix .. 'claims:' .. ARGV[2]
local done = redis.call('GET', claims)
if done then return done end  -- a redelivery: the same pairs, nothing written again
local ids, values = cjson.decode(ARGV[5]), cjson.decode(ARGV[6])
local now, max_rows, max_wait = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local dataset, shadow_wait, shadowed_prefix = ARGV[11], tonumber(ARGV[12]), ARGV[13]
local rows, since = prefix .. 'rows', prefix .. 'rows:since'
-- A label is kept plain while its answer has not come; '~' once its shadow was joined (the
-- answer still to come); '!' once its answer was joined, for shadow_wait seconds, if the
-- dataset had a shadow lately (its shadow may be logged after the answer).
local shadowed_cache = {}
local function shadowed(name)
  if shadow_wait <= 0 or not name then return false end
  if shadowed_cache[name] == nil then
    shadowed_cache[name] = redis.call('EXISTS', shadowed_prefix .. name) == 1
  end
  return shadowed_cache[name]
end
local function dataset_of(packed)
  return string.match(packed, '^[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|"([^"]*)"')
end
if side == 's' and dataset ~= '' then
  redis.call('SET', shadowed_prefix .. dataset, 1, 'EX', math.max(600, shadow_wait))
end
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
      if shadowed(dataset_of(got[1])) then
        redis.call('SET', key('l'), '!' .. value, 'EX', shadow_wait)
      end
    elseif got[2] then  -- the shadow is joined; the label waits for the answer
      redis.call('DEL', key('s'))
      redis.call('SET', key('l'), '~' .. value, 'EX', ARGV[10])
    else  -- nothing yet: the label waits
      redis.call('SET', key('l'), value, 'EX', ARGV[10])
    end
  else
    local label = redis.call('GET', key('l'))
    if label then
      local mark = string.sub(label, 1, 1)
      local plain = (mark == '~' or mark == '!') and string.sub(label, 2) or label
      if side == 'a' and mark ~= '!' then
        table.insert(out, {i, side, value, plain})
        if mark ~= '~' and shadowed(dataset) then
          redis.call('SET', key('l'), '!' .. plain, 'EX', shadow_wait)
        else
          redis.call('DEL', key('l'))
        end
      elseif side == 's' and mark ~= '~' then
        table.insert(out, {i, side, value, plain})
        if mark == '!' then
          redis.call('DEL', key('l'))
        else
          redis.call('SET', key('l'), '~' .. plain, 'KEEPTTL')
        end
      end
    else
      redis.call('SET', key(side), value, 'EX', ttl)
    end
  end
end
local gathered = 0
for _, pair in ipairs(out) do  -- answered pairs become training rows; shadows never do
  if pair[2] == 'a' then
    redis.call('RPUSH', rows, pair[3] .. '\\n' .. pair[4])
    gathered = gathered + 1
  end
end
if gathered > 0 then redis.call('SET', since, now, 'NX') end
local taken = {}
local waiting = redis.call('LLEN', rows)
if waiting > 0 and (side == 'f' or waiting >= max_rows
    or now - tonumber(redis.call('GET', since) or now) >= max_wait) then
  taken = redis.call('LRANGE', rows, 0, -1)
  redis.call('DEL', rows, since)
end
if #out == 0 and #taken == 0 then return false end
local reply = cjson.encode({out, taken})
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


class Gathered(NamedTuple):
    """An answered pair gathered for training, taken by `cause` with the rest of the list."""

    prediction: PredictionSide
    label: LabelSide
    cause: Event

    @classmethod
    def unpack(cls, text: str, cause: Event) -> Gathered:
        prediction, label = text.split("\n", 1)  # a packed prediction has no newline
        return cls(PredictionSide.unpack(prediction), LabelSide.unpack(label), cause)


class Joined(NamedTuple):
    """What the writes of one delivery claimed: pairs to announce, rows to train on."""

    pairs: list[Pair]
    rows: list[Gathered]


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
    """The join's keys (``<ns>ingest:join:...``); sides expire after `ttl_s`; gathered rows
    are taken at `rows` of them or `wait_s` after the first."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        ttl_s: int,
        *,
        rows: int = 1,
        wait_s: float = 0.0,
        early_label_ttl_s: int | None = None,
        shadow_wait_s: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._ttl = ttl_s
        # A label with no prediction yet waits less: its prediction, if there is one, is at
        # most the prediction.logged backlog away; a label for an id never predicted is
        # what a client could make Redis hold, and it goes after this.
        self._label_ttl = min(ttl_s, early_label_ttl_s or ttl_s)
        self._rows = rows
        self._wait_ms = int(wait_s * 1000)
        self._clock = clock
        self._script = redis.register_script(_JOIN)
        self._cluster = is_cluster(redis)
        self.keys = keys
        # A label joined with its answer waits this long for the shadow's prediction, in
        # datasets that had a shadow logged lately (a marker per dataset, set by shadows).
        self._shadow_wait = int(shadow_wait_s)

    def shard(self, cause: Event) -> Keys:
        """The shard an event's side is joined in: its dataset's; a label's, the shard its
        predictions were made in (the ingest edge splits labels by it); feedback-due's, the
        one it names."""
        if isinstance(cause, FeedbackReceived):
            return self.keys.shard(
                shard_of_prediction(cause.labels[0].prediction_id, self.keys.shards)
            )
        dataset = getattr(cause, "dataset", None)
        if isinstance(dataset, str):
            return self.keys.of(dataset)
        return self.keys.shard(int(getattr(cause, "shard", 0)))

    def key(self, name: str, suffix: object, shard: Keys | None = None) -> str:
        """``<ns>ingest:join:<name>:<suffix>``: a side (a, s, l) of a prediction id, or the
        claims of an event (name ``claims``, suffix its event id), in `shard` (default: 0)."""
        return f"{(shard or self.keys).owned(OWNER, 'join', '')}{name}:{suffix}"

    async def gathered_since(self, shard: Keys | None = None) -> float | None:
        """When the oldest gathered row of a shard came (epoch seconds), if any waits."""
        since = await self._redis.get(self.key("rows", "since", shard))
        return int(since) / 1000 if since else None

    async def write(self, writes: Sequence[SideWrite]) -> Joined:
        """Write each entry's side (one script call per entry, one round trip in all) and
        return the pairs and gathered rows the writing events claimed."""
        # A prediction id twice in one entry is one write (the last, as SET would keep).
        writes = [
            SideWrite(w.side, w.cause, [*dict(w.items).items()])
            for w in writes
            if w.items or w.side == "f"
        ]
        if not writes:
            return Joined([], [])
        now_ms = int(self._clock() * 1000)
        calls = [self._call(w, now_ms) for w in writes]
        replies: list[bytes | None] = []
        if self._cluster:  # redis-py's cluster pipeline refuses EVALSHA: one call at a time
            for keys, args in calls:
                replies.append(await self._script(keys=keys, args=args))
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    await self._script(keys=keys, args=args, client=pipe)
                replies = await pipe.execute()
        joined = Joined([], [])
        for w, reply in zip(writes, replies, strict=True):
            pairs, rows = _claimed(w, reply)
            joined.pairs.extend(pairs)
            joined.rows.extend(rows)
        return joined

    def _call(self, w: SideWrite, now_ms: int) -> tuple[list[str], list[str | int | bytes]]:
        """KEYS and ARGV of the script call that writes one entry's side."""
        shard = self.shard(w.cause)
        ids = orjson.dumps([prediction_id for prediction_id, _ in w.items])
        sides = orjson.dumps([packed for _, packed in w.items])
        args: list[str | int | bytes] = [w.side, str(w.cause.event_id), self._ttl]
        args += [shard.owned(OWNER, "join", ""), ids, sides, now_ms, self._rows]
        args += [self._wait_ms, self._label_ttl, getattr(w.cause, "dataset", "")]
        args += [self._shadow_wait, shard.owned(OWNER, "shadowed", "")]
        return [self.key("claims", w.cause.event_id, shard)], args

    def forget(self, claimed: Sequence[Pair | Gathered]) -> RedisWrite:
        """Delete the claims of the events that claimed the pairs and rows, in the delivery's
        commit: one DEL, one key per event."""
        claimants = {id(p.cause): p.cause for p in claimed}.values()
        keys = [self.key("claims", c.event_id, self.shard(c)) for c in claimants]
        return RedisWrite(lambda pipe: pipe.delete(*keys) if keys else None)


def _claimed(write: SideWrite, reply: bytes | None) -> tuple[list[Pair], list[Gathered]]:
    if not reply:
        return [], []
    pairs, rows = orjson.loads(reply)  # Lua's cjson writes an empty list as {}
    taken = [Gathered.unpack(row, write.cause) for row in rows or ()]
    return _pairs(write, pairs or []), taken


def _pairs(write: SideWrite, claimed: list[list[Any]]) -> list[Pair]:
    return [
        Pair(
            prediction_id=write.items[index - 1][0],
            side="a" if side == "a" else "s",
            prediction=PredictionSide.unpack(prediction),
            label=LabelSide.unpack(label),
            cause=write.cause,
        )
        for index, side, prediction, label in claimed
    ]
