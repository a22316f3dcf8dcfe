"""Same model, same bytes: a skops file rewritten without what varies between two dumps.

`skops.io.dumps` names objects by their `id()` (the `__id__` fields and the `<id>.npy`
members) and stamps each zip member with the current time, so two dumps of equal models
differ. Here the ids are renumbered in their order of appearance in `schema.json` (a
bijection: objects shared stay shared) and every member gets one fixed time, so equal models
give equal bytes and equal sha256.
"""

from __future__ import annotations

import io
import re
import zipfile

SCHEMA = "schema.json"
#: The zip's earliest representable time, for every member.
EPOCH = (1980, 1, 1, 0, 0, 0)
_ID = re.compile(r'("__id__": )(\d+)')


def canonical_skops(data: bytes) -> bytes:
    """`data` (a skops zip) with ids renumbered and fixed member times; loads the same."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = source.read(SCHEMA).decode()
        members = {info.filename: (info, source.read(info)) for info in source.infolist()}
    numbers: dict[str, str] = {}
    # Only the zip's own member names are ids in quotes: a parameter such as "0.3" is not.
    files = [re.escape(n) for n in members if n != SCHEMA and _stem(n).isdigit()]
    ids = re.compile(_ID.pattern + (rf'|"(({"|".join(files)}))"' if files else ""))

    def renumber(match: re.Match[str]) -> str:
        if match.group(1):
            old = match.group(2)
            return f"{match.group(1)}{numbers.setdefault(old, str(len(numbers) + 1))}"
        stem, _, ext = match.group(3).partition(".")
        return f'"{numbers.setdefault(stem, str(len(numbers) + 1))}.{ext}"'

    schema = ids.sub(renumber, schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        write(target, SCHEMA, schema.encode(), members[SCHEMA][0].compress_type)
        for name in sorted(members, key=lambda n: _renamed(n, numbers)):
            if name != SCHEMA:
                info, body = members[name]
                write(target, _renamed(name, numbers), body, info.compress_type)
    return out.getvalue()


def write(archive: zipfile.ZipFile, name: str, body: bytes, compression: int) -> None:
    """One member at the fixed time, with fixed permissions."""
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    archive.writestr(info, body)


def _stem(name: str) -> str:
    return name.partition(".")[0]


def _renamed(name: str, numbers: dict[str, str]) -> str:
    stem, dot, ext = name.partition(".")
    return f"{numbers[stem]}{dot}{ext}" if stem in numbers else name
