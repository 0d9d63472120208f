"""The object-store contract, as reusable test classes (see :mod:`mediakit.testing`)."""

from __future__ import annotations

import gc
import inspect
import os
import re
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediakit.errors import ObjectNotFound, RangeNotSatisfiable, StorageError, UploadTooLarge
from mediakit.storage import (
    AsyncObjectStore,
    AsyncRangeOpener,
    ByteSpan,
    MultipartUploadInfo,
    ObjectInfo,
    ObjectStore,
    RangeOpener,
)

MiB = 1024 * 1024
"""One mebibyte."""

AnyStore = ObjectStore | AsyncObjectStore
"""A synchronous or an asynchronous object store."""


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` in chunks of ``size``."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _etag_ok(etag: str) -> bool:
    return re.fullmatch(r'"[0-9a-f]{32}(-\d+)?"', etag) is not None


@attrs.define
class StoreHarness:
    """Drives a sync or an async object store through one async API, for the contract.

    The defaults suit any store; a harness that knows more about its backend (mediakit's own
    tests record the S3 requests and count open connections) subclasses it and overrides
    the probes: :attr:`is_s3`, :meth:`open_resources`, :meth:`simulate_crashed_upload`.
    """

    store: AnyStore
    """The store under test (:class:`~mediakit.storage.ObjectStore` or
    :class:`~mediakit.storage.AsyncObjectStore`)."""
    kind: str = "custom"
    """A name for the backend, printed by the tests that measure something."""
    part_size: int = 5 * MiB
    """The store's multipart part size (the bounded-memory test allows the parts the store
    sends at once, its ``parts_in_flight`` (1 if it has none), plus two)."""
    clamps_ranges: bool = True
    """False for a backend that refuses a range past the end of the object with an error
    (the contract then allows a :class:`~mediakit.errors.StorageError`) instead of
    clamping it or answering :class:`~mediakit.errors.RangeNotSatisfiable`."""
    deletes_prefixes: bool = True
    """False for a backend that fails to delete a key that is only a prefix of stored keys
    (the contract then leaves that step out)."""
    bodies: list[Any] = attrs.field(factory=list)
    """Response bodies the store opened (S3 harnesses), to check they get closed."""
    calls: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    """(operation, params) of every S3 request the store sent (S3 harnesses)."""

    @property
    def is_async(self) -> bool:
        """Whether the store's methods are coroutines."""
        return inspect.iscoroutinefunction(self.store.head)

    @property
    def is_s3(self) -> bool:
        """Whether :attr:`calls` and :attr:`bodies` are recorded (then the contract checks
        the S3 requests too: one PUT below a part, batches of 1000 deletes...)."""
        return False

    @property
    def bucket(self) -> str:
        """The store's bucket."""
        return self.store.bucket

    async def _call(self, name: str, *args: Any, **kw: Any) -> Any:
        result = getattr(self.store, name)(*args, **kw)
        return await result if self.is_async else result

    async def put_bytes(
        self, key: str, data: bytes, content_type: str = "text/plain"
    ) -> ObjectInfo:
        """``put_bytes``."""
        info: ObjectInfo = await self._call("put_bytes", key, data, content_type=content_type)
        return info

    async def put_stream(
        self, key: str, chunks: Iterable[bytes], content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        """``put_stream`` of ``chunks`` (an async iterator of them for an async store)."""
        if not self.is_async:
            return await self._call("put_stream", key, chunks, content_type=content_type)  # type: ignore[no-any-return]

        async def agen() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return await self._call("put_stream", key, agen(), content_type=content_type)  # type: ignore[no-any-return]

    async def head(self, key: str) -> ObjectInfo:
        """``head``."""
        return await self._call("head", key)  # type: ignore[no-any-return]

    async def read(self, key: str, span: ByteSpan | None = None, chunk_size: int = 65536) -> bytes:
        """Every chunk of ``get_range``, joined."""
        gen: Any = self.store.get_range(key, span, chunk_size=chunk_size)
        if self.is_async:
            return b"".join([c async for c in gen])
        return b"".join(gen)

    async def first_chunk_then_close(self, key: str, chunk_size: int) -> bytes:
        """The first chunk of ``get_range``, then close it."""
        gen: Any = self.store.get_range(key, None, chunk_size=chunk_size)
        if self.is_async:
            chunk = await gen.__anext__()
            await gen.aclose()
        else:
            chunk = next(gen)
            gen.close()
        return bytes(chunk)

    async def open_read(
        self, key: str, first: int = 0, last: int | None = None, chunk_size: int = 65536
    ) -> tuple[ObjectInfo, ByteSpan | None, bytes]:
        """``open_range``, then every chunk: (info, span, body)."""
        opened = await self._call("open_range", key, first, last, chunk_size=chunk_size)
        if self.is_async:
            body = b"".join([c async for c in opened.chunks])
        else:
            body = b"".join(opened.chunks)
        return opened.info, opened.span, body

    async def open_then_close(self, key: str, first: int = 0) -> None:
        """``open_range``, then close the chunks without reading one."""
        opened = await self._call("open_range", key, first, None, chunk_size=4096)
        if self.is_async:
            await opened.chunks.aclose()
        else:
            opened.chunks.close()

    async def delete(self, key: str) -> None:
        """``delete``."""
        await self._call("delete", key)

    async def delete_many(self, keys: list[str]) -> None:
        """``delete_many``."""
        await self._call("delete_many", keys)

    async def list_keys(self, prefix: str = "") -> list[str]:
        """Every key of ``list_keys``."""
        it: Any = self.store.list_keys(prefix)
        if self.is_async:
            return [k async for k in it]
        return list(it)

    async def uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """``list_multipart_uploads``."""
        return await self._call("list_multipart_uploads", prefix)  # type: ignore[no-any-return]

    async def abort(self, key: str, upload_id: str) -> None:
        """``abort_multipart_upload``."""
        await self._call("abort_multipart_upload", key, upload_id)

    def open_resources(self) -> int:
        """Response bodies or file handles the store opened and has not closed (0 unless
        a subclass can count them)."""
        return 0

    def simulate_crashed_upload(self, key: str) -> str:
        """Leave an unfinished multipart upload of ``key`` behind, as a crashed process
        would, and return its id. :class:`DurableStoreContract` needs it: override it."""
        raise NotImplementedError(
            f"{type(self).__name__}.simulate_crashed_upload: a StoreHarness subclass "
            "for this backend must say how to leave an unfinished upload behind"
        )


class StoreFixtures:
    """The fixtures of the object-store contracts: override :meth:`make_store` (or the
    ``store`` fixture itself, to parametrize it over several backends).

    Tests are async (anyio, on asyncio) and drive sync and async stores alike through a
    :class:`StoreHarness`.
    """

    pytestmark = [pytest.mark.anyio]

    @pytest.fixture
    def anyio_backend(self) -> str:
        """The async tests run on asyncio (aioboto3 needs it)."""
        return "asyncio"

    def make_store(self, tmp_path: Path) -> AnyStore:
        """A fresh, empty store (``tmp_path``: a new directory for this test)."""
        raise NotImplementedError(f"{type(self).__name__} must override make_store()")

    def make_harness(self, store: AnyStore) -> StoreHarness:
        """The harness that drives ``store`` (override to return a subclass)."""
        return StoreHarness(store)

    async def close_store(self, store: AnyStore) -> None:
        """Release what :meth:`make_store` opened, after each test (nothing by default)."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[StoreHarness]:
        """A harness on a fresh store from :meth:`make_store`."""
        made = self.make_store(tmp_path)
        try:
            yield self.make_harness(made)
        finally:
            await self.close_store(made)


class ObjectStoreContract(StoreFixtures):
    """The contract every object store keeps (sync or async): subclass it in a ``Test*``
    class and override :meth:`~StoreFixtures.make_store`.

    Example::

        class TestMyStore(ObjectStoreContract):
            def make_store(self, tmp_path):
                return MyStore(bucket="media")
    """

    async def test_put_bytes_then_head_and_read_round_trip(self, store: StoreHarness) -> None:
        """A small object comes back byte for byte, with its size, quoted etag and type."""
        info = await store.put_bytes("images/a1/original", b"hello world", "image/png")
        head = await store.head("images/a1/original")
        assert (info.size, head.size) == (11, 11)
        assert _etag_ok(info.etag)
        assert head.etag == info.etag
        assert head.content_type == "image/png"
        assert head.last_modified.tzinfo is not None
        assert await store.read("images/a1/original") == b"hello world"

    async def test_empty_object_round_trips(self, store: StoreHarness) -> None:
        """A zero-byte stream stores an empty object."""
        info = await store.put_stream("empty", [])
        assert info.size == 0
        assert (await store.head("empty")).size == 0
        assert await store.read("empty") == b""

    async def test_stream_within_one_part_is_a_single_put(self, store: StoreHarness) -> None:
        """A stream shorter than a part goes up without a multipart upload."""
        data = os.urandom(300_000)
        info = await store.put_stream("small", chunked(data, 7000), "audio/mpeg")
        assert info.size == len(data)
        assert await store.read("small") == data
        assert (await store.head("small")).content_type == "audio/mpeg"
        assert not any(op == "CreateMultipartUpload" for op, _ in store.calls)

    async def test_large_stream_goes_up_in_parts(self, store: StoreHarness) -> None:
        """12 MiB in odd-sized chunks is stored exactly (three 5 MiB parts on S3)."""
        data = os.urandom(12 * MiB)
        sizes = iter([1, 5 * MiB, 3 * MiB + 7, 100_000] * 10)

        def chunks() -> Iterator[bytes]:
            pos = 0
            while pos < len(data):
                n = next(sizes)
                yield data[pos : pos + n]
                pos += n

        info = await store.put_stream("music/s1/t1/original", chunks(), "audio/flac")
        assert info.size == len(data)
        head = await store.head("music/s1/t1/original")
        assert (head.size, head.etag) == (len(data), info.etag)
        assert await store.read("music/s1/t1/original", chunk_size=MiB) == data
        if store.is_s3:  # by part number: parts in flight may be sent in any order
            sent = [p for op, p in store.calls if op == "UploadPart"]
            parts = sorted(sent, key=lambda p: int(p["PartNumber"]))
            assert [p["Body"] for p in parts] == [
                store.part_size,
                store.part_size,
                12 * MiB - 2 * store.part_size,
            ]
        assert await store.uploads() == []

    @pytest.mark.parametrize("fail_after", [2 * MiB, 7 * MiB, 11 * MiB])
    async def test_iterator_failing_mid_upload_leaves_nothing(
        self, store: StoreHarness, fail_after: int
    ) -> None:
        """The caller's error (a size cap, a disconnect) propagates unchanged, and no object
        and no open multipart upload remain, whether it fails before or after the first part."""
        cap = UploadTooLarge("too big")

        def chunks() -> Iterator[bytes]:
            sent = 0
            while sent < fail_after:
                yield b"x" * MiB
                sent += MiB
            raise cap

        with pytest.raises(UploadTooLarge) as caught:
            await store.put_stream("images/a2/original", chunks())
        assert caught.value is cap
        with pytest.raises(ObjectNotFound):
            await store.head("images/a2/original")
        assert await store.uploads() == []
        assert await store.list_keys() == []

    async def test_failed_overwrite_keeps_the_previous_object(self, store: StoreHarness) -> None:
        """A write that fails leaves the old version of the key readable."""
        await store.put_bytes("k", b"old version")

        def chunks() -> Iterator[bytes]:
            yield b"new" * 1000
            raise OSError("client went away")

        with pytest.raises(OSError, match="client went away"):
            await store.put_stream("k", chunks())
        assert await store.read("k") == b"old version"

    async def test_ranged_reads_return_exactly_the_span(self, store: StoreHarness) -> None:
        """First byte, last byte, a middle span and the whole object, in small chunks."""
        data = os.urandom(10_000)
        await store.put_bytes("r", data)
        n = len(data)
        for first, last in [(0, 0), (n - 1, n - 1), (1234, 5678), (0, n - 1), (17, 17 + 999)]:
            got = await store.read("r", ByteSpan(first, last), chunk_size=333)
            assert got == data[first : last + 1], (first, last)
        assert await store.read("r", None, chunk_size=4096) == data
        ranges = [p.get("Range") for op, p in store.calls if op == "GetObject"]
        assert all(r is None or re.fullmatch(r"bytes=\d+-\d+", r) for r in ranges), ranges

    async def test_closing_a_read_early_releases_it(self, store: StoreHarness) -> None:
        """A reader that stops after one chunk releases the connection or file handle."""
        await store.put_bytes("big-read", os.urandom(2 * MiB))
        for _ in range(3):
            chunk = await store.first_chunk_then_close("big-read", 4096)
            assert len(chunk) <= 4096
        assert store.open_resources() == 0
        if store.is_s3:
            assert len(store.bodies) == 3

    async def test_missing_key_is_object_not_found(self, store: StoreHarness) -> None:
        """head and get_range of an absent key raise ObjectNotFound."""
        with pytest.raises(ObjectNotFound):
            await store.head("images/none/original")
        with pytest.raises(ObjectNotFound):
            await store.read("images/none/original")
        with pytest.raises(ObjectNotFound):
            await store.read("images/none/original", ByteSpan(0, 10))

    async def test_a_prefix_is_not_an_object(self, store: StoreHarness) -> None:
        """A prefix of stored keys is not itself an object: not found, and deleting it is a
        no-op that leaves the keys under it alone."""
        await store.put_bytes("dir/x", b"1")
        with pytest.raises(ObjectNotFound):
            await store.head("dir")
        with pytest.raises(ObjectNotFound):
            await store.read("dir")
        if store.deletes_prefixes:
            await store.delete("dir")
            await store.delete_many(["dir"])
        assert await store.list_keys() == ["dir/x"]

    async def test_delete_is_idempotent(self, store: StoreHarness) -> None:
        """Deleting a key twice, or a key that never existed, is not an error."""
        await store.put_bytes("d", b"1")
        await store.delete("d")
        await store.delete("d")
        await store.delete("never/existed")
        with pytest.raises(ObjectNotFound):
            await store.head("d")

    async def test_delete_many_batches_and_treats_missing_as_deleted(
        self, store: StoreHarness
    ) -> None:
        """1,201 keys (mostly absent, some repeated) go in batches of at most 1000; all present
        ones disappear and the others are left alone."""
        present = ["m/0000", "m/0600", "m/1200"]
        for key in [*present, "keep/me"]:
            await store.put_bytes(key, b"x")
        keys = [f"m/{i:04d}" for i in range(1201)] + ["m/0000"]
        await store.delete_many(keys)
        assert await store.list_keys() == ["keep/me"]
        if store.is_s3:
            batches = [p["Delete"]["Objects"] for op, p in store.calls if op == "DeleteObjects"]
            assert [len(b) for b in batches] == [1000, 201]
        await store.delete_many([])

    async def test_list_keys_by_prefix_in_order(self, store: StoreHarness) -> None:
        """Keys under a prefix come back in lexicographic order, nothing outside it."""
        keys = ["p/b/d", "p/a", "p-x", "p/b/c", "pa", "q", "p/b0"]
        for key in keys:
            await store.put_bytes(key, b"")
        assert await store.list_keys() == sorted(keys)
        assert await store.list_keys("p/") == ["p/a", "p/b/c", "p/b/d", "p/b0"]
        assert await store.list_keys("p/b") == ["p/b/c", "p/b/d", "p/b0"]
        assert await store.list_keys("p") == sorted(k for k in keys if k.startswith("p"))
        assert await store.list_keys("zzz/") == []

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        blob=st.binary(min_size=1, max_size=4000),
        picks=st.lists(
            st.tuples(st.integers(0, 2**32), st.integers(0, 2**32), st.integers(1, 1024)),
            min_size=1,
            max_size=4,
        ),
    )
    async def test_any_span_equals_the_slice(
        self, store: StoreHarness, blob: bytes, picks: list[tuple[int, int, int]]
    ) -> None:
        """For a random object and random spans inside it, the bytes read equal the slice.

        Drawn up front, not with ``st.data()``: see :func:`test_any_opened_range_equals_the_slice`.
        """
        await store.put_bytes("prop", blob)
        for first_pick, last_pick, size in picks:
            first = first_pick % len(blob)
            last = first + last_pick % (len(blob) - first)
            assert (
                await store.read("prop", ByteSpan(first, last), chunk_size=size)
                == blob[first : last + 1]
            )


class RangeOpenerContract(StoreFixtures):
    """The optional ``open_range`` capability (one GET that reports what a HEAD would:
    :class:`~mediakit.storage.RangeOpener`), for stores that have it; every store built
    into mediakit does. Subclass it next to :class:`ObjectStoreContract`."""

    async def test_every_store_can_open_a_range(self, store: StoreHarness) -> None:
        """The store has the optional ``open_range`` capability."""
        assert isinstance(store.store, AsyncRangeOpener if store.is_async else RangeOpener)

    async def test_open_range_reports_what_head_does(self, store: StoreHarness) -> None:
        """The info from a GET's headers equals HEAD's, and the span is the one asked for."""
        data = os.urandom(50_000)
        await store.put_bytes("o", data, "audio/mpeg")
        head = await store.head("o")
        n = len(data)
        for first, last in [(0, None), (0, 0), (1234, None), (100, 199), (n - 1, None)]:
            info, span, body = await store.open_read("o", first, last, chunk_size=7000)
            assert info == head, (first, last)
            expected_last = n - 1 if last is None else last
            assert span == ByteSpan(first, expected_last)
            assert body == data[first : expected_last + 1]
        if store.is_s3:
            ranges = [p.get("Range") for op, p in store.calls if op == "GetObject"]
            assert ranges[0] is None  # a whole-object open sends no Range header
            assert all(re.fullmatch(r"bytes=\d+-\d*", str(r)) for r in ranges[1:]), ranges
            assert not [op for op, _ in store.calls if op == "HeadObject"][1:]  # only the test's

    async def test_open_range_clamps_a_last_past_the_end(self, store: StoreHarness) -> None:
        """``last`` past the end is clamped, as RFC 9110 says; nanio refuses it (400), which
        the contract allows as a StorageError (the proxy then HEADs)."""
        data = os.urandom(1000)
        await store.put_bytes("c", data)
        if not store.clamps_ranges:
            with pytest.raises(StorageError):
                await store.open_read("c", 10, 5000)
            return
        info, span, body = await store.open_read("c", 10, 5000)
        assert (info.size, span, body) == (1000, ByteSpan(10, 999), data[10:])

    async def test_open_range_past_the_end_is_range_not_satisfiable(
        self, store: StoreHarness
    ) -> None:
        """``first`` at or past the end raises RangeNotSatisfiable (nanio: a StorageError)."""
        await store.put_bytes("p", b"0123456789")
        expected = RangeNotSatisfiable if store.clamps_ranges else StorageError
        for first in (10, 11, 10**9):
            with pytest.raises(expected):
                await store.open_read("p", first)
        assert store.open_resources() == 0

    async def test_open_range_of_an_empty_object(self, store: StoreHarness) -> None:
        """The whole of an empty object opens with no span and no bytes."""
        await store.put_bytes("e", b"")
        info, span, body = await store.open_read("e")
        assert (info.size, span, body) == (0, None, b"")

    async def test_open_range_of_a_missing_key_is_object_not_found(
        self, store: StoreHarness
    ) -> None:
        with pytest.raises(ObjectNotFound):
            await store.open_read("images/none/original", 5)
        with pytest.raises(ObjectNotFound):
            await store.open_read("images/none/original")

    async def test_closing_opened_chunks_unread_releases_them(self, store: StoreHarness) -> None:
        """Chunks closed before the first read still release the connection or file."""
        await store.put_bytes("u", os.urandom(2 * MiB))
        for first in (0, 1000, MiB):
            await store.open_then_close("u", first)
        assert store.open_resources() == 0
        if store.is_s3:
            assert len(store.bodies) == 3

    async def test_open_range_refuses_an_invalid_range(self, store: StoreHarness) -> None:
        for first, last in [(-1, None), (10, 9)]:
            with pytest.raises(ValueError, match="invalid byte range"):
                await store.open_read("whatever", first, last)

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        blob=st.binary(min_size=1, max_size=4000),
        picks=st.lists(
            st.tuples(
                st.integers(0, 2**32), st.none() | st.integers(0, 2**32), st.integers(1, 1024)
            ),
            min_size=1,
            max_size=3,
        ),
    )
    async def test_any_opened_range_equals_the_slice(
        self, store: StoreHarness, blob: bytes, picks: list[tuple[int, int | None, int]]
    ) -> None:
        """For a random object and random in-object ranges, open_range reads the slice.

        Everything is drawn before the test runs (no ``st.data()``): a draw that overruns
        inside the anyio runner would break it for the tests after.
        """
        await store.put_bytes("prop-open", blob)
        for first_pick, last_pick, size in picks:
            first = first_pick % len(blob)
            last = None if last_pick is None else first + last_pick % (len(blob) - first)
            info, span, body = await store.open_read("prop-open", first, last, chunk_size=size)
            end = len(blob) - 1 if last is None else last
            assert (info.size, span, body) == (
                len(blob),
                ByteSpan(first, end),
                blob[first : end + 1],
            )


class DurableStoreContract(StoreFixtures):
    """What stores with bounded-memory writes and multipart uploads keep besides
    :class:`ObjectStoreContract` (mediakit's S3 and filesystem stores; not the memory
    store). Its ``store`` fixture's harness must override
    :meth:`StoreHarness.simulate_crashed_upload`.

    It holds only these extra tests: subclass it next to the others, ``class
    TestMyStore(ObjectStoreContract, RangeOpenerContract, DurableStoreContract)``.
    """

    async def test_put_stream_memory_stays_bounded(self, store: StoreHarness) -> None:
        """A 64 MiB stream is stored with a Python heap peak under its parts in flight plus
        two (the one filling, and slack): three parts for a store sending one at a time
        (the memory store keeps whole objects in memory by design, so it is not in this
        suite)."""
        block = os.urandom(MiB)

        def chunks() -> Iterator[bytes]:
            for _ in range(64 * 4):
                yield block[: MiB // 4]

        gc.collect()
        tracemalloc.start()
        try:
            info = await store.put_stream("big", chunks())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert info.size == 64 * MiB
        print(f"{store.kind}: peak {peak / MiB:.1f} MiB")
        in_flight = int(getattr(store.store, "parts_in_flight", 1))
        bound = (in_flight + 2) * store.part_size
        assert peak < bound, f"peak {peak / MiB:.1f} MiB, {in_flight} part(s) in flight"
        assert (await store.head("big")).size == 64 * MiB

    async def test_stale_upload_is_listed_and_aborted(self, store: StoreHarness) -> None:
        """An upload left by a crashed writer is listed under its prefix and can be aborted,
        twice without error."""
        upload_id = store.simulate_crashed_upload("images/a3/original")
        found = await store.uploads("images/")
        assert [(u.key, u.upload_id) for u in found] == [("images/a3/original", upload_id)]
        assert found[0].initiated.tzinfo is not None
        assert await store.uploads("music/") == []
        await store.abort("images/a3/original", upload_id)
        await store.abort("images/a3/original", upload_id)
        assert await store.uploads() == []
