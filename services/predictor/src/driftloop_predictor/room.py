"""The memory bound, decided as a pure function: which datasets to unload to make room.

A loaded model is counted by its artifact's size (the skops file's bytes, uncompressed: an
estimate of what it holds in memory). Past ``max_models`` models or ``max_bytes`` bytes, the
datasets used least recently are unloaded whole (champion and rollout candidate); their
promotions are kept, so their next request loads them again. A model that alone does not fit
is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Loaded:
    """One dataset's loaded models, as the bound sees them."""

    dataset: str
    models: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Evict:
    """Unload these datasets (least recently used first), then load."""

    datasets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Refuse:
    """Do not load: the model alone is past the bound."""

    reason: str


def make_room(
    loaded: Sequence[Loaded],
    dataset: str,
    size: int,
    *,
    freed: int = 0,
    freed_bytes: int = 0,
    max_models: int,
    max_bytes: int | None,
) -> Evict | Refuse:
    """Room for one more model of `size` bytes for `dataset`.

    `loaded` is in least-recently-used order. `freed` models (`freed_bytes`) of `dataset` are
    about to be replaced by this one (a new champion drops the old one), so they do not count.
    `dataset`'s own models are never evicted to make room for it.
    """
    if max_bytes is not None and size > max_bytes:
        return Refuse(f"model of {size:,} bytes is larger than PREDICTOR_MAX_MODEL_MB allows")
    return fit(
        loaded,
        dataset,
        extra=1 - freed,
        extra_bytes=size - freed_bytes,
        max_models=max_models,
        max_bytes=max_bytes,
    )


def fit(
    loaded: Sequence[Loaded],
    keep: str,
    *,
    extra: int = 0,
    extra_bytes: int = 0,
    max_models: int,
    max_bytes: int | None,
) -> Evict | Refuse:
    """The least recently used datasets (never `keep`) to unload so that what is loaded, plus
    `extra` models of `extra_bytes`, is within the bound."""
    models = sum(entry.models for entry in loaded) + extra
    used = sum(entry.bytes for entry in loaded) + extra_bytes
    evicted: list[str] = []
    for entry in loaded:
        if models <= max_models and (max_bytes is None or used <= max_bytes):
            break
        if entry.dataset == keep or entry.models == 0:
            continue
        evicted.append(entry.dataset)
        models -= entry.models
        used -= entry.bytes
    if models > max_models or (max_bytes is not None and used > max_bytes):
        return Refuse("this dataset's own models fill the bound")
    return Evict(tuple(evicted))
