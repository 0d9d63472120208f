"""In-process unit tests of the proxy shell (fast; the real-HTTP tests are in test_over_http)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import ObjectNotFound, StorageError
from mediakit.proxy import ObjectInfoCache, open_async, open_sync, stream_async, stream_sync
from mediakit.storage import ByteSpan, MemoryObjectStore, ThreadedAsyncStore
from tests.proxy.apps import Probe, ProbedAsyncStore, ProbedStore

DATA = bytes(range(256)) * 1000  # 256,000 bytes
KEY = "images/x/original"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def memory() -> MemoryObjectStore:
    store = MemoryObjectStore("b")
    store.put_bytes(KEY, DATA, content_type="image/png")
    return store


class Lying:
    """A store whose get_range returns other byte counts than asked, or raises a foreign error."""

    bucket = "b"

    def __init__(self, inner: MemoryObjectStore, mode: str) -> None:
        self.inner, self.mode = inner, mode

    def head(self, key: str) -> Any:
        if self.mode == "head-oserror":
            raise OSError("connection reset by peer")
        return self.inner.head(key)

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 1
    ) -> Iterator[bytes]:
        if self.mode == "oserror":
            raise OSError("connection reset by peer")
        yield from self.inner.get_range(key, span, chunk_size=chunk_size)
        if self.mode == "long":
            yield b"extra"


def test_open_sync_streams_the_planned_span(memory: MemoryObjectStore) -> None:
    """open_sync plans a 206 and yields exactly the span, in chunks of at most chunk_size."""
    with open_sync(memory, KEY, "GET", {"Range": "bytes=100-60099"}, chunk_size=4096) as response:
        assert response.status == 206
        chunks = list(response)
    assert b"".join(chunks) == DATA[100:60100]
    assert max(map(len, chunks)) <= 4096


def test_first_chunk_is_fetched_before_returning(memory: MemoryObjectStore) -> None:
    """The store stream is opened and read once before open_sync returns (failures come early)."""
    probe = Probe()
    response = open_sync(ProbedStore(memory, probe), KEY, "GET", {}, chunk_size=1024)
    assert probe.open_streams == 1
    assert probe.bytes_read == {KEY: 1024}
    response.close()
    assert probe.open_streams == 0
    response.close()  # idempotent


def test_failure_before_headers_raises_from_open(memory: MemoryObjectStore) -> None:
    """A store failing before the first chunk raises from open_sync, as our error, stream closed."""
    probe = Probe(faults={KEY: "first"})
    with pytest.raises(StorageError) as info:
        open_sync(ProbedStore(memory, probe), KEY, "GET", {})
    assert info.value.http_status == 503
    assert probe.open_streams == 0
    with pytest.raises(ObjectNotFound):
        open_sync(memory, "missing", "GET", {})
    with pytest.raises(StorageError, match="connection reset"):
        open_sync(Lying(memory, "head-oserror"), KEY, "GET", {})  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="connection reset"):
        open_sync(Lying(memory, "oserror"), KEY, "GET", {})  # type: ignore[arg-type]


def test_info_skips_the_head(memory: MemoryObjectStore) -> None:
    """A given ObjectInfo is used as is: no HEAD (a failing HEAD is never called)."""
    info = memory.head(KEY)
    probe = Probe(faults={KEY: "head"})
    with open_sync(ProbedStore(memory, probe), KEY, "HEAD", {}, info=info) as response:
        assert response.status == 200
        assert list(response) == []
    assert probe.opened == 0


@pytest.mark.parametrize("mode", ["mid", "short"])
def test_failure_mid_body_raises(memory: MemoryObjectStore, mode: str) -> None:
    """A fault or a short stream after the first chunk raises StorageError from the iterator."""
    probe = Probe(faults={KEY: mode})
    response = open_sync(ProbedStore(memory, probe), KEY, "GET", {}, chunk_size=1024)
    with pytest.raises(StorageError):
        for _ in response:
            pass
    assert probe.open_streams == 0


def test_too_many_bytes_raise(memory: MemoryObjectStore) -> None:
    """A store returning more bytes than planned is an error, not a longer body."""
    with pytest.raises(StorageError, match="planned"):
        list(open_sync(Lying(memory, "long"), KEY, "GET", {"Range": "bytes=0-99"}))  # type: ignore[arg-type]


def test_generated_bodies_need_no_store_stream(memory: MemoryObjectStore) -> None:
    """416/412 send their JSON body; 304 and HEAD send nothing; none opens a store stream."""
    probe = Probe()
    store = ProbedStore(memory, probe)
    with open_sync(store, KEY, "GET", {"Range": "bytes=999999-"}) as r:
        assert r.status == 416
        assert b"".join(r) == r.plan.body
    etag = memory.head(KEY).etag
    with open_sync(store, KEY, "GET", {"If-None-Match": etag}) as r:
        assert (r.status, list(r)) == (304, [])
    assert probe.opened == 0


def test_stream_sync_close_closes_the_store_stream(memory: MemoryObjectStore) -> None:
    """Closing stream_sync mid-way closes the store's generator."""
    probe = Probe()
    store = ProbedStore(memory, probe)
    plan = open_sync(store, KEY, "HEAD", {}).plan
    assert plan.span is None
    full = open_sync(memory, KEY, "GET", {}).plan
    body = stream_sync(store, KEY, full, chunk_size=1000)
    next(body)
    assert probe.open_streams == 1
    body.close()
    assert probe.open_streams == 0


@pytest.mark.anyio
async def test_async_twin(memory: MemoryObjectStore) -> None:
    """open_async/stream_async behave like the sync twins, including early close and faults."""
    probe = Probe()
    store = ProbedAsyncStore(ThreadedAsyncStore(memory), probe)
    async with await open_async(store, KEY, "GET", {"range": "bytes=-1000"}, chunk_size=256) as r:
        assert r.status == 206
        assert b"".join([chunk async for chunk in r]) == DATA[-1000:]
    response = await open_async(store, KEY, "GET", {}, chunk_size=1024)
    assert probe.open_streams == 1
    await response.aclose()
    assert probe.open_streams == 0

    probe.faults[KEY] = "first"
    with pytest.raises(StorageError):
        await open_async(store, KEY, "GET", {})
    probe.faults[KEY] = "mid"
    response = await open_async(store, KEY, "GET", {}, chunk_size=1024)
    with pytest.raises(StorageError):
        async for _ in response:
            pass
    assert probe.open_streams == 0

    probe.faults.clear()
    plan = (await open_async(store, KEY, "HEAD", {})).plan
    body = stream_async(store, KEY, plan)
    assert [c async for c in body] == []


@pytest.mark.anyio
async def test_async_foreign_errors_become_storage_errors(memory: MemoryObjectStore) -> None:
    """A non-mediakit exception from an async store is translated to StorageError."""

    class Broken:
        bucket = "b"

        async def head(self, key: str) -> Any:
            return memory.head(key)

        async def get_range(
            self, key: str, span: Any = None, *, chunk_size: int = 1
        ) -> AsyncIterator[bytes]:
            raise ConnectionResetError("peer went away")
            yield b""

    with pytest.raises(StorageError, match="peer went away"):
        await open_async(Broken(), KEY, "GET", {})  # type: ignore[arg-type]


def test_info_cache_skips_repeated_heads(memory: MemoryObjectStore) -> None:
    """With an ObjectInfoCache the second request makes no HEAD; a deleted key is a 404 and is dropped."""
    cache = ObjectInfoCache(maxsize=10, ttl=60)
    probe = Probe()
    store = ProbedStore(memory, probe)
    with open_sync(store, KEY, "GET", {"Range": "bytes=0-9"}, info_cache=cache) as r:
        assert b"".join(r) == DATA[:10]
    assert cache.get(KEY) == memory.head(KEY)
    probe.faults[KEY] = "head"  # a HEAD now would fail
    with open_sync(store, KEY, "GET", {"Range": "bytes=10-19"}, info_cache=cache) as r:
        assert b"".join(r) == DATA[10:20]
    memory.delete(KEY)
    with pytest.raises(ObjectNotFound):
        open_sync(memory, KEY, "GET", {}, info_cache=cache)
    assert cache.get(KEY) is None


@pytest.mark.anyio
async def test_info_cache_async(memory: MemoryObjectStore) -> None:
    """The async proxy uses the same cache."""
    cache = ObjectInfoCache()
    store = ThreadedAsyncStore(memory)
    async with await open_async(store, KEY, "HEAD", {}, info_cache=cache) as r:
        assert r.status == 200
    assert cache.get(KEY) is not None
    memory.delete(KEY)
    with pytest.raises(ObjectNotFound):
        await open_async(store, KEY, "GET", {}, info_cache=cache)
    assert cache.get(KEY) is None
    cache.put(memory.put_bytes(KEY, b"x", content_type="image/png"))
    cache.discard(KEY)
    assert cache.get(KEY) is None


def test_info_cache_entries_expire() -> None:
    """Entries live for ttl seconds of the injected timer, and the cache holds at most maxsize."""
    now = [0.0]
    cache = ObjectInfoCache(maxsize=2, ttl=10, timer=lambda: now[0])
    store = MemoryObjectStore("b")
    infos = [store.put_bytes(f"k{i}", b"x", content_type="image/png") for i in range(3)]
    cache.put(infos[0])
    now[0] = 9.9
    assert cache.get("k0") == infos[0]
    now[0] = 10.1
    assert cache.get("k0") is None
    for info in infos:
        cache.put(info)
    assert [cache.get(f"k{i}") is not None for i in range(3)].count(True) == 2


# ------------------------------------------------------------------ one_trip_range


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {}, (0, None)),
        ("get", {"Range": "bytes=0-"}, (0, None)),
        ("GET", {"range": "bytes=100-"}, (100, None)),
        ("GET", {"RANGE": "bytes=100-199"}, (100, 199)),
        ("GET", {"Range": "garbage"}, (0, None)),  # ignored: the full 200
        ("GET", {"Range": "items=0-9"}, (0, None)),
        ("GET", {"Range": "bytes=-500"}, None),  # suffix: needs the size
        ("GET", {"Range": "bytes=0-9,20-29"}, None),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"e"'}, None),
        ("GET", {"If-None-Match": '"e"'}, None),
        ("GET", {"if-modified-since": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ("GET", {"If-Match": '"e"'}, None),
        ("GET", {"If-Unmodified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ("HEAD", {}, None),
        ("POST", {"Range": "bytes=0-"}, None),
    ],
)
def test_one_trip_range(
    method: str, headers: dict[str, str], expected: tuple[int, int | None] | None
) -> None:
    """Only requests whose bytes are known before the size are answered in one trip."""
    from mediakit.proxy import one_trip_range

    assert one_trip_range(method, headers) == expected


@given(value=st.text(max_size=80))
def test_one_trip_range_agrees_with_the_plan(value: str) -> None:
    """For any Range value, a one-trip answer is what plan_response would send: the
    span it names, clamped, for an object large enough to hold it."""
    from mediakit.http import plan_response
    from mediakit.proxy import one_trip_range
    from mediakit.storage import ObjectInfo

    wanted = one_trip_range("GET", {"Range": value})
    if wanted is None:
        return
    first, last = wanted
    size = first + 1000
    info = ObjectInfo("k", size, '"e"', datetime(2024, 1, 1, tzinfo=UTC))
    plan = plan_response("GET", {"Range": value}, info)
    assert plan.span == ByteSpan(first, size - 1 if last is None else min(last, size - 1))
