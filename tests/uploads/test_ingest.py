"""The upload use case end to end: multipart body -> sniff -> store -> rows -> hand-off,
and, for a fault injected at each step, nothing left behind: no object, no open multipart
upload, no row. Runs against moto's S3 server (real HTTP, real multipart uploads) with
SQLite repositories, and against the in-memory store and repositories."""

from __future__ import annotations

import io
import itertools
import logging
import os
import wave
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs
import pytest
import sqlalchemy as sa

import mediakit.uploads.ingest as ingest_module
from mediakit.clock import ManualClock
from mediakit.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    StorageError,
    UnsupportedMediaType,
    UploadTooLarge,
)
from mediakit.models import Image, MusicSet, Principal, ProcessingStatus
from mediakit.repositories import Repositories
from mediakit.repositories.memory import MemoryRepositories
from mediakit.repositories.sql import SqlRepositories
from mediakit.storage import ObjectInfo, ObjectStore
from mediakit.storage.memory import MemoryObjectStore
from mediakit.storage.s3 import S3ObjectStore
from mediakit.storage.s3_async import AsyncS3ObjectStore
from mediakit.storage.threaded import ThreadedAsyncStore
from mediakit.uploads.ingest import (
    aingest_images,
    aingest_tracks,
    clean_filename,
    ingest_images,
    ingest_tracks,
)
from mediakit.uploads.limits import UploadLimits
from mediakit.uploads.multipart import AsyncMultipartReader, MultipartReader
from tests.conftest import s3_client
from tests.servers import ServerHandle
from tests.uploads._forms import CONTENT_TYPE, Part, achunked, chunked, encode, image_bytes

MiB = 1024 * 1024
PART = 5 * MiB
ADMIN = Principal("admin-1", is_admin=True)
CLOCK = ManualClock(1_750_000_000.0)


def wav_bytes(seconds: float = 0.2) -> bytes:
    """A real (silent) WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return buf.getvalue()


def big_png(size: int) -> bytes:
    """A PNG header followed by padding: sniffs as PNG, big enough for multipart uploads."""
    head = image_bytes("PNG")
    return head + os.urandom(size - len(head))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("moto", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, fresh_bucket_name: str) -> ObjectStore:
    """An empty store: in memory, or a fresh bucket on moto's S3 server (5 MiB parts)."""
    if request.param == "memory":
        return MemoryObjectStore()
    moto: ServerHandle = request.getfixturevalue("moto_server")
    client: Any = s3_client(moto.url)
    client.create_bucket(Bucket=fresh_bucket_name)
    return S3ObjectStore(client=client, bucket=fresh_bucket_name, part_size=PART)


@pytest.fixture
def repos(store: ObjectStore, tmp_path: Any) -> Iterator[Repositories]:
    """Empty repositories with one music set ``set1``: in memory next to the memory store,
    a SQLite file (a real database and transaction) next to moto."""
    if isinstance(store, MemoryObjectStore):
        r: Repositories = MemoryRepositories.create()
    else:
        r = SqlRepositories.from_url(f"sqlite:///{tmp_path}/mk.db")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    r.music_sets.add(MusicSet(id="set1", title="Set", created_at=now, updated_at=now))
    yield r
    close = getattr(r, "close", None)
    if close is not None:
        close()


def assert_nothing_left(store: ObjectStore, repos: Repositories) -> None:
    """No object, no open multipart upload, no row."""
    assert list(store.list_keys("")) == []
    assert store.list_multipart_uploads("") == []
    assert list(repos.images.list(visible_only=False).items) == []
    assert repos.tracks.list_for_set("set1") == []


def reader(
    parts: Sequence[Part], *, limits: UploadLimits | None = None, cut: int | None = None
) -> MultipartReader:
    body = encode(parts)
    if cut is not None:
        body = body[:cut]
    return MultipartReader(
        chunked(body, 64 * 1024), content_type=CONTENT_TYPE, limits=limits or UploadLimits()
    )


# --- faults --------------------------------------------------------------------------------


@attrs.define
class FaultyStore:
    """Delegates to ``inner``; the ``nth`` put_stream fails ``when``:
    ``before`` writing, ``during`` the stream (after ``after_bytes``), or ``after`` it
    was stored (the store kept the object but the caller saw an error)."""

    inner: ObjectStore
    nth: int
    when: str
    after_bytes: int = 6 * MiB
    puts: int = 0

    @property
    def bucket(self) -> str:
        return self.inner.bucket

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        self.puts += 1
        if self.puts != self.nth:
            return self.inner.put_stream(key, chunks, content_type=content_type)
        if self.when == "before":
            raise StorageError("injected: the store refused the upload")
        if self.when == "during":
            return self.inner.put_stream(key, self._cut(chunks), content_type=content_type)
        self.inner.put_stream(key, chunks, content_type=content_type)
        raise StorageError("injected: the connection dropped before the response")

    def _cut(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        sent = 0
        for c in chunks:
            yield c
            sent += len(c)
            if sent >= self.after_bytes:
                raise StorageError("injected: connection reset mid-upload")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LeakyS3Store(S3ObjectStore):
    """An S3 store whose failing put leaves its multipart upload open (as a killed abort would)."""

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        if not key.endswith("original") or getattr(self, "_leaked", False):
            return super().put_stream(key, chunks, content_type=content_type)
        object.__setattr__(self, "_leaked", True)
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * PART
        )
        raise StorageError("injected: failed, and the abort was lost")


@attrs.define
class FailingImages:
    """An image repository whose insert fails like a database going away."""

    inner: Any

    def add_many(self, images: Sequence[Image]) -> None:
        raise sa.exc.OperationalError("INSERT INTO images", {}, Exception("database is locked"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@attrs.define
class FailingTracks:
    """A track repository whose insert finds the set deleted meanwhile."""

    inner: Any

    def add_many(self, tracks: Sequence[Any]) -> list[Any]:
        raise NotFound("There is no music set 'set1'.")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


FIVE = [("files", f"img{i}.png", image_bytes("PNG", (8 + i, 8))) for i in range(5)]


# --- happy paths ------------------------------------------------------------------------


def test_images_are_stored_under_id_keys_with_sniffed_types_and_pending_rows(
    store: ObjectStore, repos: Repositories
) -> None:
    jpeg = image_bytes("JPEG")
    big = big_png(PART + 123)
    created: list[list[str]] = []
    images = ingest_images(
        reader(
            [
                ("title", None, b"ignored"),
                ("files", "../../etc/passwd.jpg", jpeg),
                ("files", "big.gif", big),
            ]
        ),
        store=store,
        repos=repos,
        principal=ADMIN,
        clock=CLOCK,
        on_created=created.append,
    )
    assert [i.filename for i in images] == ["passwd.jpg", "big.gif"]
    assert [i.content_type for i in images] == ["image/jpeg", "image/png"]  # the bytes decide
    assert [i.size for i in images] == [len(jpeg), len(big)]
    assert all(i.status is ProcessingStatus.PENDING and i.owner_id == "admin-1" for i in images)
    assert all(i.original_key == f"images/{i.id}/original" for i in images)
    assert images[0].created_at == CLOCK.now()
    assert created == [[i.id for i in images]]
    assert sorted(store.list_keys("")) == sorted(i.original_key for i in images)
    assert b"".join(store.get_range(images[1].original_key)) == big
    assert store.head(images[1].original_key).content_type == "image/png"
    assert [repos.images.get(i.id) for i in images] == images
    assert store.list_multipart_uploads("") == []


def test_tracks_are_appended_to_their_set(store: ObjectStore, repos: Repositories) -> None:
    wav = wav_bytes()
    tracks = ingest_tracks(
        "set1",
        reader([("files", "01 Intro.wav", wav), ("files", "02.wav", wav)]),
        store=store,
        repos=repos,
        principal=ADMIN,
        clock=CLOCK,
    )
    assert [t.position for t in tracks] == sorted(t.position for t in tracks)
    assert [t.title for t in tracks] == ["01 Intro", "02"]
    assert {t.content_type for t in tracks} == {"audio/wav"}
    assert all(t.original_key == f"music/set1/{t.id}/original" for t in tracks)
    assert repos.tracks.list_for_set("set1") == tracks


def test_on_created_failure_keeps_the_committed_upload(caplog: pytest.LogCaptureFixture) -> None:
    store, repos = MemoryObjectStore(), MemoryRepositories.create()

    def broken(ids: list[str]) -> None:
        raise RuntimeError("queue down")

    with caplog.at_level(logging.ERROR):
        images = ingest_images(
            reader(FIVE[:1]), store=store, repos=repos, principal=ADMIN, on_created=broken
        )
    assert repos.images.get(images[0].id) == images[0]
    assert "could not be queued" in caplog.text


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("photo.jpg", "photo.jpg"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("../../x\x00\x1f\u202e.png", "x.png"),
        ("  .hidden. ", "hidden"),
        ("", "upload"),
        ("a" * 300 + ".jpeg", "a" * 250 + ".jpeg"),
        ("Cafe\u0301.png", "Caf\u00e9.png"),
    ],
)
def test_file_names_are_cleaned_metadata(name: str, clean: str) -> None:
    assert clean_filename(name) == clean


# --- refusals and faults: nothing left --------------------------------------------------


def test_refused_file_in_a_batch_rejects_the_whole_batch(
    store: ObjectStore, repos: Repositories
) -> None:
    parts = [
        *FIVE[:3],
        ("files", "evil.jpg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        FIVE[4],
    ]
    with pytest.raises(UnsupportedMediaType, match=r"'evil\.jpg' is image/svg\+xml"):
        ingest_images(reader(parts), store=store, repos=repos, principal=ADMIN)
    assert_nothing_left(store, repos)


def test_cap_crossed_in_file_3_of_5_leaves_nothing(store: ObjectStore, repos: Repositories) -> None:
    parts: list[Part] = [*FIVE[:2], ("files", "huge.png", big_png(PART + MiB)), *FIVE[3:]]
    with pytest.raises(UploadTooLarge, match=r"'huge\.png'"):
        ingest_images(
            reader(parts, limits=UploadLimits(max_file_size=PART + 1)),
            store=store,
            repos=repos,
            principal=ADMIN,
        )
    assert_nothing_left(store, repos)


def test_too_many_files_leaves_nothing(store: ObjectStore, repos: Repositories) -> None:
    with pytest.raises(BadRequest, match="Too many files"):
        ingest_images(
            reader(FIVE, limits=UploadLimits(max_files_per_request=4)),
            store=store,
            repos=repos,
            principal=ADMIN,
        )
    assert_nothing_left(store, repos)


@pytest.mark.parametrize("cut_at", ["file1", "file3-multipart"])
def test_client_body_cut_mid_file_leaves_nothing(
    store: ObjectStore, repos: Repositories, cut_at: str
) -> None:
    parts: list[Part] = [FIVE[0], FIVE[1], ("files", "big.png", big_png(3 * PART)), FIVE[3]]
    body = encode(parts)
    cut = 300 if cut_at == "file1" else body.index(b'filename="big.png"') + 2 * PART
    with pytest.raises(BadRequest, match="ended before"):
        ingest_images(reader(parts, cut=cut), store=store, repos=repos, principal=ADMIN)
    assert_nothing_left(store, repos)


@pytest.mark.parametrize("when", ["before", "during", "after"])
@pytest.mark.parametrize("nth", [1, 3])
def test_store_failing_on_the_nth_object_leaves_nothing(
    store: ObjectStore, repos: Repositories, when: str, nth: int
) -> None:
    parts: list[Part] = [*FIVE[:2], ("files", "big.png", big_png(2 * PART)), *FIVE[3:]]
    if nth == 1:
        parts = [parts[2], *parts[:2], *parts[3:]]
    faulty = FaultyStore(store, nth=nth, when=when)
    with pytest.raises(StorageError, match="injected"):
        ingest_images(reader(parts), store=faulty, repos=repos, principal=ADMIN)  # type: ignore[arg-type]
    assert faulty.puts == nth
    assert_nothing_left(store, repos)


def test_database_failure_after_the_upload_removes_the_objects(
    store: ObjectStore, repos: Repositories
) -> None:
    broken = Repositories(
        images=FailingImages(repos.images), music_sets=repos.music_sets, tracks=repos.tracks
    )  # type: ignore[arg-type]
    parts: list[Part] = [*FIVE[:2], ("files", "big.png", big_png(PART + 1))]
    with pytest.raises(sa.exc.OperationalError):
        ingest_images(reader(parts), store=store, repos=broken, principal=ADMIN)
    assert_nothing_left(store, repos)


def test_set_deleted_during_a_track_upload_removes_the_objects(
    store: ObjectStore, repos: Repositories
) -> None:
    broken = Repositories(
        images=repos.images, music_sets=repos.music_sets, tracks=FailingTracks(repos.tracks)
    )  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        ingest_tracks(
            "set1",
            reader([("files", "a.wav", wav_bytes())]),
            store=store,
            repos=broken,
            principal=ADMIN,
        )
    assert_nothing_left(store, repos)


@pytest.mark.s3
def test_multipart_upload_left_open_by_a_failed_put_is_aborted(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    client: Any = s3_client(moto_server.url)
    client.create_bucket(Bucket=fresh_bucket_name)
    store = LeakyS3Store(client=client, bucket=fresh_bucket_name, part_size=PART)
    repos = MemoryRepositories.create()
    repos.music_sets.add(
        MusicSet(id="set1", title="S", created_at=CLOCK.now(), updated_at=CLOCK.now())
    )
    # someone else's upload in flight under the same prefix must survive
    other = client.create_multipart_upload(
        Bucket=fresh_bucket_name, Key="images/someoneelse/original"
    )
    with pytest.raises(StorageError, match="abort was lost"):
        ingest_images(reader(FIVE[:2]), store=store, repos=repos, principal=ADMIN)
    assert [u.upload_id for u in store.list_multipart_uploads("")] == [other["UploadId"]]
    assert list(store.list_keys("")) == []
    client.abort_multipart_upload(
        Bucket=fresh_bucket_name, Key="images/someoneelse/original", UploadId=other["UploadId"]
    )


def test_missing_set_is_refused_before_the_body_is_read(
    store: ObjectStore, repos: Repositories
) -> None:
    def body() -> Iterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    form = MultipartReader(body(), content_type=CONTENT_TYPE, limits=UploadLimits())
    with pytest.raises(NotFound, match="nope"):
        ingest_tracks("nope", form, store=store, repos=repos, principal=ADMIN)


def test_only_admins_may_upload() -> None:
    with pytest.raises(Forbidden):
        ingest_images(
            reader(FIVE[:1]),
            store=MemoryObjectStore(),
            repos=MemoryRepositories.create(),
            principal=Principal("u"),
        )


def test_empty_upload_and_wrong_field_are_bad_requests(
    store: ObjectStore, repos: Repositories
) -> None:
    with pytest.raises(BadRequest, match="no files"):
        ingest_images(reader([("title", None, b"x")]), store=store, repos=repos, principal=ADMIN)
    with pytest.raises(BadRequest, match="field 'file'"):
        ingest_images(
            reader([FIVE[0], ("file", "b.png", FIVE[1][2])]),
            store=store,
            repos=repos,
            principal=ADMIN,
        )
    assert_nothing_left(store, repos)


def test_audio_endpoint_refuses_images(store: ObjectStore, repos: Repositories) -> None:
    with pytest.raises(UnsupportedMediaType, match="image/png"):
        ingest_tracks(
            "set1",
            reader([("files", "a.wav", wav_bytes()), ("files", "x.mp3", FIVE[0][2])]),
            store=store,
            repos=repos,
            principal=ADMIN,
        )
    assert_nothing_left(store, repos)


# --- async twins ----------------------------------------------------------------------------


@pytest.fixture
def async_store(
    request: pytest.FixtureRequest, store: ObjectStore, moto_server_if_s3: Any
) -> Callable[[], Any]:
    """An async store over the same bucket: aioboto3 for moto, the thread bridge for memory."""
    if isinstance(store, S3ObjectStore):
        from tests.storage.conftest import s3_settings

        settings = s3_settings(moto_server_if_s3.url, store.bucket)
        return lambda: AsyncS3ObjectStore.from_settings(settings)
    return lambda: ThreadedAsyncStore(store)


@pytest.fixture
def moto_server_if_s3(request: pytest.FixtureRequest, store: ObjectStore) -> Any:
    return request.getfixturevalue("moto_server") if isinstance(store, S3ObjectStore) else None


def areader(
    parts: Sequence[Part], *, limits: UploadLimits | None = None, cut: int | None = None
) -> AsyncMultipartReader:
    body = encode(parts)
    if cut is not None:
        body = body[:cut]
    return AsyncMultipartReader(
        achunked(body, 64 * 1024), content_type=CONTENT_TYPE, limits=limits or UploadLimits()
    )


def test_async_ingest_stores_images_and_tracks(
    store: ObjectStore, repos: Repositories, async_store: Callable[[], Any]
) -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        astore = async_store()
        try:
            images = await aingest_images(
                areader([FIVE[0], ("files", "big.png", big_png(PART + 7))]),
                store=astore,
                repos=repos,
                principal=ADMIN,
                clock=CLOCK,
            )
            tracks = await aingest_tracks(
                "set1",
                areader([("files", "t.wav", wav_bytes())]),
                store=astore,
                repos=repos,
                principal=ADMIN,
                clock=CLOCK,
            )
        finally:
            await astore.aclose()
        return images, tracks

    images, tracks = anyio.run(main)
    assert [i.content_type for i in images] == ["image/png", "image/png"]
    assert images[1].size == PART + 7
    assert repos.tracks.list_for_set("set1") == tracks
    assert len(list(store.list_keys(""))) == 3


@pytest.mark.parametrize("fault", ["cap", "cut", "sniff", "db"])
def test_async_ingest_failures_leave_nothing(
    store: ObjectStore, repos: Repositories, async_store: Callable[[], Any], fault: str
) -> None:
    parts: list[Part] = [*FIVE[:2], ("files", "big.png", big_png(PART + MiB)), *FIVE[3:]]
    use_repos = repos
    limits = UploadLimits()
    cut = None
    expected: type[Exception] = BadRequest
    if fault == "cap":
        limits, expected = UploadLimits(max_file_size=PART + 10), UploadTooLarge
    elif fault == "cut":
        cut = encode(parts).index(b'filename="big.png"') + PART + 100
    elif fault == "sniff":
        parts[4] = ("files", "x.png", b"<html><script></script></html>")
        expected = UnsupportedMediaType
    else:
        use_repos = Repositories(
            images=FailingImages(repos.images), music_sets=repos.music_sets, tracks=repos.tracks
        )  # type: ignore[arg-type]
        expected = sa.exc.OperationalError

    async def main() -> None:
        astore = async_store()
        try:
            await aingest_images(
                areader(parts, limits=limits, cut=cut),
                store=astore,
                repos=use_repos,
                principal=ADMIN,
            )
        finally:
            await astore.aclose()

    with pytest.raises(expected):
        anyio.run(main)
    assert_nothing_left(store, repos)


def test_async_ingest_cancelled_mid_file_leaves_nothing(
    store: ObjectStore, repos: Repositories, async_store: Callable[[], Any]
) -> None:
    """A client that stops sending and is cut off (a cancellation) is cleaned up too."""
    body = encode([FIVE[0], ("files", "big.png", big_png(3 * PART))])
    stall_at = body.index(b'filename="big.png"') + PART + MiB

    async def stalling() -> AsyncIterator[bytes]:
        for i in itertools.count(0, 64 * 1024):
            if i >= stall_at:
                await anyio.sleep(3600)
            yield body[i : i + 64 * 1024]

    async def main() -> None:
        astore = async_store()
        try:
            with anyio.move_on_after(0.8) as scope:
                form = AsyncMultipartReader(
                    stalling(), content_type=CONTENT_TYPE, limits=UploadLimits()
                )
                await aingest_images(form, store=astore, repos=repos, principal=ADMIN)
            assert scope.cancelled_caught
        finally:
            await astore.aclose()

    anyio.run(main)
    assert_nothing_left(store, repos)


@pytest.mark.s3
@pytest.mark.slow
def test_a_large_file_streams_through_in_bounded_memory(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """64 MiB go from the request body to S3 while Python holds only the store's parts in
    flight and the one filling."""
    import tracemalloc

    client: Any = s3_client(moto_server.url)
    client.create_bucket(Bucket=fresh_bucket_name)
    store = S3ObjectStore(client=client, bucket=fresh_bucket_name, part_size=PART)
    size = 64 * MiB
    head = encode([("files", "big.jpg", b"")])
    head, tail = head[: head.index(b"\r\n--", 10)], head[head.index(b"\r\n--", 10) :]
    jpeg = image_bytes("JPEG")
    block = b"\x5a" * (64 * 1024)

    def body() -> Iterator[bytes]:
        yield head + jpeg
        for _ in range((size - len(jpeg)) // len(block)):
            yield block
        yield block[: (size - len(jpeg)) % len(block)]
        yield tail

    tracemalloc.start()
    try:
        images = ingest_images(
            MultipartReader(body(), content_type=CONTENT_TYPE, limits=UploadLimits()),
            store=store,
            repos=MemoryRepositories.create(),
            principal=ADMIN,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert images[0].size == size
    assert store.head(images[0].original_key).size == size
    # at most parts_in_flight + 1 parts per upload (one filling) and the image's check copy
    # held in memory up to its spill size (35 MiB); a 64 MiB file buffered whole would fail this
    assert store.parts_in_flight == 4  # the default
    bound = (store.parts_in_flight + 1) * PART + ingest_module._SPOOL_IN_MEMORY + 2 * MiB
    assert peak < bound, f"peak Python allocations {peak / MiB:.1f} MiB"


@attrs.define
class UndeletableStore:
    """A memory store whose deletes fail (the store went down right after the error)."""

    inner: MemoryObjectStore

    def delete_many(self, keys: Sequence[str]) -> None:
        raise StorageError("injected: delete failed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_failed_cleanup_keeps_the_original_error_and_gc_finds_the_leftovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from datetime import timedelta

    from mediakit.uploads.gc import collect, find_orphans

    inner, repos = MemoryObjectStore(), MemoryRepositories.create()
    parts: list[Part] = [*FIVE[:2], ("files", "evil.png", b"<html></html>")]
    with caplog.at_level(logging.ERROR), pytest.raises(UnsupportedMediaType):
        ingest_images(reader(parts), store=UndeletableStore(inner), repos=repos, principal=ADMIN)  # type: ignore[arg-type]
    assert "could not delete the objects of a failed upload" in caplog.text
    assert len(list(inner.list_keys(""))) == 2

    later = ManualClock(datetime.now(UTC).timestamp() + 7200)
    report = find_orphans(inner, repos, min_age=timedelta(hours=1), clock=later)
    assert len(report.objects) == 2
    collect(inner, report)
    assert list(inner.list_keys("")) == []
