"""A proposed DatasetSchema from a CSV, for a person to read and edit before registering it.

Per column: numeric if every non-empty value parses as a finite number (with the data's
minimum and maximum), else categorical (with its sorted categories, up to `MAX_CATEGORIES`);
nullable if any value is empty. The target is numeric with many distinct values: regression;
else classification with its classes. What the inference could not decide is said in notes.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftloop_contracts import DatasetSchema
from pydantic import ValidationError

#: Distinct values listed as categories at most; a column with more gets none (and a note).
MAX_CATEGORIES = 50
#: A numeric target with more distinct values than this is a regression target.
MAX_CLASSES = 20
#: Columns taken as the target when none is named, in this order (else the last column).
TARGET_NAMES = ("label", "target", "y", "class", "outcome")
OBSERVED_AT = "observed_at"


class InferError(ValueError):
    """The file cannot give a schema; the message says what to fix (one line)."""


@dataclass
class Proposal:
    schema: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def dataset_name(path: Path) -> str:
    """A valid dataset name from a file name: lower case, other characters as '_'."""
    name = re.sub(r"[^a-z0-9_-]+", "_", path.stem.lower()).strip("_-")
    return (name or "dataset")[:63]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InferError(f"no file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InferError(f"cannot read {path} as UTF-8 text: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    if not header:
        raise InferError(f"{path} is empty: it needs a header row and rows of data")
    rows = [r for r in reader if any((v or "").strip() for v in r.values() if isinstance(v, str))]
    if not rows:
        raise InferError(f"{path} has a header but no rows: the types come from the data")
    return header, rows


def infer(path: Path, name: str | None = None, target: str | None = None) -> Proposal:
    """The proposed schema of the CSV at `path`; InferError if there is none."""
    header, rows = read_csv(path)
    name = name or dataset_name(path)
    columns = [c for c in header if c != OBSERVED_AT]
    target = target or next((c for c in TARGET_NAMES if c in columns), columns[-1])
    if target not in columns:
        raise InferError(f"no column {target!r} for the target; the columns are {columns}")
    features = [c for c in columns if c != target]
    if not features:
        raise InferError(f"{path} has only the target column {target!r}: add feature columns")
    proposal = Proposal({})
    specs = [_feature(c, [r.get(c) or "" for r in rows], proposal.notes) for c in features]
    labels = [r.get(target) or "" for r in rows]
    proposal.schema = {
        "name": name,
        "features": specs,
        "target": _target(target, labels, proposal.notes),
    }
    _check(proposal.schema)
    if any("minimum" in s for s in specs):
        proposal.notes.append(
            "minimum/maximum are this file's range: rows outside it are rejected, widen them "
            "(or remove them) if later data may go further"
        )
    return proposal


def _numbers(values: Sequence[str]) -> list[float] | None:
    out: list[float] = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        out.append(number)
    return out


def _feature(name: str, values: Sequence[str], notes: list[str]) -> dict[str, Any]:
    present = [v.strip() for v in values if v.strip()]
    spec: dict[str, Any] = {"name": name}
    numbers = _numbers(present) if present else None
    if numbers is not None:
        spec |= {"kind": "numeric", "minimum": min(numbers), "maximum": max(numbers)}
    else:
        spec["kind"] = "categorical"
        distinct = sorted(set(present))
        if len(distinct) <= MAX_CATEGORIES:
            spec["categories"] = distinct
        else:
            notes.append(
                f"feature {name!r} has {len(distinct)} distinct values (over {MAX_CATEGORIES}): "
                "no categories listed; is it an identifier or free text to leave out?"
            )
        if not present:
            notes.append(f"feature {name!r} is always empty: it was made categorical")
    if len(present) < len(values):
        spec["nullable"] = True
    return spec


def _target(name: str, labels: Sequence[str], notes: list[str]) -> dict[str, Any]:
    present = [v.strip() for v in labels if v.strip()]
    if len(present) < len(labels):
        notes.append(f"{len(labels) - len(present)} row(s) have no {name!r}: ingest rejects them")
    distinct = sorted(set(present))
    numbers = _numbers(present) if present else None
    if numbers is not None and len(distinct) > MAX_CLASSES:
        return {"name": name, "kind": "regression"}
    if len(distinct) < 2:
        raise InferError(
            f"target {name!r} has {len(distinct)} distinct value(s): a classification target "
            "needs at least two; name another column with --target"
        )
    if len(distinct) > MAX_CATEGORIES:
        notes.append(f"target {name!r} has {len(distinct)} classes: is it the right column?")
    if numbers is not None:
        distinct = sorted(distinct, key=float)
    return {"name": name, "kind": "classification", "classes": distinct}


def _check(schema: dict[str, Any]) -> None:
    try:
        DatasetSchema.model_validate(schema)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in problem["loc"])
        hint = " (use --name)" if where == "name" else ""
        message = f"the proposed schema is invalid at {where}: {problem['msg']}{hint}"
        raise InferError(message) from None
