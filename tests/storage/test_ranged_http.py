"""The S3 stores' ranged reads over plain HTTP (``mediakit.storage._ranged_http``), against
real S3 servers: nanio (checks SigV4 signatures), moto in server mode and Ceph RGW
(``-m ceph``, in the full run), plus a fault-injecting relay for a hung or refusing
endpoint.

These are the Range proxy's reads (``MEDIA_S3_FAST_READS``, on by default): the bytes and
the object's info must be what botocore's ``GetObject`` gives, errors must map the same
way, every wait must stay bounded, and no connection may be left open.
"""

from __future__ import annotations

import asyncio
import gc
import os
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import (
    ObjectNotFound,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
)
from mediakit.proxy import body_in_full, open_async, open_sync
from mediakit.settings import Settings
from mediakit.storage import build_async_object_store, build_object_store
from mediakit.storage._ranged_http import (
    MAX_BACKOFF,
    AsyncRangedReader,
    RangedReader,
    error_of,
    retry_delay,
)
from mediakit.storage.s3 import S3ObjectStore
from mediakit.storage.s3_async import AsyncS3ObjectStore
from mediakit.values import ByteSpan
from tests.conftest import s3_client
from tests.faultproxy import FaultProxy
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

pytestmark = pytest.mark.s3

KEY = "media/ünï cöde/a+b=c&d.bin"  # quoted in the path; signed as sent
DATA = os.urandom(700_000)
BIG = 32 * 1024 * 1024
"""More than the socket buffers between moto, the relay and the store hold."""


def _settings(url: str, bucket: str, **kw: Any) -> Settings:
    return Settings(
        storage_backend="s3",
        s3_endpoint=url,
        assets_bucket=bucket,
        s3_access_key_id=kw.pop("access", ACCESS_KEY),
        s3_secret_access_key=kw.pop("secret", SECRET_KEY),
        **kw,
    )


@pytest.fixture(params=["nanio", "moto", pytest.param("ceph_rgw", marks=pytest.mark.ceph)])
def s3(request: pytest.FixtureRequest) -> Iterator[tuple[ServerHandle, str]]:
    """A server with a fresh bucket holding ``KEY`` (``DATA``)."""
    server: ServerHandle = request.getfixturevalue(f"{request.param}_server")
    bucket = f"mk-ranged-{uuid.uuid4().hex[:10]}"
    client: Any = s3_client(server.url)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=KEY, Body=DATA, ContentType="audio/mpeg")
    return server, bucket


def _no_resource_warnings(caught: list[warnings.WarningMessage]) -> None:
    gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


# --- the sync store (urllib3) ------------------------------------------------------------


def test_sync_reads_match_botocore_and_close_cleanly(s3: tuple[ServerHandle, str]) -> None:
    """Seeks, open ranges and streamed spans carry the stored bytes and the info a HEAD
    gives; close() leaves no socket behind."""
    server, bucket = s3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        store = build_object_store(_settings(server.url, bucket))
        assert isinstance(store, S3ObjectStore)
        assert store.reader is not None
        head = store.head(KEY)
        seek = store.open_range(KEY, 300_000, 300_000 + 65_535, chunk_size=65_536)
        assert (seek.info, seek.span) == (head, ByteSpan(300_000, 365_535))
        assert list(seek.chunks) == [DATA[300_000:365_536]]  # one chunk: read whole
        rest = store.open_range(KEY, 1000, None, chunk_size=100_000)
        chunks = list(rest.chunks)
        assert b"".join(chunks) == DATA[1000:]
        assert max(map(len, chunks)) <= 100_000
        assert (
            b"".join(store.get_range(KEY, ByteSpan(5, 399_999), chunk_size=50_000))
            == (DATA[5:400_000])
        )
        early = store.open_range(KEY, 0, None, chunk_size=10_000)
        assert next(early.chunks) == DATA[:10_000]
        early.chunks.close()  # not read to the end: the connection is dropped
        store.close()
        del store, seek, rest, early
        _no_resource_warnings(caught)


def test_sync_errors_map_like_botocore(s3: tuple[ServerHandle, str]) -> None:
    """Missing key 404, missing bucket, refused credentials, a range past the end."""
    server, bucket = s3
    store = S3ObjectStore.from_settings(_settings(server.url, bucket))
    try:
        with pytest.raises(ObjectNotFound, match="No object 'nope'"):
            store.open_range("nope")
        with pytest.raises(ObjectNotFound):
            list(store.get_range("nope", ByteSpan(0, 9)))
        with pytest.raises((RangeNotSatisfiable, StorageError)):
            store.open_range(KEY, len(DATA) + 10)
    finally:
        store.close()
    gone = S3ObjectStore.from_settings(_settings(server.url, "mk-no-such-bucket-x"))
    try:
        with pytest.raises(StorageError, match=r"does not exist|no-such-bucket"):
            gone.open_range(KEY)
    finally:
        gone.close()


def test_sync_refused_signature_is_a_storage_error(nanio_server: ServerHandle) -> None:
    """nanio checks signatures: a wrong secret is refused (403), not retried, and the
    error names the credential settings."""
    bucket = f"mk-ranged-{uuid.uuid4().hex[:10]}"
    client: Any = s3_client(nanio_server.url)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=b"x" * 100)
    settings = _settings(nanio_server.url, bucket, secret="wrong-secret-0123456789")
    store = S3ObjectStore.from_settings(settings)
    try:
        with pytest.raises(StorageError, match="MEDIA_S3_SECRET_ACCESS_KEY") as info:
            store.open_range("k")
        assert not isinstance(info.value, StorageUnavailable)
    finally:
        store.close()


def test_fast_reads_switch_off_uses_botocore(s3: tuple[ServerHandle, str]) -> None:
    """MEDIA_S3_FAST_READS=false: no reader, botocore's GetObject, the same bytes."""
    server, bucket = s3
    settings = _settings(server.url, bucket, s3_fast_reads=False)
    store = build_object_store(settings)
    assert isinstance(store, S3ObjectStore)
    assert store.reader is None
    assert b"".join(store.open_range(KEY, 10, 20).chunks) == DATA[10:21]
    astore = build_async_object_store(settings)
    assert isinstance(astore, AsyncS3ObjectStore)
    assert astore.reader is None
    assert Settings.from_env({"MEDIA_S3_FAST_READS": "false"}).s3_fast_reads is False


# --- the async store (mediakit.storage._http1) -----------------------------------------------------------


def test_async_reads_match_and_close_cleanly(s3: tuple[ServerHandle, str]) -> None:
    """The async twin: same bytes and info; aclose() closes the session and its pool."""
    server, bucket = s3

    async def main() -> None:
        store = build_async_object_store(_settings(server.url, bucket))
        assert isinstance(store, AsyncS3ObjectStore)
        assert store.reader is not None
        try:
            await _reads(store)
        finally:
            await store.aclose()
        assert store.reader.pool is None

    async def _reads(store: AsyncS3ObjectStore) -> None:
        await store.warm()
        head = await store.head(KEY)
        seek = await store.open_range(KEY, 300_000, 300_000 + 65_535, chunk_size=65_536)
        assert (seek.info, seek.span) == (head, ByteSpan(300_000, 365_535))
        assert [c async for c in seek.chunks] == [DATA[300_000:365_536]]
        rest = await store.open_range(KEY, 1000, None, chunk_size=100_000)
        chunks = [c async for c in rest.chunks]
        assert b"".join(chunks) == DATA[1000:]
        assert max(map(len, chunks)) <= 100_000
        got = [c async for c in store.get_range(KEY, ByteSpan(5, 399_999), chunk_size=50_000)]
        assert b"".join(got) == DATA[5:400_000]
        early = await store.open_range(KEY, 0, None, chunk_size=10_000)
        assert len(await anext(early.chunks)) <= 10_000
        await early.chunks.aclose()
        with pytest.raises(ObjectNotFound):
            await store.open_range("nope")
        with pytest.raises((RangeNotSatisfiable, StorageError)):
            await store.open_range(KEY, len(DATA) + 10)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        asyncio.run(main())
        _no_resource_warnings(caught)


def test_the_proxy_answers_a_seek_as_one_fixed_body(s3: tuple[ServerHandle, str]) -> None:
    """Through the Range proxy: a seek of at most one chunk is a fixed body (206, exact
    bytes), a longer range streams; sync and async agree."""
    server, bucket = s3
    settings = _settings(server.url, bucket)
    seek = {"Range": "bytes=100000-165535"}
    store = S3ObjectStore.from_settings(settings)
    try:
        small = open_sync(store, KEY, "GET", seek, chunk_size=65_536)
        assert (small.status, body_in_full(small)) == (206, DATA[100_000:165_536])
        big = open_sync(store, KEY, "GET", {"Range": "bytes=0-"}, chunk_size=65_536)
        assert body_in_full(big) is None
        assert b"".join(big) == DATA
    finally:
        store.close()

    async def main() -> None:
        astore = AsyncS3ObjectStore.from_settings(settings)
        try:
            small = await open_async(astore, KEY, "GET", seek, chunk_size=65_536)
            assert (small.status, body_in_full(small)) == (206, DATA[100_000:165_536])
            head = await open_async(astore, KEY, "HEAD", seek, chunk_size=65_536)
            assert (head.status, body_in_full(head)) == (206, b"")
            big = await open_async(astore, KEY, "GET", {}, chunk_size=65_536)
            assert body_in_full(big) is None
            assert b"".join([c async for c in big]) == DATA
        finally:
            await astore.aclose()

    asyncio.run(main())


# --- bounded waits ------------------------------------------------------------------------


@pytest.fixture
def relay(moto_server: ServerHandle) -> Iterator[tuple[FaultProxy, str]]:
    """A fault-injecting relay in front of moto, with ``KEY`` in a fresh bucket."""
    bucket = f"mk-ranged-{uuid.uuid4().hex[:10]}"
    client: Any = s3_client(moto_server.url)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=KEY, Body=DATA)
    client.put_object(Bucket=bucket, Key="big", Body=b"\x5a" * BIG)
    proxy = FaultProxy("127.0.0.1", moto_server.port)
    try:
        yield proxy, bucket
    finally:
        proxy.close()


def _short_waits(url: str, bucket: str) -> Settings:
    return _settings(url, bucket, s3_connect_timeout=0.5, s3_read_timeout=0.5, s3_max_attempts=2)


def test_a_hung_or_refusing_endpoint_is_unavailable_sync(relay: tuple[FaultProxy, str]) -> None:
    """An endpoint that never answers, or refuses: StorageUnavailable (a 503 with
    Retry-After upstream) once the attempts are spent, not a hang."""
    proxy, bucket = relay
    store = S3ObjectStore.from_settings(_short_waits(proxy.url, bucket))
    try:
        assert b"".join(store.open_range(KEY, 0, 9).chunks) == DATA[:10]
        proxy.set_mode("hang")
        with pytest.raises(StorageUnavailable, match="MEDIA_S3_ENDPOINT"):
            store.open_range(KEY, 0, 9)
        proxy.set_mode("refuse")
        with pytest.raises(StorageUnavailable):
            store.open_range(KEY, 0, 9)
        proxy.set_mode("pass")
        assert b"".join(store.open_range(KEY, 10, 19).chunks) == DATA[10:20]
    finally:
        store.close()


def test_a_hung_endpoint_mid_body_aborts_the_stream_async(
    relay: tuple[FaultProxy, str],
) -> None:
    """Hung before headers: StorageUnavailable. Hung mid-body (headers and a first
    chunk sent): the chunks raise StorageUnavailable instead of waiting forever."""
    proxy, bucket = relay

    async def main() -> None:
        store = AsyncS3ObjectStore.from_settings(_short_waits(proxy.url, bucket))
        try:
            proxy.set_mode("hang")
            with pytest.raises(StorageUnavailable):
                await store.open_range(KEY, 0, 9)
            proxy.set_mode("pass")
            opened = await store.open_range("big", 0, None, chunk_size=4096)
            await anext(opened.chunks)
            proxy.set_mode("hang")  # applies to the open connection too
            with pytest.raises(StorageUnavailable):
                async for _ in opened.chunks:
                    pass
            await opened.chunks.aclose()
        finally:
            proxy.set_mode("pass")
            await store.aclose()

    asyncio.run(main())


# --- the pure parts -------------------------------------------------------------------------


def test_error_bodies_map_through_the_one_translation() -> None:
    """S3 error documents become the errors botocore's ClientError would."""

    def err(code: str) -> bytes:
        return f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()

    assert isinstance(error_of(404, err("NoSuchKey"), key="k", bucket="b"), ObjectNotFound)
    assert isinstance(error_of(416, err("InvalidRange"), key="k", bucket="b"), RangeNotSatisfiable)
    assert isinstance(error_of(503, err("SlowDown"), key="k", bucket="b"), StorageUnavailable)
    assert isinstance(error_of(500, b"", key="k", bucket="b"), StorageUnavailable)
    refused = error_of(403, err("AccessDenied"), key="k", bucket="b")
    assert type(refused) is StorageError
    assert "MEDIA_S3_ACCESS_KEY_ID" in str(refused)
    bucket = error_of(404, err("NoSuchBucket"), key="k", bucket="b")
    assert type(bucket) is StorageError
    assert "MEDIA_ASSETS_BUCKET" in str(bucket)


@given(st.integers(min_value=1, max_value=64))
def test_retry_delays_follow_botocore_standard_backoff(attempt: int) -> None:
    """A random share of 2**(attempt-1) seconds, never more than 20 s."""
    delay = retry_delay(attempt)
    assert 0 <= delay <= min(2 ** (attempt - 1), MAX_BACKOFF)


def test_readers_take_their_bounds_from_settings() -> None:
    """Timeouts, attempts and pool size come from the MEDIA_S3_* settings."""
    settings = _settings(
        "http://127.0.0.1:9", "bkt", s3_connect_timeout=1.5, s3_read_timeout=2.5, s3_max_attempts=3
    )
    reader = AsyncRangedReader.from_settings(settings, "bkt")
    assert (reader.connect_timeout, reader.read_timeout, reader.attempts) == (1.5, 2.5, 3)
    sync = RangedReader.from_settings(settings, "bkt")
    try:
        assert sync.attempts == 3
    finally:
        sync.close()
