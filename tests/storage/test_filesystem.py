"""Filesystem-store specifics: safe key mapping, atomic writes, sidecars, crash leftovers."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediakit.errors import ObjectNotFound, StorageError
from mediakit.storage import ByteSpan, FilesystemObjectStore
from tests.quick import examples


@pytest.fixture
def fs(tmp_path: Path) -> FilesystemObjectStore:
    store = FilesystemObjectStore(tmp_path / "root", "media")
    store.ensure_bucket()
    return store


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "..",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a/",
        "a\x00b",
        "a\\..\\b",
        ".mediakit/meta/x",
        "x" * 256,
        "a/" * 600,
    ],
)
def test_unsafe_keys_are_refused(fs: FilesystemObjectStore, key: str) -> None:
    """Keys that are empty, absolute, traverse, contain NUL/backslash or reach the store's
    own files are refused before any file is touched."""
    with pytest.raises(ValueError, match="key"):
        fs.put_bytes(key, b"x", content_type="text/plain")
    with pytest.raises(ValueError, match="key"):
        fs.head(key)
    assert not any(p.is_file() for p in fs.root.parent.rglob("*") if ".mediakit" not in p.parts)


def test_bytes_land_at_the_key_path_with_a_sidecar(fs: FilesystemObjectStore) -> None:
    """The object is a plain file at its key; a sidecar holds the type and quoted MD5 etag."""
    info = fs.put_bytes("images/a1/original", b"abc", content_type="image/png")
    assert (fs.base / "images" / "a1" / "original").read_bytes() == b"abc"
    sidecars = list((fs.base / ".mediakit" / "meta").glob("*.json"))
    assert len(sidecars) == 1
    meta = json.loads(sidecars[0].read_text())
    assert meta == {
        "content_type": "image/png",
        "etag": '"900150983cd24fb0d6963f7d28e17f72"',
        "size": 3,
    }
    assert info.etag == meta["etag"]
    assert list((fs.base / ".mediakit" / "tmp").iterdir()) == []


def test_head_recovers_from_a_missing_sidecar(fs: FilesystemObjectStore) -> None:
    """If the sidecar is lost (a crash between renames), head recomputes the etag."""
    info = fs.put_bytes("k", b"abc", content_type="text/plain")
    for sidecar in (fs.base / ".mediakit" / "meta").glob("*.json"):
        sidecar.unlink()
    head = fs.head("k")
    assert (head.etag, head.size, head.content_type) == (info.etag, 3, "application/octet-stream")


def test_a_write_in_progress_is_listed_and_invisible(fs: FilesystemObjectStore) -> None:
    """While a write runs, readers see no object and the write is listed as an upload."""
    seen: dict[str, object] = {}

    def chunks() -> Iterator[bytes]:
        yield b"part one"
        seen["uploads"] = [u.key for u in fs.list_multipart_uploads()]
        seen["keys"] = list(fs.list_keys())
        yield b"part two"

    fs.put_stream("music/s/t/original", chunks(), content_type="audio/flac")
    assert seen == {"uploads": ["music/s/t/original"], "keys": []}
    assert fs.list_multipart_uploads() == []


def test_concurrent_writers_never_expose_a_mix(fs: FilesystemObjectStore) -> None:
    """Readers racing two writers of one key always see one whole version."""
    versions = [bytes([i]) * 200_000 for i in range(2)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(v: bytes) -> None:
        while not stop.is_set():
            fs.put_stream(
                "race", (v[i : i + 4096] for i in range(0, len(v), 4096)), content_type="x"
            )

    threads = [threading.Thread(target=write, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    try:
        for _ in range(50):
            try:
                got = b"".join(fs.get_range("race"))
            except ObjectNotFound:
                continue
            if got not in versions:
                errors.append(AssertionError(f"mixed read of {len(got)} bytes"))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []


def test_key_that_is_also_a_prefix_is_a_clear_error(fs: FilesystemObjectStore) -> None:
    """A key cannot be both an object and a prefix on a filesystem: StorageError says so."""
    fs.put_bytes("a/b", b"1", content_type="x")
    with pytest.raises(StorageError, match="clashes"):
        fs.put_bytes("a", b"2", content_type="x")
    fs.put_bytes("c", b"1", content_type="x")
    with pytest.raises(StorageError, match="clashes"):
        fs.put_bytes("c/d", b"2", content_type="x")
    assert sorted(fs.list_keys()) == ["a/b", "c"]
    assert fs.list_multipart_uploads() == []


def test_delete_prunes_emptied_directories(fs: FilesystemObjectStore) -> None:
    """Deleting the last object under a prefix removes its directories, not the bucket."""
    fs.put_bytes("images/a1/rev/w320.webp", b"1", content_type="image/webp")
    fs.delete("images/a1/rev/w320.webp")
    assert not (fs.base / "images").exists()
    assert fs.base.is_dir()
    fs.put_bytes("images", b"now a file", content_type="x")  # the name is free again


def test_abort_ignores_foreign_upload_ids(fs: FilesystemObjectStore, tmp_path: Path) -> None:
    """An upload id that is not one of ours (e.g. a path) touches nothing."""
    victim = tmp_path / "victim.part"
    victim.write_bytes(b"keep")
    fs.abort_multipart_upload("k", "../../../victim")
    assert victim.read_bytes() == b"keep"


def test_prefix_outside_the_bucket_lists_nothing(fs: FilesystemObjectStore) -> None:
    """A traversing prefix lists nothing rather than another directory."""
    fs.put_bytes("k", b"v", content_type="x")
    assert list(fs.list_keys("../")) == []
    assert list(fs.list_keys(".mediakit/")) == []


def test_read_opens_only_the_span(fs: FilesystemObjectStore) -> None:
    """get_range seeks to the span and reads only its bytes, clamped to the end."""
    fs.put_bytes("r", bytes(range(256)), content_type="x")
    assert b"".join(fs.get_range("r", ByteSpan(250, 400), chunk_size=2)) == bytes(range(250, 256))


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.sampled_from("ab./\\\x00~ é"), max_size=12) | st.text(max_size=20))
def test_any_key_maps_inside_the_bucket_or_is_refused(key: str) -> None:
    """For any string, the store either refuses it (ValueError) or maps it to a path strictly
    inside the bucket directory, outside the store's own ``.mediakit`` files."""
    store = FilesystemObjectStore("/srv/objects", "media")
    try:
        path = store._data(key)
    except ValueError:
        return
    resolved = Path(os.path.normpath(path))
    assert store.base in resolved.parents
    assert resolved.relative_to(store.base).parts[0] != ".mediakit"
    assert resolved.relative_to(store.base).as_posix() == key
