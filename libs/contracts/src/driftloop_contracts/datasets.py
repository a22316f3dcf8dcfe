"""Dataset versions on disk: canonical JSON lines, one labelled row per line.

Canonical bytes (sorted keys, fixed order) make the sha256 a content id: the same rows give the
same version, whoever writes them and however often.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from .refs import FeatureRow


@dataclass(frozen=True, slots=True)
class LabelledRow:
    features: FeatureRow
    label: str
    observed_at: datetime


def dumps(rows: Iterable[LabelledRow]) -> bytes:
    opts = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z
    return b"".join(
        orjson.dumps(
            {
                "features": r.features,
                "label": r.label,
                "observed_at": r.observed_at.astimezone(UTC),
            },
            option=opts,
        )
        + b"\n"
        for r in rows
    )


def loads(data: bytes) -> list[LabelledRow]:
    rows = []
    for line in data.splitlines():
        if line:
            obj = orjson.loads(line)
            rows.append(
                LabelledRow(
                    features=obj["features"],
                    label=obj["label"],
                    observed_at=datetime.fromisoformat(obj["observed_at"]),
                )
            )
    return rows
