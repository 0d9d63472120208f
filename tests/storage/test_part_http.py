"""The async store's ``UploadPart`` transport (``mediakit.storage._part_http``).

Against real S3 servers (nanio checks every signature, moto over HTTPS, Ceph RGW checks
each part's payload hash): parts signed by botocore go out on mediakit's connections,
arrive whole and keep their connection alive. Against a small scripted HTTP/1.1 server
(it reads each request's body at the pace a test sets, then answers, closes or hangs):
an early refusal is read and reported as the object store's error, a kept-alive
connection the server closed is replaced, a stalled server is a timeout, a refused
connection is an endpoint error, a cancelled send stops between slices, and the event
loop keeps running while a part goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from mediakit.errors import ObjectNotFound, StorageError
from mediakit.settings import Settings
from mediakit.storage import AsyncS3ObjectStore, S3ObjectStore
from mediakit.storage._part_http import PartTransport, _PartBody
from tests.conftest import s3_client
from tests.servers import ServerHandle, running, start_moto
from tests.storage.conftest import s3_settings

MiB = 1024 * 1024
PART = 5 * MiB
SERVERS = ["moto_server", "nanio_server", pytest.param("ceph_rgw_server", marks=pytest.mark.ceph)]


async def _achunks(data: bytes, size: int = MiB) -> AsyncIterator[bytes]:
    for pos in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[pos : pos + size]


# --- real S3 servers ----------------------------------------------------------------------


@pytest.mark.s3
@pytest.mark.anyio
@pytest.mark.parametrize("server_name", SERVERS)
async def test_parts_go_out_on_the_transport_and_arrive_whole(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str
) -> None:
    """Every part of a multipart upload goes through the transport (none through
    aiohttp), the server accepts each signature (and, on Ceph RGW, each payload hash),
    and the object reads back byte for byte; nothing is left in progress."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    data = os.urandom(3 * PART + 11)
    async with AsyncS3ObjectStore.from_settings(
        s3_settings(server.url, fresh_bucket_name, upload_parts_in_flight=2)
    ) as store:
        transport = store.part_transport
        assert transport is not None
        info = await store.put_stream("k", _achunks(data), content_type="audio/wav")
        assert transport.parts_sent == 4
        assert await store.list_multipart_uploads() == []
        # two parts in flight at most: connections are kept alive and reused, except by
        # moto, which answers every request with "Connection: close"
        opened = transport.pool.opened
        assert opened == 4 if server_name == "moto_server" else opened <= 2
    assert info.size == len(data)
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data


@pytest.mark.s3
@pytest.mark.parametrize("server_name", SERVERS)
def test_the_sync_store_sends_its_parts_on_the_transport_too(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str
) -> None:
    """The boto3 store: each part hashed in the thread that sends it (the signature
    checked by the server, the payload hash too on Ceph RGW), written by the transport
    straight from the caller's chunks; the object reads back whole."""
    server: ServerHandle = request.getfixturevalue(server_name)
    raw: Any = s3_client(server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    data = os.urandom(3 * PART + 11)
    store = S3ObjectStore.from_settings(s3_settings(server.url, fresh_bucket_name))
    try:
        transport = store.part_transport
        assert transport is not None
        info = store.put_stream(
            "k", (data[i : i + MiB] for i in range(0, len(data), MiB)), content_type="audio/wav"
        )
        assert transport.parts_sent == 4
        assert store.list_multipart_uploads() == []
    finally:
        store.close()
    assert info.size == len(data)
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data


@pytest.mark.s3
def test_a_part_the_sync_store_sends_refused_is_the_object_stores_error(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """The sync twin of the refused-part test below: the S3 error, the upload aborted."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)

    def spoil(request: Any, **kwargs: Any) -> None:
        request.headers["X-Amz-Date"] = "20000101T000000Z"  # signed, now changed

    store = S3ObjectStore.from_settings(s3_settings(nanio_server.url, fresh_bucket_name))
    store.client.meta.events.register_first("before-send.s3.UploadPart", spoil)
    data = os.urandom(2 * PART + 1)
    with pytest.raises(StorageError) as caught:
        store.put_stream("k", iter([data]), content_type="audio/wav")
    assert type(caught.value) is StorageError
    assert store.list_multipart_uploads() == []
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)


@pytest.mark.s3
@pytest.mark.anyio
async def test_the_setting_turns_the_transport_off(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """``MEDIA_S3_FAST_UPLOADS=false``: no transport, parts go through aiobotocore."""
    assert Settings.from_env({"MEDIA_S3_FAST_UPLOADS": "false"}).s3_fast_uploads is False
    assert Settings.from_env({}).s3_fast_uploads is True
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    data = os.urandom(2 * PART + 1)
    settings = s3_settings(nanio_server.url, fresh_bucket_name, s3_fast_uploads=False)
    async with AsyncS3ObjectStore.from_settings(settings) as store:
        assert store.part_transport is None
        await store.put_stream("k", _achunks(data), content_type="audio/wav")
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data
    sync_store = S3ObjectStore.from_settings(settings)
    assert sync_store.part_transport is None
    sync_store.put_stream("s", iter([data]), content_type="audio/wav")
    assert raw.get_object(Bucket=fresh_bucket_name, Key="s")["Body"].read() == data


@pytest.mark.s3
@pytest.mark.anyio
async def test_parts_go_out_over_https_trusting_the_ca_bundle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto over HTTPS with a self-signed certificate trusted through AWS_CA_BUNDLE (as
    botocore trusts it): the parts go out over TLS on the transport."""
    with running(lambda: start_moto(tls=True)) as moto:
        monkeypatch.setenv("AWS_CA_BUNDLE", moto.extra["ca_file"])
        bucket = f"mk-parts-{uuid.uuid4().hex[:8]}"
        raw: Any = s3_client(moto.url)
        raw.create_bucket(Bucket=bucket)
        data = os.urandom(2 * PART + 7)
        async with AsyncS3ObjectStore.from_settings(s3_settings(moto.url, bucket)) as store:
            await store.put_stream("k", _achunks(data), content_type="audio/wav")
            assert store.part_transport is not None
            assert store.part_transport.parts_sent == 3
        assert raw.get_object(Bucket=bucket, Key="k")["Body"].read() == data


# --- a scripted server --------------------------------------------------------------------

Script = Callable[[int, int, bytes, socket.socket], str]
"""(connection number, request number on it, head, socket) -> what to do next: ``read``
(read the body, then answer 200 and keep the connection), or anything the script did
itself (``close``: it answered and the connection closes)."""


class PartServer:
    """An HTTP/1.1 server on 127.0.0.1 for ``PUT`` requests with a ``Content-Length``."""

    def __init__(self, script: Script, *, read_pace: float = 0.0) -> None:
        self.script, self.read_pace = script, read_pace
        self.accepted = 0
        self._lock = threading.Lock()
        self.bodies: list[int] = []
        self.heads: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf, served, number = b"", 0, 0
        with conn, contextlib.suppress(OSError):
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                if not number:
                    # a client left behind by an earlier test in this process may reach
                    # a port it used: answered, not counted
                    if not head.split(b" ", 2)[1].startswith(b"/b/"):
                        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                        return
                    with self._lock:
                        self.accepted += 1
                        number = self.accepted
                self.heads.append(head)
                served += 1
                then = self.script(number, served, head, conn)
                if then != "read":
                    return
                length = int(_header(head, b"content-length"))
                got = len(buf)
                while got < length:
                    data = conn.recv(min(65536, length - got))
                    if not data:
                        return
                    got += len(data)
                    if self.read_pace:
                        time.sleep(self.read_pace)
                buf = buf[length:] if len(buf) > length else b""
                self.bodies.append(length)
                conn.sendall(b'HTTP/1.1 200 OK\r\nETag: "e"\r\nContent-Length: 0\r\n\r\n')

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()


def _header(head: bytes, name: bytes) -> bytes:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} header in {head!r}")


@contextlib.contextmanager
def part_server(script: Script, *, read_pace: float = 0.0) -> Iterator[PartServer]:
    server = PartServer(script, read_pace=read_pace)
    try:
        yield server
    finally:
        server.close()


def _read(_c: int, _r: int, _head: bytes, _conn: socket.socket) -> str:
    return "read"


def _transport(read_timeout: float = 5.0) -> PartTransport:
    return PartTransport(connect_timeout=2.0, read_timeout=read_timeout, pool_size=2)


_HEADERS = {
    "Content-Length": str(2 * MiB),
    "X-Amz-Date": "20261206T000000Z",
    "Expect": "100-continue",
}


def test_a_part_is_written_with_its_signed_headers_and_the_host_as_signed() -> None:
    """The request line, the ``Host`` (no default port), every signed header but the
    hop-by-hop ones; the body whole; the answer's status and headers."""
    body = memoryview(os.urandom(2 * MiB))
    with part_server(_read) as server:
        transport = _transport()
        try:
            status, headers, content = transport.exchange(
                "PUT", f"{server.url}/b/k?partNumber=1&uploadId=u", _HEADERS, body
            )
            # a second part on the same connection
            transport.exchange("PUT", f"{server.url}/b/k?partNumber=2&uploadId=u", _HEADERS, body)
        finally:
            transport.close()
    assert (status, headers["etag"], content) == (200, '"e"', b"")
    head = server.heads[0]
    assert head.startswith(b"PUT /b/k?partNumber=1&uploadId=u HTTP/1.1\r\n")
    assert _header(head, b"host") == server.url.removeprefix("http://").encode()
    assert _header(head, b"x-amz-date") == b"20261206T000000Z"
    assert b"expect" not in head.lower()  # no 100-continue round trip
    assert server.bodies == [2 * MiB, 2 * MiB]
    assert server.accepted == 1
    assert transport.parts_sent == 2


def test_a_header_with_a_line_break_is_refused() -> None:
    with part_server(_read) as server:
        transport = _transport()
        with pytest.raises(ValueError, match="line break"):
            transport.exchange(
                "PUT", f"{server.url}/b/k", {"X-Bad": "a\r\nInjected: 1"}, memoryview(b"x")
            )
        assert server.heads == []


def test_an_early_refusal_is_read_not_lost() -> None:
    """S3 may answer (and close) before taking the whole body, e.g. a bad signature: the
    send fails, the answer is read and returned for botocore to parse."""
    error = b"<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>"

    def refuse(_c: int, _r: int, _head: bytes, conn: socket.socket) -> str:
        conn.sendall(
            b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(error), error)
        )
        return "close"

    with part_server(refuse) as server:
        transport = _transport()
        status, _, content = transport.exchange(
            "PUT", f"{server.url}/b/k", {"Content-Length": str(8 * MiB)}, memoryview(bytes(8 * MiB))
        )
        assert (status, content) == (403, error)
        assert transport.pool._idle == {}  # the connection is not kept


def test_a_kept_alive_connection_the_server_closed_is_replaced() -> None:
    """The server closes a connection after each answer (an idle timeout): the next
    part finds it closed and goes out on a new one, not as an error."""

    def one_per_connection(_c: int, request: int, head: bytes, conn: socket.socket) -> str:
        return "read" if request == 1 else "close"

    body = memoryview(os.urandom(MiB))
    with part_server(one_per_connection) as server:
        transport = _transport()
        for number in (1, 2, 3):
            status, _, _ = transport.exchange(
                "PUT", f"{server.url}/b/k?partNumber={number}", {"Content-Length": str(MiB)}, body
            )
            assert status == 200
        assert server.bodies == [MiB] * 3
        assert server.accepted >= 3


def test_a_server_that_stops_reading_is_a_read_timeout() -> None:
    """Takes the head, then neither reads nor answers: botocore's ``ReadTimeoutError``
    (retried by botocore, then ``StorageUnavailable``) within about the read timeout."""

    def hang(_c: int, _r: int, _head: bytes, _conn: socket.socket) -> str:
        server.stop.wait(30)
        return "close"

    with part_server(hang) as server:
        transport = _transport(read_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            transport.exchange(
                "PUT",
                f"{server.url}/b/k",
                {"Content-Length": str(64 * MiB)},
                memoryview(bytes(64 * MiB)),
            )
        assert time.monotonic() - started < 10


def test_a_refused_connection_is_an_endpoint_error() -> None:
    port = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{port.getsockname()[1]}/b/k"
    port.close()
    with pytest.raises(EndpointConnectionError):
        _transport().exchange("PUT", url, {}, memoryview(b"x"))


def test_an_answer_cut_short_is_a_closed_connection() -> None:
    def cut(_c: int, _r: int, _head: bytes, conn: socket.socket) -> str:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        return "close"

    with part_server(cut) as server, pytest.raises(ConnectionClosedError):
        _transport().exchange("PUT", f"{server.url}/b/k", {"Content-Length": "1"}, memoryview(b"x"))


def _put(transport: PartTransport, url: str, size: int) -> Any:
    """The transport's aiobotocore handler on a request the way botocore prepares it."""
    from botocore.awsrequest import AWSRequest

    request = AWSRequest("PUT", url, headers={"Content-Length": str(size)}).prepare()
    request.body = _PartBody(bytearray(size))
    return transport.before_send_async(request)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_event_loop_runs_while_a_part_goes_out(anyio_backend: str) -> None:
    """A slowly read part takes a while; the loop keeps ticking meanwhile (the bytes go
    out from a worker thread), and the handler hands botocore the answer."""
    with part_server(_read, read_pace=0.002) as server:
        transport = _transport()
        ticks = 0
        done = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        beat = asyncio.ensure_future(heartbeat())
        started = time.monotonic()
        response = await _put(transport, f"{server.url}/b/k", 4 * MiB)
        elapsed = time.monotonic() - started
        done.set()
        await beat
        assert response.status_code == 200
        assert await response.content == b""
        assert response.headers["ETag"] == '"e"'
        assert ticks >= elapsed / 0.005 / 4  # the loop was never held for long


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_cancelled_send_stops_between_slices(anyio_backend: str) -> None:
    """Cancelling the upload while a part is being written stops the write at the next
    slice and closes the connection: no waiting for the whole part to go out."""
    with part_server(_read, read_pace=0.004) as server:  # ~16 MiB/s: 32 MiB take ~2 s
        transport = _transport()
        task = asyncio.ensure_future(_put(transport, f"{server.url}/b/k", 32 * MiB))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 1.5
        assert server.bodies == []  # the part never went out whole
        assert transport.pool._idle == {}


def test_a_body_of_another_type_is_left_to_aiobotocore() -> None:
    """Only the store's own part bodies are taken; anything else (an ``aws-chunked``
    body with a trailing checksum, a caller's own body) goes through aiobotocore."""
    from botocore.awsrequest import AWSRequest

    request = AWSRequest("PUT", "http://127.0.0.1:1/b/k", data=b"abc").prepare()
    assert asyncio.run(_transport().before_send_async(request)) is None


@pytest.mark.s3
@pytest.mark.anyio
async def test_a_refused_part_is_the_object_stores_error_and_the_upload_aborted(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """A part refused by the server (its signature broken after signing) surfaces as
    the S3 error (a ``StorageError``, not a connection problem) and the upload is
    aborted: nothing is left."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)

    def spoil(request: Any, **kwargs: Any) -> None:
        request.headers["X-Amz-Date"] = "20000101T000000Z"  # signed, now changed

    async with AsyncS3ObjectStore.from_settings(
        s3_settings(nanio_server.url, fresh_bucket_name)
    ) as store:
        client = await store.client()
        client.meta.events.register_first("before-send.s3.UploadPart", spoil)
        with pytest.raises(StorageError) as caught:
            await store.put_stream(
                "k", _achunks(os.urandom(2 * PART + 1)), content_type="audio/wav"
            )
        assert type(caught.value) is StorageError
        assert await store.list_multipart_uploads() == []
    assert "Contents" not in raw.list_objects_v2(Bucket=fresh_bucket_name)


def test_an_endpoint_behind_a_proxy_is_left_to_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """mediakit's own connections do not speak to proxies: when the environment routes
    the endpoint through one (as botocore reads it), neither store sets up its fast
    reads or part transport, so every request goes through botocore and the proxy."""
    settings = s3_settings("http://127.0.0.1:9", "mk-proxy")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    direct = AsyncS3ObjectStore.from_settings(settings)
    assert direct.reader is not None
    assert direct.part_transport is not None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    behind = AsyncS3ObjectStore.from_settings(settings)
    assert behind.reader is None
    assert behind.part_transport is None
    assert S3ObjectStore.from_settings(settings).reader is None
    assert S3ObjectStore.from_settings(settings).part_transport is None
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert AsyncS3ObjectStore.from_settings(settings).part_transport is not None
    assert S3ObjectStore.from_settings(settings).reader is not None


@pytest.mark.s3
@pytest.mark.anyio
async def test_parts_are_the_callers_chunks_not_copies(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """With the transport, a whole part is written from the very chunks the caller
    yielded (views of them, no copy in between); only the last, short part is joined."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    chunks = [os.urandom(MiB - 7) for _ in range(11)]  # parts cut across chunks
    yielded = {id(c) for c in chunks}
    written: list[tuple[int, list[int]]] = []

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            await asyncio.sleep(0)
            yield chunk

    async with AsyncS3ObjectStore.from_settings(
        s3_settings(nanio_server.url, fresh_bucket_name)
    ) as store:
        transport = store.part_transport
        assert transport is not None
        real = transport.exchange

        def exchange(method: str, url: str, headers: Any, body: Any, *rest: Any) -> Any:
            written.append((sum(len(p) for p in body), [id(p.obj) for p in body]))
            return real(method, url, headers, body, *rest)

        transport.exchange = exchange  # type: ignore[method-assign]
        await store.put_stream("k", stream(), content_type="audio/wav")
    assert sorted(size for size, _ in written) == [len(b"".join(chunks)) - 2 * PART, PART, PART]
    for size, ids in written:  # the whole parts (sent in any order with the last one)
        if size == PART:
            assert set(ids) <= yielded
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == b"".join(chunks)


# --- a lost answer to CompleteMultipartUpload -----------------------------------------------


@pytest.mark.s3
def test_a_completed_upload_whose_answer_was_lost_is_done(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """S3 completed the upload but its answer was lost (a read timeout while it
    assembled the object); botocore's retry finds no such upload. The object under the
    key, of exactly the size sent, shows the upload is done: no error, nothing lost."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    store = S3ObjectStore.from_settings(s3_settings(nanio_server.url, fresh_bucket_name))
    real = store.client.complete_multipart_upload

    def answer_lost(**kwargs: Any) -> Any:
        real(**kwargs)  # completed...
        return real(**kwargs)  # ...and the retry: NoSuchUpload

    store.client.complete_multipart_upload = answer_lost  # type: ignore[method-assign]
    data = os.urandom(2 * PART + 3)
    info = store.put_stream("k", iter([data]), content_type="audio/wav")
    assert info.size == len(data)
    head = raw.head_object(Bucket=fresh_bucket_name, Key="k")
    assert info.etag == head["ETag"]
    assert raw.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == data


@pytest.mark.s3
@pytest.mark.anyio
async def test_an_upload_gone_before_completion_is_still_an_error(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """The upload was aborted behind the store's back (no object under the key): the
    completion's "no such upload" stands, on both stores; a lost answer is recognised
    on the async store too."""
    raw: Any = s3_client(nanio_server.url)
    raw.create_bucket(Bucket=fresh_bucket_name)
    settings = s3_settings(nanio_server.url, fresh_bucket_name)
    data = os.urandom(2 * PART + 3)
    async with AsyncS3ObjectStore.from_settings(settings) as store:
        client = await store.client()
        real = client.complete_multipart_upload

        async def answer_lost(**kwargs: Any) -> Any:
            await real(**kwargs)
            return await real(**kwargs)

        client.complete_multipart_upload = answer_lost
        info = await store.put_stream("done", _achunks(data), content_type="audio/wav")
        assert info.size == len(data)

        async def aborted(**kwargs: Any) -> Any:
            raw.abort_multipart_upload(
                Bucket=kwargs["Bucket"], Key=kwargs["Key"], UploadId=kwargs["UploadId"]
            )
            return await real(**kwargs)

        client.complete_multipart_upload = aborted
        with pytest.raises(ObjectNotFound, match="multipart upload"):
            await store.put_stream("gone", _achunks(data), content_type="audio/wav")
    sync_store = S3ObjectStore.from_settings(settings)
    sync_real = sync_store.client.complete_multipart_upload

    def sync_aborted(**kwargs: Any) -> Any:
        raw.abort_multipart_upload(
            Bucket=kwargs["Bucket"], Key=kwargs["Key"], UploadId=kwargs["UploadId"]
        )
        return sync_real(**kwargs)

    sync_store.client.complete_multipart_upload = sync_aborted  # type: ignore[method-assign]
    with pytest.raises(ObjectNotFound, match="multipart upload"):
        sync_store.put_stream("gone-too", iter([data]), content_type="audio/wav")
    keys = [o["Key"] for o in raw.list_objects_v2(Bucket=fresh_bucket_name).get("Contents", [])]
    assert keys == ["done"]
