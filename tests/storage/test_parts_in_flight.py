"""Several parts in flight per upload (``MEDIA_UPLOAD_PARTS_IN_FLIGHT``), on real S3 servers.

What the window adds to ``test_upload_parts.py``: the parts really are sent at once (a part
is held back until the next one has started, which only a concurrent send lets happen),
never more than the window, numbered in stream order whatever order they finish in, with
memory bounded by the window; and a failure or a cancellation with several parts in flight
cancels or waits for every one of them and aborts the upload, leaving nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import hashlib
import os
import threading
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mediakit.errors import ConfigurationError, StorageError
from mediakit.settings import Settings
from mediakit.storage import AsyncS3ObjectStore, S3ObjectStore
from mediakit.storage._part_http import _PartBody, _PrehashedS3SigV4Auth
from tests.conftest import s3_client
from tests.servers import ServerHandle
from tests.storage.conftest import s3_settings

MiB = 1024 * 1024
PART = 5 * MiB
SERVERS = ["moto_server", "nanio_server", pytest.param("ceph_rgw_server", marks=pytest.mark.ceph)]
WAIT = 30.0  # seconds a held part waits for the next one to start (never reached when concurrent)


def _chunks(data: bytes, size: int = MiB) -> Iterator[bytes]:
    for pos in range(0, len(data), size):
        yield data[pos : pos + size]


async def _achunks(data: bytes, size: int = MiB) -> AsyncIterator[bytes]:
    for chunk in _chunks(data, size):
        await asyncio.sleep(0)
        yield chunk


class _Tracker:
    """Counts the ``UploadPart`` calls under way (botocore's before-call and after-call
    events) and remembers the most at once and the order they started in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.started: list[int] = []

    def begin(self, number: int) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.started.append(number)

    def end(self) -> None:
        with self.lock:
            self.now -= 1


def _track_sync(store: S3ObjectStore, tracker: _Tracker, hold_until_next: bool) -> None:
    """Register handlers on the store's client: each part counted; with
    ``hold_until_next``, part 1 waits until part 2 has started (a concurrent send)."""
    second = threading.Event()

    def before(params: dict[str, Any], **kwargs: Any) -> None:
        number = int(params["query_string"]["partNumber"])
        tracker.begin(number)
        if number == 2:
            second.set()
        if hold_until_next and number == 1:
            assert second.wait(WAIT), "part 2 did not start while part 1 was in flight"

    def after(**kwargs: Any) -> None:
        tracker.end()

    events = store.client.meta.events
    events.register("before-call.s3.UploadPart", before)
    events.register("after-call.s3.UploadPart", after)
    events.register("after-call-error.s3.UploadPart", after)


def _track_async(client: Any, tracker: _Tracker, hold_until_next: bool) -> None:
    """The async twin of :func:`_track_sync` (aiobotocore awaits async handlers)."""
    second = asyncio.Event()

    async def before(params: dict[str, Any], **kwargs: Any) -> None:
        number = int(params["query_string"]["partNumber"])
        tracker.begin(number)
        if number == 2:
            second.set()
        if hold_until_next and number == 1:
            await asyncio.wait_for(second.wait(), WAIT)

    async def after(**kwargs: Any) -> None:
        tracker.end()

    events = client.meta.events
    events.register("before-call.s3.UploadPart", before)
    events.register("after-call.s3.UploadPart", after)
    events.register("after-call-error.s3.UploadPart", after)


def _parts_running() -> list[asyncio.Task[Any]]:
    """The part-sending tasks of the async store not finished yet."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and getattr(t.get_coro(), "__qualname__", "").endswith("._part")
    ]


def _fail_part(number: int) -> Any:
    def handler(params: dict[str, Any], **kwargs: Any) -> None:
        if params.get("PartNumber") == number:
            raise StorageError(f"part {number} refused (test)")

    return handler


def test_the_setting_is_validated_and_reaches_both_stores() -> None:
    """``MEDIA_UPLOAD_PARTS_IN_FLIGHT``: 4 by default (the stores' own default too), 1 to
    16, named in the error."""
    assert Settings().upload_parts_in_flight == 4
    for store in (S3ObjectStore, AsyncS3ObjectStore):
        assert attrs.fields_dict(store)["parts_in_flight"].default == 4
    env = {"MEDIA_UPLOAD_PARTS_IN_FLIGHT": "4", "MEDIA_S3_ENDPOINT": "http://127.0.0.1:1"}
    settings = Settings.from_env(env)
    assert settings.upload_parts_in_flight == 4
    assert S3ObjectStore.from_settings(settings).parts_in_flight == 4
    assert AsyncS3ObjectStore.from_settings(settings).parts_in_flight == 4
    for bad in ("0", "17"):
        with pytest.raises(ConfigurationError, match="MEDIA_UPLOAD_PARTS_IN_FLIGHT"):
            Settings.from_env({"MEDIA_UPLOAD_PARTS_IN_FLIGHT": bad})


@pytest.mark.s3
@pytest.mark.parametrize("server_name", SERVERS)
@pytest.mark.parametrize("window", [2, 3])
def test_sync_parts_are_sent_at_once_within_the_window(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, window: int
) -> None:
    """Part 1 is held until part 2 starts: only a concurrent send completes this upload.
    Never more than ``window`` parts at once; the object is the stream, byte for byte."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(server.url, fresh_bucket_name, upload_parts_in_flight=window)
    store = S3ObjectStore.from_settings(settings)
    tracker = _Tracker()
    _track_sync(store, tracker, hold_until_next=True)
    data = os.urandom(6 * PART + 123)
    info = store.put_stream("k", _chunks(data), content_type="audio/wav")
    assert info.size == len(data)
    assert 2 <= tracker.most <= window
    assert sorted(tracker.started) == list(range(1, 8))
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data
    assert store.list_multipart_uploads() == []
    assert [store._overlap.take() for _ in range(2 * window)] == [True] * (2 * window)


@pytest.mark.s3
@pytest.mark.anyio
@pytest.mark.parametrize("server_name", SERVERS)
@pytest.mark.parametrize("window", [2, 3])
async def test_async_parts_are_sent_at_once_within_the_window(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, window: int
) -> None:
    """The async twin of the test above (the parts in flight are tasks)."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(server.url, fresh_bucket_name, upload_parts_in_flight=window)
    data = os.urandom(6 * PART + 123)
    tracker = _Tracker()
    async with AsyncS3ObjectStore.from_settings(settings) as st_:
        _track_async(await st_.client(), tracker, hold_until_next=True)
        info = await st_.put_stream("k", _achunks(data), content_type="audio/wav")
        assert await st_.list_multipart_uploads() == []
        assert [st_._overlap.take() for _ in range(2 * window)] == [True] * (2 * window)
    assert info.size == len(data)
    assert 2 <= tracker.most <= window
    assert sorted(tracker.started) == list(range(1, 8))
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data


@pytest.mark.s3
@pytest.mark.parametrize("server_name", ["moto_server", "nanio_server"])
@pytest.mark.parametrize("failing_part", [1, 3, 7])
def test_sync_failure_with_several_parts_in_flight_leaves_nothing(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, failing_part: int
) -> None:
    """A part failing while others are in flight (the first, a middle one, the short
    last one) stops the upload with its error once every part has ended; no upload,
    no object is left and every overlap slot is back."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(server.url, fresh_bucket_name, upload_parts_in_flight=4)
    store = S3ObjectStore.from_settings(settings)
    tracker = _Tracker()
    _track_sync(store, tracker, hold_until_next=False)
    store.client.meta.events.register(
        "before-parameter-build.s3.UploadPart", _fail_part(failing_part)
    )
    with pytest.raises(StorageError, match=f"part {failing_part} refused"):
        store.put_stream("k", _chunks(os.urandom(6 * PART + 9)), content_type="audio/wav")
    assert tracker.now == 0  # nothing still sending once put_stream has raised
    assert store.list_multipart_uploads() == []
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)
    assert [store._overlap.take() for _ in range(8)] == [True] * 8


@pytest.mark.s3
@pytest.mark.anyio
@pytest.mark.parametrize("server_name", ["moto_server", "nanio_server"])
@pytest.mark.parametrize("failing_part", [1, 3, 7])
async def test_async_failure_with_several_parts_in_flight_leaves_nothing(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, failing_part: int
) -> None:
    """The async twin of the test above."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(server.url, fresh_bucket_name, upload_parts_in_flight=4)
    tracker = _Tracker()
    async with AsyncS3ObjectStore.from_settings(settings) as st_:
        client = await st_.client()
        _track_async(client, tracker, hold_until_next=False)
        client.meta.events.register(
            "before-parameter-build.s3.UploadPart", _fail_part(failing_part)
        )
        data = os.urandom(6 * PART + 9)
        with pytest.raises(StorageError, match=f"part {failing_part} refused"):
            await st_.put_stream("k", _achunks(data), content_type="audio/wav")
        assert _parts_running() == []  # every part's task ended before put_stream raised
        assert await st_.list_multipart_uploads() == []
        assert [st_._overlap.take() for _ in range(8)] == [True] * 8
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)


@pytest.mark.s3
@pytest.mark.anyio
async def test_async_cancellation_with_several_parts_in_flight_aborts_the_upload(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """The client goes away while three parts are in flight (each held in its send):
    every task is cancelled and waited for before the abort, so nothing is left."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(nanio_server.url, fresh_bucket_name, upload_parts_in_flight=3)
    three = asyncio.Event()
    tracker = _Tracker()

    async def before(params: dict[str, Any], **kwargs: Any) -> None:
        tracker.begin(int(params["query_string"]["partNumber"]))
        if tracker.now == 3:
            three.set()
        try:
            await asyncio.sleep(60)  # a stuck send: only cancellation ends it
        finally:
            tracker.end()

    async def chunks() -> AsyncIterator[bytes]:
        block = os.urandom(MiB)
        for _ in range(3 * 5 + 2):
            yield block
        await asyncio.sleep(60)  # the client stalls: the caller cancels

    async with AsyncS3ObjectStore.from_settings(settings) as st_:
        (await st_.client()).meta.events.register("before-call.s3.UploadPart", before)
        task = asyncio.ensure_future(st_.put_stream("k", chunks(), content_type="audio/wav"))
        await asyncio.wait_for(three.wait(), WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert tracker.now == 0  # every part's send ended before put_stream did
        assert _parts_running() == []
        assert await st_.list_multipart_uploads() == []
        assert [st_._overlap.take() for _ in range(6)] == [True] * 6
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)


@pytest.mark.s3
@pytest.mark.parametrize(
    ("window", "slots_free", "bound"), [(1, True, 3), (4, True, 6), (4, False, 3)]
)
def test_memory_stays_within_the_window(
    nanio_server: ServerHandle, fresh_bucket_name: str, window: int, slots_free: bool, bound: int
) -> None:
    """A 64 MiB stream with ``window`` parts in flight: the Python heap peaks under
    ``window + 2`` parts (the documented ``window + 1`` plus slack), whatever the size;
    an upload finding every slot taken (by other uploads) holds one part, whatever the
    window."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(nanio_server.url, fresh_bucket_name, upload_parts_in_flight=window)
    store = S3ObjectStore.from_settings(settings)
    if not slots_free:
        while store._overlap.take():
            pass
    block = os.urandom(MiB)

    def chunks() -> Iterator[bytes]:
        for _ in range(64 * 4):
            yield block[: MiB // 4]

    gc.collect()
    tracemalloc.start()
    try:
        info = store.put_stream("big", chunks(), content_type="audio/wav")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == 64 * MiB
    assert peak < bound * PART, f"peak {peak / MiB:.1f} MiB"


# --- each part hashed off the event loop (async store) ---------------------------------


def _signed(auth: S3SigV4Auth, body: _PartBody, url: str) -> AWSRequest:
    request = AWSRequest(method="PUT", url=url, data=body)
    auth.add_auth(request)
    return request


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/b/k", "https://127.0.0.1:9/b/k"])
def test_a_prehashed_part_is_signed_exactly_as_botocore_signs_it(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same headers and signature as botocore's S3 SigV4 (over HTTP and, without a
    checksum header, HTTPS), with or without the digest computed beforehand; a body
    without one is hashed as botocore does."""
    # botocore stamps each request with the current second (add_auth overwrites any
    # timestamp already in the context), so the three signings would differ whenever
    # the clock ticks between them: pin the clock they read.
    moment = datetime.datetime(2026, 12, 6, 3, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: moment)
    data = bytearray(os.urandom(3 * MiB + 7))
    creds = Credentials("a", "b")
    reference = _signed(S3SigV4Auth(creds, "s3", "us-east-1"), _PartBody(data), url)
    ours = _PartBody(data)
    ours.sha256_hex = ours.sha256_of_part()
    prehashed = _signed(_PrehashedS3SigV4Auth(creds, "s3", "us-east-1"), ours, url)
    unhashed = _signed(_PrehashedS3SigV4Auth(creds, "s3", "us-east-1"), _PartBody(data), url)
    digest = hashlib.sha256(data).hexdigest()
    for request in (reference, prehashed, unhashed):
        assert request.headers["X-Amz-Date"] == "20261206T030000Z"
        assert request.headers["X-Amz-Content-SHA256"] == digest
        assert request.headers["Authorization"] == reference.headers["Authorization"]


@pytest.mark.s3
@pytest.mark.anyio
async def test_async_parts_are_hashed_off_the_event_loop(
    nanio_server: ServerHandle, fresh_bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every part's SHA-256 is computed in a worker thread, not the event loop's, and
    the upload goes through a server that checks every signature."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(nanio_server.url, fresh_bucket_name, upload_parts_in_flight=2)
    threads: list[int] = []
    real = _PartBody.sha256_of_part

    def recorded(self: _PartBody) -> str:
        threads.append(threading.get_ident())
        return real(self)

    monkeypatch.setattr(_PartBody, "sha256_of_part", recorded)
    data = os.urandom(3 * PART + 11)
    async with AsyncS3ObjectStore.from_settings(settings) as st_:
        await st_.put_stream("k", _achunks(data), content_type="audio/wav")
        assert len(threads) == 4
        assert threading.get_ident() not in threads
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data


@pytest.mark.s3
@pytest.mark.ceph
@pytest.mark.anyio
async def test_a_wrong_part_digest_is_refused_and_the_upload_aborted(
    ceph_rgw_server: ServerHandle, fresh_bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The precomputed digest is what is signed and what the server checks the body
    against (Ceph RGW compares them; nanio checks only the signature): a digest that is
    not the part's is refused, and the upload is aborted, nothing stored."""
    raw: Any = s3_client(ceph_rgw_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(ceph_rgw_server.url, fresh_bucket_name)

    def wrong(self: _PartBody) -> str:
        return hashlib.sha256(b"not the part").hexdigest()

    monkeypatch.setattr(_PartBody, "sha256_of_part", wrong)
    data = os.urandom(2 * PART + 11)
    async with AsyncS3ObjectStore.from_settings(settings) as st_:
        with pytest.raises(StorageError):
            await st_.put_stream("bad", _achunks(data), content_type="audio/wav")
        assert await st_.list_multipart_uploads() == []
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)
