"""The upload write path without copies: parts filled in place and reused, the zero-copy
body of the async store, and one part in flight while the next fills, on real S3 servers.

The contract suite (``test_contract.py``) checks the stored bytes, the part sizes, the
bounded memory and the clean-up when the caller's iterator fails; these tests pin what
the copy-free path adds: a reused buffer is never changed while the caller holds it, the
bytes are right at every part boundary whatever the chunk splits, the body hands botocore
and aiohttp exactly the part, and a part failing while the next one is read aborts the
whole upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from mediakit.errors import StorageError
from mediakit.storage import AsyncS3ObjectStore, S3ObjectStore
from mediakit.storage._common import PartAssembler
from mediakit.storage._part_http import _PartBody
from tests.conftest import s3_client
from tests.quick import examples
from tests.servers import ServerHandle
from tests.storage.conftest import s3_settings

MiB = 1024 * 1024
PART = 5 * MiB

_kinds = st.sampled_from([bytes, bytearray, memoryview])


@settings(max_examples=examples(300))
@given(
    st.lists(st.integers(0, 60), max_size=40),
    st.integers(1, 17),
    _kinds,
    st.lists(st.booleans(), min_size=1),
)
def test_parts_are_exact_at_every_boundary_with_reuse(
    sizes: list[int], part: int, kind: type, release_pattern: list[bool]
) -> None:
    """Whatever the chunk splits (several parts in one chunk, chunks across parts), every
    part holds exactly its bytes; a part the caller still holds never changes while
    later chunks are fed, and a released part is refilled in place."""
    stream = bytes(i % 251 for i in range(sum(sizes)))
    asm = PartAssembler(part, minimum=1)
    held: list[tuple[bytearray, bytes]] = []  # parts not released, with their bytes
    out: list[bytes] = []
    pos = 0
    for i, n in enumerate(sizes):
        chunk = kind(stream[pos : pos + n])
        pos += n
        for p in asm.feed(chunk):
            assert len(p) == part
            out.append(bytes(p))  # "sent"
            if release_pattern[i % len(release_pattern)]:
                asm.release(p)
            else:
                held.append((p, bytes(p)))
        for p, was in held:
            assert bytes(p) == was, "a held part changed"
    rest = asm.rest()
    assert len(rest) < part
    assert b"".join([*out, bytes(rest)]) == stream
    assert asm.total == len(stream)


def test_a_released_part_is_refilled_in_place() -> None:
    """An upload reuses the same buffers from its first part to its last."""
    asm = PartAssembler(4, minimum=1)
    (first,) = asm.feed(b"0123")
    asm.release(first)
    (second,) = asm.feed(b"45678"[:4])
    assert second is first
    assert second == bytearray(b"4567")
    asm.release(second)
    assert asm.feed(b"ab") == []
    assert asm.rest() == bytearray(b"ab")


def test_a_stream_within_one_part_is_handed_back_without_a_copy() -> None:
    """A short stream's bytes are returned as they were gathered (no whole part
    allocated, no copy), and the rest after whole parts is exactly the tail."""
    asm = PartAssembler(8, minimum=1)
    assert asm.feed(b"abc") == []
    assert asm.feed(memoryview(b"de")) == []
    assert asm.rest() == bytearray(b"abcde")
    asm = PartAssembler(4, minimum=1)
    (first,) = asm.feed(b"0123")
    asm.release(first)
    assert asm.feed(b"45") == []
    assert asm.rest() == bytearray(b"45")


@pytest.mark.parametrize("chunk", [100_000, 1024 * 1024 + 1, 7 * MiB])
def test_a_stream_past_the_gathered_head_is_filled_into_whole_parts(chunk: int) -> None:
    """Past the first MiB (gathered) a part is written into a whole buffer: the parts
    and the short rest are still exactly the stream, and the rest is its own size."""
    part = 3 * MiB
    asm = PartAssembler(part, minimum=1)
    data = os.urandom(7 * MiB + 11)
    parts = [bytes(p) for i in range(0, len(data), chunk) for p in asm.feed(data[i : i + chunk])]
    rest = asm.rest()
    assert [len(p) for p in parts] == [part, part]
    assert len(rest) == MiB + 11
    assert b"".join([*parts, bytes(rest)]) == data


def test_mutable_chunks_are_copied_bytes_are_kept() -> None:
    """A chunk the caller may reuse (a bytearray) is copied when gathered; the part is
    the bytes as they were fed."""
    asm = PartAssembler(6, minimum=1)
    reused = bytearray(b"abc")
    assert asm.feed(reused) == []
    reused[:] = b"XYZ"
    (part,) = asm.feed(reused)
    assert part == bytearray(b"abcXYZ")


@settings(max_examples=examples(200))
@given(
    st.binary(max_size=5000),
    st.lists(
        st.one_of(
            st.tuples(st.just("read"), st.integers(-1, 3000)),
            st.tuples(st.just("seek"), st.integers(0, 6000), st.sampled_from([0, 1, 2])),
            st.tuples(st.just("readinto"), st.integers(0, 3000)),
        ),
        max_size=20,
    ),
)
def test_part_body_reads_like_a_bytesio(data: bytes, ops: list[tuple[Any, ...]]) -> None:
    """Every read, seek and tell answers what ``io.BytesIO`` answers, without copying."""
    body, model = _PartBody(bytearray(data)), io.BytesIO(data)
    for op in ops:
        if op[0] == "read":
            got = body.read(op[1])
            assert isinstance(got, memoryview)
            assert bytes(got) == model.read(op[1])
        elif op[0] == "seek":
            offset = op[1] if op[2] == 0 else op[1] - 3000
            try:
                expected = model.seek(offset, op[2])
            except ValueError:
                with pytest.raises(ValueError):
                    body.seek(offset, op[2])
                continue
            assert body.seek(offset, op[2]) == expected
        else:
            a, b = bytearray(op[1]), bytearray(op[1])
            assert body.readinto(a) == model.readinto(b)
            assert a == b
        assert body.tell() == model.tell()
    with body.getbuffer() as whole:
        assert bytes(whole) == data
    assert body.getvalue() == data


def test_botocore_signs_the_part_body_with_its_sha256() -> None:
    """SigV4 over plain HTTP hashes the payload by reading the body: the hash is the
    part's, and the body is back at its start for sending."""
    data = os.urandom(3 * MiB + 123)
    body = _PartBody(bytearray(data))
    request = AWSRequest(method="PUT", url="http://127.0.0.1:9/b/k", data=body)
    signer = S3SigV4Auth(Credentials("a", "b"), "s3", "us-east-1")
    assert signer.payload(request) == hashlib.sha256(data).hexdigest()
    assert body.tell() == 0


@pytest.mark.anyio
async def test_aiohttp_sends_the_part_body_exactly_without_a_warning() -> None:
    """aiohttp sends the part as a ``BytesIO`` payload: every byte, in order, and without
    the ``ResourceWarning`` it gives a large ``bytes``/``bytearray`` body."""
    from aiohttp import payload

    data = os.urandom(2 * MiB + 17)

    class _Writer:
        def __init__(self) -> None:
            self.sent = bytearray()

        async def write(self, chunk: Any) -> None:
            self.sent += chunk

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        body = payload.get_payload(_PartBody(bytearray(data)))
        assert body.size == len(data)
        writer = _Writer()
        await body.write(writer)  # type: ignore[arg-type]
    assert bytes(writer.sent) == data


# --- on real S3 servers -------------------------------------------------------------------


def _chunks(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        i += 1
        yield data[pos : pos + n]
        pos += n


async def _achunks(data: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    for chunk in _chunks(data, sizes):
        await asyncio.sleep(0)
        yield chunk


def _fail_part(number: int) -> Any:
    def handler(params: dict[str, Any], **kwargs: Any) -> None:
        if params.get("PartNumber") == number:
            raise StorageError(f"part {number} refused (test)")

    return handler


SERVERS = ["moto_server", "nanio_server", pytest.param("ceph_rgw_server", marks=pytest.mark.ceph)]


@pytest.mark.s3
@pytest.mark.parametrize("server_name", SERVERS)
@pytest.mark.parametrize("sizes", [[MiB], [3 * MiB + 1, 7], [11 * MiB]])
def test_sync_store_stores_every_byte_with_one_part_in_flight(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, sizes: list[int]
) -> None:
    """17 MiB through reused parts (4 of 5 MiB): the object read back is the stream,
    whatever the chunking, on servers that check the signature of every part."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    store = S3ObjectStore.from_settings(s3_settings(server.url, fresh_bucket_name))
    data = os.urandom(17 * MiB + 5)
    info = store.put_stream("k", _chunks(data, sizes), content_type="audio/wav")
    assert info.size == len(data)
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data
    assert store.list_multipart_uploads() == []


@pytest.mark.s3
@pytest.mark.anyio
@pytest.mark.parametrize("server_name", SERVERS)
@pytest.mark.parametrize("sizes", [[MiB], [3 * MiB + 1, 7], [11 * MiB]])
async def test_async_store_stores_every_byte_with_one_part_in_flight(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, sizes: list[int]
) -> None:
    """The async twin of the test above (the part in flight is a task)."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    data = os.urandom(17 * MiB + 5)
    async with AsyncS3ObjectStore.from_settings(s3_settings(server.url, fresh_bucket_name)) as st_:
        info = await st_.put_stream("k", _achunks(data, sizes), content_type="audio/wav")
        small = await st_.put_bytes("small", bytearray(b"tiny"), content_type="text/plain")
        assert await st_.list_multipart_uploads() == []
    assert info.size == len(data)
    assert small.size == 4
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data
    assert raw.get_object(Bucket=fresh_bucket_name, Key="small")["Body"].read() == b"tiny"


@pytest.mark.s3
@pytest.mark.parametrize("server_name", ["moto_server", "nanio_server"])
@pytest.mark.parametrize("failing_part", [1, 2, 4])
def test_sync_part_failing_in_flight_aborts_the_upload(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, failing_part: int
) -> None:
    """A part failing in the helper thread (the first, a middle one, the short last one)
    stops the upload with its error; the upload is aborted and no object is left."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    store = S3ObjectStore.from_settings(s3_settings(server.url, fresh_bucket_name))
    store.client.meta.events.register(
        "before-parameter-build.s3.UploadPart", _fail_part(failing_part)
    )
    with pytest.raises(StorageError, match=f"part {failing_part} refused"):
        store.put_stream("k", _chunks(os.urandom(17 * MiB), [MiB]), content_type="audio/wav")
    assert store.list_multipart_uploads() == []
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)


@pytest.mark.s3
@pytest.mark.anyio
@pytest.mark.parametrize("server_name", ["moto_server", "nanio_server"])
@pytest.mark.parametrize("failing_part", [1, 2, 4])
async def test_async_part_failing_in_flight_aborts_the_upload(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str, failing_part: int
) -> None:
    """The async twin of the test above (the failing part is a task)."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    async with AsyncS3ObjectStore.from_settings(s3_settings(server.url, fresh_bucket_name)) as st_:
        client = await st_.client()
        client.meta.events.register(
            "before-parameter-build.s3.UploadPart", _fail_part(failing_part)
        )
        data = os.urandom(17 * MiB)
        with pytest.raises(StorageError, match=f"part {failing_part} refused"):
            await st_.put_stream("k", _achunks(data, [MiB]), content_type="audio/wav")
        assert await st_.list_multipart_uploads() == []
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)


@pytest.mark.s3
@pytest.mark.anyio
async def test_async_cancellation_with_a_part_in_flight_aborts_the_upload(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """A cancelled upload (the client went away) cancels the part in flight, waits for
    it, and aborts the multipart upload: nothing is left."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings_ = s3_settings(nanio_server.url, fresh_bucket_name)
    started = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        block = os.urandom(MiB)
        for i in range(12):
            if i == 6:
                started.set()  # part 1 is in flight
            yield block
        await asyncio.sleep(60)  # the client stalls: the caller cancels

    async with AsyncS3ObjectStore.from_settings(settings_) as st_:
        task = asyncio.ensure_future(st_.put_stream("k", chunks(), content_type="audio/wav"))
        await started.wait()
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await st_.list_multipart_uploads() == []
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)


@pytest.mark.s3
@pytest.mark.parametrize("slots", [0, 1])
def test_uploads_without_an_overlap_slot_send_each_part_before_reading_on(
    nanio_server: ServerHandle, fresh_bucket_name: str, slots: int
) -> None:
    """With no free slot (none configured, or another upload holds it) parts are sent
    in turn, still exactly; the slot is back once the upload ends, failed or not."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    store = S3ObjectStore.from_settings(s3_settings(nanio_server.url, fresh_bucket_name))
    store = S3ObjectStore(
        client=store.client, bucket=fresh_bucket_name, part_size=PART, overlapping_uploads=slots
    )
    taken = store._overlap.take() if slots else False  # another upload holds the slot
    data = os.urandom(12 * MiB)
    assert store.put_stream("k", _chunks(data, [MiB]), content_type="audio/wav").size == len(data)
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data
    if taken:
        store._overlap.give_back()
        store.client.meta.events.register("before-parameter-build.s3.UploadPart", _fail_part(2))
        with pytest.raises(StorageError):
            store.put_stream("k2", _chunks(data, [MiB]), content_type="audio/wav")
        assert store._overlap.take()  # given back after the failure
    assert store.list_multipart_uploads() == []
