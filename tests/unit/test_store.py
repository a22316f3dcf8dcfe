"""The content-addressed store on a local directory: round trips, dedupe, integrity, confinement."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from driftloop_contracts import BlobRef
from driftloop_core.errors import IntegrityError, NotFound
from driftloop_core.store import ContentStore

DATA = b'{"features":{"x":1.0},"label":"a"}\n'
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path))


def stored_file(root: Path, ref: BlobRef) -> Path:
    return root / ref.key


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_then_get_returns_the_same_bytes(store: ContentStore) -> None:
    ref = store.put(DATA, kind="datasets/demo", suffix=".jsonl")

    assert store.get(ref) == DATA


def test_a_blob_is_keyed_by_kind_and_sha256(store: ContentStore) -> None:
    ref = store.put(DATA, kind="datasets/demo", suffix=".jsonl")

    assert ref == BlobRef(key=f"datasets/demo/{SHA[:2]}/{SHA}.jsonl", sha256=SHA, size=len(DATA))


def test_the_key_is_relative_to_the_store_root(tmp_path: Path, store: ContentStore) -> None:
    ref = store.put(DATA, kind="models")

    assert not ref.key.startswith("/")
    assert stored_file(tmp_path, ref).read_bytes() == DATA
    assert ContentStore(str(tmp_path)).get(ref) == DATA


def test_empty_bytes_are_a_blob_too(store: ContentStore) -> None:
    ref = store.put(b"", kind="empty")

    assert ref.size == 0
    assert store.get(ref) == b""


def test_the_same_bytes_give_the_same_key_and_are_written_once(
    tmp_path: Path, store: ContentStore
) -> None:
    first = store.put(DATA, kind="datasets/demo")
    path = stored_file(tmp_path, first)
    os.utime(path, ns=(0, 0))  # a rewrite would move the modification time

    second = store.put(DATA, kind="datasets/demo")

    assert second == first
    assert path.stat().st_mtime_ns == 0
    assert files_under(tmp_path) == [path]


def test_different_bytes_give_different_keys(store: ContentStore) -> None:
    assert store.put(b"a", kind="k").key != store.put(b"b", kind="k").key


def test_no_temporary_file_is_left_behind(tmp_path: Path, store: ContentStore) -> None:
    store.put(DATA, kind="datasets/demo")
    store.put(b"other", kind="datasets/demo")

    assert not [p for p in files_under(tmp_path) if p.name.endswith(".tmp")]


def test_a_tampered_blob_is_refused_naming_both_sha256s(
    tmp_path: Path, store: ContentStore
) -> None:
    ref = store.put(DATA, kind="datasets/demo")
    tampered = DATA.replace(b"1.0", b"9.0")
    stored_file(tmp_path, ref).write_bytes(tampered)

    with pytest.raises(IntegrityError) as caught:
        store.get(ref)

    message = str(caught.value)
    assert hashlib.sha256(tampered).hexdigest() in message
    assert f"expected {SHA}" in message
    assert ref.key in message


def test_a_ref_whose_sha256_does_not_match_is_refused(store: ContentStore) -> None:
    ref = store.put(DATA, kind="datasets/demo")
    wrong = ref.model_copy(update={"sha256": "0" * 64})

    with pytest.raises(IntegrityError, match="refusing to use it"):
        store.get(wrong)


def test_a_missing_blob_is_not_found(store: ContentStore) -> None:
    ref = BlobRef(key=f"datasets/demo/{SHA[:2]}/{SHA}", sha256=SHA, size=len(DATA))

    with pytest.raises(NotFound) as caught:
        store.get(ref)

    assert ref.key in str(caught.value)
    assert caught.value.status_code == 404


@pytest.mark.parametrize(
    "key", ["../outside", "datasets/../../etc/passwd", "a/b/..", "/etc/passwd"]
)
def test_a_key_that_escapes_the_root_is_refused(store: ContentStore, key: str) -> None:
    ref = BlobRef(key=key, sha256=SHA, size=len(DATA))

    with pytest.raises(IntegrityError, match="escapes the store root"):
        store.get(ref)


def test_a_kind_that_escapes_the_root_is_refused_before_writing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = ContentStore(str(root))

    with pytest.raises(IntegrityError, match="escapes the store root"):
        store.put(DATA, kind="../outside")

    assert files_under(tmp_path) == []


def test_a_dotted_name_that_stays_inside_is_allowed(store: ContentStore) -> None:
    ref = store.put(DATA, kind="models/v1..2")

    assert store.get(ref) == DATA
