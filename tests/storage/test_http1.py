"""The ranged reads' HTTP/1.1 transport (``mediakit.storage._http1``) and the readers on it.

The sans-I/O response reader under hypothesis (any split of a response gives the same
answer; garbage is a clear error), then both readers against real servers on 127.0.0.1:
a small scripted HTTP/1.1 server (it counts the connections it accepts and answers, closes,
cuts or hangs as each test scripts), nanio (checks signatures) and moto over HTTPS.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediakit.errors import ObjectNotFound, StorageError, StorageUnavailable
from mediakit.settings import Settings
from mediakit.storage._http1 import (
    ConnectionClosed,
    Origin,
    ProtocolError,
    ResponseReader,
)
from mediakit.storage._ranged_http import (
    AsyncRangedReader,
    RangedReader,
    presigner_for_reads,
)
from tests.conftest import s3_client
from tests.servers import (
    ACCESS_KEY,
    SECRET_KEY,
    ServerHandle,
    _self_signed_cert,
    need,
    running,
    start_moto,
)

BUCKET = "mk-http1"
MODIFIED = formatdate(1_700_000_000, usegmt=True)
DATA = bytes(range(256)) * 40  # 10 KiB


# --- the sans-I/O reader ---------------------------------------------------------------------

_TOKEN = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda s: (
        s.strip("-") == s
        and s not in {"content-length", "transfer-encoding", "connection", "upgrade"}
    )
)
_VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)


def _encode(
    status: int, headers: dict[str, str], body: bytes, framing: str, chunks: list[int]
) -> bytes:
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if framing == "length":
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    if framing == "close":
        return f"{head}\r\n".encode() + body
    out, at = [f"{head}Transfer-Encoding: chunked\r\n\r\n".encode()], 0
    for size in chunks:
        piece = body[at : at + size]
        if piece:
            out.append(b"%x\r\n%b\r\n" % (len(piece), piece))
        at += size
    if at < len(body):
        out.append(b"%x\r\n%b\r\n" % (len(body) - at, body[at:]))
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300)
@given(
    status=st.sampled_from([200, 206, 301, 403, 404, 416, 500, 503]),
    headers=st.dictionaries(_TOKEN, _VALUE, max_size=6),
    body=st.binary(max_size=3000),
    framing=st.sampled_from(["length", "chunked", "close"]),
    chunks=st.lists(st.integers(1, 700), max_size=8),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
    limit=st.integers(1, 4000),
)
def test_any_split_of_a_response_reads_the_same(
    status: int,
    headers: dict[str, str],
    body: bytes,
    framing: str,
    chunks: list[int],
    cuts: list[int],
    limit: int,
) -> None:
    """Fed in any pieces, a response (Content-Length, chunked, or read to the close)
    gives its status, headers and body; only a Content-Length or chunked one leaves the
    connection reusable."""
    reader = ResponseReader()
    got = []
    for piece in _split(_encode(status, headers, body, framing, chunks), cuts):
        reader.feed(piece)
        got.append(reader.take(limit))
        assert len(got[-1]) <= limit
    if framing == "close":
        assert not reader.done
        reader.eof()
    while reader.buffered:
        got.append(reader.take(limit))
    assert reader.done
    assert reader.status == status
    assert {k: v for k, v in reader.headers.items() if k in headers} == headers
    assert b"".join(got) == body
    assert reader.keep_alive is (framing != "close")


@given(body=st.binary(min_size=1, max_size=500), cut=st.integers(0, 10_000))
def test_a_response_cut_short_is_connection_closed(body: bytes, cut: int) -> None:
    """The server closing before the end of a declared body (or the head) is an error
    naming what came; a second response on the same reader parses after reset()."""
    whole = _encode(206, {"etag": '"x"'}, body, "length", [])
    reader = ResponseReader()
    reader.feed(whole[: cut % len(whole)])
    with pytest.raises(ConnectionClosed, match="closed the connection"):
        reader.eof()
    again = ResponseReader()
    for _ in range(2):
        again.reset()
        again.feed(whole)
        assert (again.done, again.take(10_000), again.keep_alive) == (True, body, True)


@given(st.binary(min_size=1, max_size=200).filter(lambda b: not b.startswith(b"H")))
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    """Bytes that are not an HTTP/1.1 response raise ProtocolError (never anything else),
    or, if they could still become one, ConnectionClosed at the end."""
    reader = ResponseReader()

    def parse() -> None:
        reader.feed(data + b"\r\n\r\n")
        reader.eof()

    with pytest.raises((ProtocolError, ConnectionClosed), match=r"not HTTP/1\.1|closed"):
        parse()


def test_bytes_after_the_response_spoil_the_connection() -> None:
    """A body longer than its Content-Length: the response is the declared bytes, the
    connection is not reused; ``Connection: close`` and HTTP/1.0 are not reused either."""
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef")
    assert (reader.done, reader.take(100), reader.keep_alive) == (True, b"abc", False)
    for head in (b"HTTP/1.1 200 OK\r\nConnection: close", b"HTTP/1.0 200 OK"):
        reader = ResponseReader()
        reader.feed(head + b"\r\nContent-Length: 2\r\n\r\nok")
        assert (reader.done, reader.keep_alive) == (True, False)


# --- a scripted server ------------------------------------------------------------------------

Script = Callable[[int, int, bytes], tuple[bytes, str]]
"""(connection number, request number on it, request head) -> (bytes to send, then):
``then`` is ``keep`` (wait for the next request), ``close``, ``hang`` (never answer),
``drop`` (close without answering) or ``idle-close`` (close a moment later)."""


class Scripted:
    """An HTTP/1.1 server on 127.0.0.1 (or ::1) answering as ``script`` says; it counts the
    connections it accepted and keeps every request head. A connection whose first
    request is not for the test's bucket (a stray client of an earlier test, on a port
    reused since) is answered 404 and not counted."""

    def __init__(self, script: Script, host: str = "127.0.0.1") -> None:
        self.script = script
        self.accepted = 0
        """Connections whose first request was this test's (see ``_serve``)."""
        self.strays = 0
        self._lock = threading.Lock()
        self.requests: list[bytes] = []
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf, served, number = b"", 0, 0
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                if not number:
                    # a client left behind by an earlier test in this process may reach
                    # a port it used; answer it and leave it out of the counts
                    if not head.split(b" ", 2)[1].startswith(f"/{BUCKET}/".encode()):
                        self.strays += 1
                        with contextlib.suppress(OSError):
                            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                        return
                    with self._lock:
                        self.accepted += 1
                        number = self.accepted
                self.requests.append(head)
                served += 1
                answer, then = self.script(number, served, head)
                if then == "drop":
                    return
                if then == "hang":
                    self._stop.wait(30)
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(answer)
                if then == "close":
                    return
                if then == "idle-close":
                    time.sleep(0.05)
                    return

    def close(self) -> None:
        """Stop: close the listener and every connection."""
        self._stop.set()
        self._listener.close()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()


@contextlib.contextmanager
def scripted(script: Script, host: str = "127.0.0.1") -> Iterator[Scripted]:
    """A :class:`Scripted` server for the block."""
    server = Scripted(script, host)
    try:
        yield server
    finally:
        server.close()


def s3_answer(
    body: bytes = DATA[:100],
    *,
    first: int = 0,
    total: int = len(DATA),
    extra: str = "",
    status: int = 206,
) -> bytes:
    """A ranged GET's answer as S3 sends it."""
    return (
        f"HTTP/1.1 {status} Partial Content\r\nContent-Length: {len(body)}\r\n"
        f"Content-Range: bytes {first}-{first + len(body) - 1}/{total}\r\n"
        f'ETag: "abc"\r\nLast-Modified: {MODIFIED}\r\nContent-Type: audio/mpeg\r\n{extra}\r\n'
    ).encode() + body


def _range_of(head: bytes) -> tuple[int, int]:
    line = next(x for x in head.split(b"\r\n") if x.lower().startswith(b"range:"))
    first, last = line.split(b"=")[1].split(b"-")
    return int(first), int(last)


def ranged(then: str = "keep") -> Script:
    """Answer each request's Range from ``DATA``, then ``then``."""

    def script(_conn: int, _req: int, head: bytes) -> tuple[bytes, str]:
        first, last = _range_of(head)
        return s3_answer(DATA[first : last + 1], first=first), then

    return script


def _settings(url: str, **kw: Any) -> Settings:
    return Settings(
        storage_backend="s3",
        s3_endpoint=url,
        assets_bucket=BUCKET,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        **kw,
    )


def sync_reader(url: str, *, attempts: int = 1, read_timeout: float = 5.0) -> RangedReader:
    """A sync reader with one attempt (so only the stale-connection retry can save a GET)."""
    return RangedReader(
        presigner_for_reads(_settings(url), BUCKET),
        connect_timeout=2.0,
        read_timeout=read_timeout,
        attempts=attempts,
    )


def async_reader(url: str, *, attempts: int = 1, read_timeout: float = 5.0) -> AsyncRangedReader:
    """The async twin of :func:`sync_reader`."""
    return AsyncRangedReader(
        presigner_for_reads(_settings(url), BUCKET),
        connect_timeout=2.0,
        read_timeout=read_timeout,
        attempts=attempts,
    )


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine on asyncio's loop or uvloop's (the reference servers use it)."""
    if request.param == "uvloop":
        need(importlib.util.find_spec("uvloop") is not None, "uvloop: pip install uvloop")
        import uvloop

        return uvloop.run  # type: ignore[no-any-return]
    return asyncio.run


def _get_sync(reader: RangedReader, first: int, last: int, chunk_size: int = 65536) -> bytes:
    opened = reader.get("k", f"bytes={first}-{last}", chunk_size=chunk_size)
    try:
        return b"".join(opened.chunks)
    finally:
        opened.chunks.close()


async def _get_async(
    reader: AsyncRangedReader, first: int, last: int, chunk_size: int = 65536
) -> bytes:
    opened = await reader.get("k", f"bytes={first}-{last}", chunk_size=chunk_size)
    try:
        return b"".join([c async for c in opened.chunks])
    finally:
        await opened.chunks.aclose()


# --- connections: reuse, closes, cuts, hangs ----------------------------------------------------


def test_many_gets_share_one_connection_sync() -> None:
    """Seeks and streamed ranges read to the end reuse one keep-alive connection; the
    request carries the signed target as it is, the signed Host and identity encoding."""
    with scripted(ranged()) as server:
        reader = sync_reader(server.url)
        try:
            for i in range(30):
                assert _get_sync(reader, i, i + 99) == DATA[i : i + 100]
                assert _get_sync(reader, i, i + 4999, chunk_size=1000) == DATA[i : i + 5000]
            assert reader.pool.opened == 1
        finally:
            reader.close()
        assert server.accepted == 1
    head = server.requests[0].decode()
    target = head.split(" ")[1]
    signed = reader.signer.sign("k").url
    assert signed.endswith(target)
    assert "X-Amz-Signature=" in target
    assert f"\r\nHost: 127.0.0.1:{server.port}\r\n" in head
    assert "\r\nAccept-Encoding: identity\r\n" in head


def test_many_gets_share_one_connection_async(run: Callable[..., Any]) -> None:
    """The async twin, on asyncio's loop and uvloop's."""

    async def main() -> None:
        reader = async_reader(server.url)
        try:
            for i in range(30):
                assert await _get_async(reader, i, i + 99) == DATA[i : i + 100]
                got = await _get_async(reader, i, i + 4999, chunk_size=1000)
                assert got == DATA[i : i + 5000]
        finally:
            await reader.aclose()

    with scripted(ranged()) as server:
        run(main())
        assert server.accepted == 1


def test_connection_close_answers_are_not_reused(run: Callable[..., Any]) -> None:
    """``Connection: close``: every GET succeeds, each on a connection of its own."""

    def script(_c: int, _r: int, head: bytes) -> tuple[bytes, str]:
        first, last = _range_of(head)
        return s3_answer(DATA[first : last + 1], first=first, extra="Connection: close\r\n"), (
            "close"
        )

    with scripted(script) as server:
        reader = sync_reader(server.url)
        try:
            for i in range(5):
                assert _get_sync(reader, i, i + 9) == DATA[i : i + 10]
        finally:
            reader.close()
        assert server.accepted == 5

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            for i in range(5):
                assert await _get_async(areader, i, i + 9) == DATA[i : i + 10]
        finally:
            await areader.aclose()

    with scripted(script) as server:
        run(main())
        assert server.accepted == 5


@pytest.mark.parametrize("then", ["idle-close", "drop"])
def test_a_keep_alive_connection_the_server_closed_is_replaced(
    then: str, run: Callable[..., Any]
) -> None:
    """The server closes each connection after one answer: while it is idle
    (``idle-close``), or when the next request comes, without a byte of answer (``drop``).
    With one attempt, the next GET still succeeds, on a fresh connection."""

    def script(_c: int, req: int, head: bytes) -> tuple[bytes, str]:
        if req > 1:
            return b"", "drop"
        first, last = _range_of(head)
        return s3_answer(DATA[first : last + 1], first=first), ("keep" if then == "drop" else then)

    with scripted(script) as server:
        reader = sync_reader(server.url)
        try:
            for i in range(4):
                assert _get_sync(reader, i, i + 9) == DATA[i : i + 10]
                time.sleep(0.1)
        finally:
            reader.close()
        assert server.accepted == 4

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            for i in range(4):
                assert await _get_async(areader, i, i + 9) == DATA[i : i + 10]
                await asyncio.sleep(0.1)
        finally:
            await areader.aclose()

    with scripted(script) as server:
        run(main())
        assert server.accepted == 4


def _chunked_404(_c: int, req: int, head: bytes) -> tuple[bytes, str]:
    if req == 1:
        body = b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>"
        pieces = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in (body[:10], body[10:]))
        return (
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/xml\r\n\r\n" + pieces + b"0\r\n\r\n",
            "keep",
        )
    first, last = _range_of(head)
    return s3_answer(DATA[first : last + 1], first=first), "keep"


def test_a_chunked_error_body_is_read_and_the_connection_kept(run: Callable[..., Any]) -> None:
    """A 404 with a chunked XML body is ObjectNotFound; the connection then serves the
    next GET."""
    with scripted(_chunked_404) as server:
        reader = sync_reader(server.url)
        try:
            with pytest.raises(ObjectNotFound):
                _get_sync(reader, 0, 9)
            assert _get_sync(reader, 0, 9) == DATA[:10]
        finally:
            reader.close()
        assert server.accepted == 1

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            with pytest.raises(ObjectNotFound):
                await _get_async(areader, 0, 9)
            assert await _get_async(areader, 0, 9) == DATA[:10]
        finally:
            await areader.aclose()

    with scripted(_chunked_404) as server:
        run(main())
        assert server.accepted == 1


def _cut(_c: int, _r: int, head: bytes) -> tuple[bytes, str]:
    first, last = _range_of(head)
    whole = s3_answer(DATA[first : last + 1], first=first)
    return whole[: len(whole) - (last + 1 - first) // 2], "close"


@pytest.mark.parametrize("chunk_size", [65536, 500])
def test_a_body_cut_short_raises_and_drops_the_connection(
    chunk_size: int, run: Callable[..., Any]
) -> None:
    """The server closes half-way through the body, read whole (a seek) or streamed:
    StorageUnavailable naming the bytes received, never a short body."""
    with scripted(_cut) as server:
        reader = sync_reader(server.url)
        try:
            for _ in range(2):
                with pytest.raises(StorageUnavailable, match=r"sent \d+ of the 2000 bytes"):
                    _get_sync(reader, 0, 1999, chunk_size=chunk_size)
        finally:
            reader.close()
        assert server.accepted == 2

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            for _ in range(2):
                with pytest.raises(StorageUnavailable, match=r"sent \d+ of the 2000 bytes"):
                    await _get_async(areader, 0, 1999, chunk_size=chunk_size)
        finally:
            await areader.aclose()

    with scripted(_cut) as server:
        run(main())
        assert server.accepted == 2


def test_bytes_past_the_declared_body_are_not_served_twice(run: Callable[..., Any]) -> None:
    """An answer followed by stray bytes: the GET gets the declared bytes, the
    connection is dropped and the next GET opens another."""

    def script(_c: int, _r: int, head: bytes) -> tuple[bytes, str]:
        first, last = _range_of(head)
        return s3_answer(DATA[first : last + 1], first=first) + b"junk", "keep"

    with scripted(script) as server:
        reader = sync_reader(server.url)
        try:
            assert _get_sync(reader, 0, 9) == DATA[:10]
            time.sleep(0.1)
            assert _get_sync(reader, 5, 9) == DATA[5:10]
        finally:
            reader.close()
        assert server.accepted == 2

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            assert await _get_async(areader, 0, 9) == DATA[:10]
            await asyncio.sleep(0.1)
            assert await _get_async(areader, 5, 9) == DATA[5:10]
        finally:
            await areader.aclose()

    with scripted(script) as server:
        run(main())
        assert server.accepted == 2


def test_an_answer_without_length_is_read_to_the_close(run: Callable[..., Any]) -> None:
    """A 403 without Content-Length (its body ends with the connection) is the
    credentials error; a 2xx without one is a StorageError, not a guess."""

    def script(_c: int, req: int, _head: bytes) -> tuple[bytes, str]:
        if req == 1:
            body = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
            return b"HTTP/1.1 403 Forbidden\r\n\r\n" + body, "close"
        return b"HTTP/1.1 200 OK\r\n\r\nabc", "close"

    with scripted(script) as server:
        reader = sync_reader(server.url)
        try:
            with pytest.raises(StorageError, match="MEDIA_S3_SECRET_ACCESS_KEY"):
                _get_sync(reader, 0, 9)
        finally:
            reader.close()

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            with pytest.raises(StorageError, match="MEDIA_S3_SECRET_ACCESS_KEY"):
                await _get_async(areader, 0, 9)
        finally:
            await areader.aclose()

    with scripted(script) as server:
        run(main())

    odd = {"n": 0}

    def no_length(_c: int, _r: int, _head: bytes) -> tuple[bytes, str]:
        odd["n"] += 1
        return b'HTTP/1.1 200 OK\r\nETag: "a"\r\n\r\nabc', "close"

    with scripted(no_length) as server:
        reader = sync_reader(server.url)
        try:
            with pytest.raises(StorageError, match="Content-Length"):
                _get_sync(reader, 0, 9)
        finally:
            reader.close()


def test_a_server_that_stops_answering_times_out(run: Callable[..., Any]) -> None:
    """No answer, or a body that stops half-way: StorageUnavailable once the read
    timeout passes without a byte (the test's timeout guards against a hang)."""

    def script(_c: int, req: int, head: bytes) -> tuple[bytes, str]:
        if req == 1:
            return b"", "hang"
        return b"", "hang"

    def half(_c: int, _r: int, head: bytes) -> tuple[bytes, str]:
        first, last = _range_of(head)
        whole = s3_answer(DATA[first : last + 1], first=first)
        return whole[:-1000], "hang"  # the rest never comes, the connection stays open

    for server_script in (script, half):
        with scripted(server_script) as server:
            reader = sync_reader(server.url, read_timeout=0.3)
            try:
                with pytest.raises(StorageUnavailable, match="read timeout"):
                    _get_sync(reader, 0, 4999, chunk_size=1000)
            finally:
                reader.close()

            async def main() -> None:
                areader = async_reader(server.url, read_timeout=0.3)
                try:
                    with pytest.raises(StorageUnavailable, match="read timeout"):
                        await _get_async(areader, 0, 4999, chunk_size=1000)
                finally:
                    await areader.aclose()

            run(main())


def test_closing_a_half_read_stream_drops_its_connection(run: Callable[..., Any]) -> None:
    """A streamed range closed after its first chunk: its connection is closed, never
    pooled (its unread bytes would become the next answer's); the next GET opens one."""
    with scripted(ranged()) as server:
        reader = sync_reader(server.url)
        try:
            opened = reader.get("k", "bytes=0-9999", chunk_size=1000)
            assert next(opened.chunks) == DATA[:1000]
            opened.chunks.close()
            assert _get_sync(reader, 0, 9) == DATA[:10]
        finally:
            reader.close()
        assert server.accepted == 2

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            opened = await areader.get("k", "bytes=0-9999", chunk_size=1000)
            assert await anext(opened.chunks) == DATA[:1000]
            await opened.chunks.aclose()
            assert await _get_async(areader, 0, 9) == DATA[:10]
        finally:
            await areader.aclose()

    with scripted(ranged()) as server:
        run(main())
        assert server.accepted == 2


def test_a_lagging_consumer_pauses_the_read(run: Callable[..., Any]) -> None:
    """Streaming 8 MiB to a consumer that does not read: the connection buffers about a
    chunk (plus one receive), not the range."""
    big = b"\x5a" * (8 * 1024 * 1024)

    def script(_c: int, _r: int, head: bytes) -> tuple[bytes, str]:
        first, last = _range_of(head)
        return s3_answer(big[first : last + 1], first=first, total=len(big)), "keep"

    async def main() -> None:
        areader = async_reader(server.url)
        try:
            opened = await areader.get("k", f"bytes=0-{len(big) - 1}", chunk_size=65536)
            try:
                got = len(await anext(opened.chunks))
                assert got <= 65536
                await asyncio.sleep(0.5)  # the server keeps sending; the reader stops taking
                conn = opened.chunks._conn  # type: ignore[attr-defined]
                assert conn.reader.buffered <= 65536 + 256 * 1024
                async for chunk in opened.chunks:
                    assert len(chunk) <= 65536
                    got += len(chunk)
                assert got == len(big)
            finally:
                await opened.chunks.aclose()
        finally:
            await areader.aclose()

    with scripted(script) as server:
        run(main())


def test_ipv6_literal_endpoints_connect_and_sign_their_host(run: Callable[..., Any]) -> None:
    """``http://[::1]:port``: the connection goes to ::1, the Host header is the
    bracketed literal the URL was signed for."""
    origin, target = Origin.split("http://[::1]:8080/b/k?X-Amz-Signature=ab%2F", {})
    assert (origin.connect_host, origin.port, origin.host_header) == ("::1", 8080, "[::1]:8080")
    assert target == "/b/k?X-Amz-Signature=ab%2F"
    need(socket.has_ipv6, "IPv6: this Python has no IPv6 support")
    try:
        server = Scripted(ranged(), host="::1")
    except OSError:
        need(False, "IPv6 loopback ::1 is not configured (sysctl net.ipv6.conf.lo.disable_ipv6=0)")
        raise
    try:
        reader = sync_reader(server.url)
        try:
            assert _get_sync(reader, 3, 12) == DATA[3:13]
        finally:
            reader.close()

        async def main() -> None:
            areader = async_reader(server.url)
            try:
                assert await _get_async(areader, 3, 12) == DATA[3:13]
            finally:
                await areader.aclose()

        run(main())
    finally:
        server.close()
    assert all(f"\r\nHost: [::1]:{server.port}\r\n".encode() in r for r in server.requests)


# --- real S3 servers ---------------------------------------------------------------------------


@pytest.mark.s3
def test_seeks_on_nanio_reuse_one_signed_connection(nanio_server: ServerHandle) -> None:
    """nanio checks each presigned GET's signature: 50 seeks, sync and async, each on
    one connection."""
    bucket = f"mk-http1-{uuid.uuid4().hex[:8]}"
    client: Any = s3_client(nanio_server.url)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=DATA)
    settings_ = Settings(
        storage_backend="s3",
        s3_endpoint=nanio_server.url,
        assets_bucket=bucket,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )
    reader = RangedReader.from_settings(settings_, bucket)
    try:
        for i in range(50):
            assert _get_sync(reader, i * 7, i * 7 + 999) == DATA[i * 7 : i * 7 + 1000]
        assert reader.pool.opened == 1
    finally:
        reader.close()

    async def main() -> None:
        areader = AsyncRangedReader.from_settings(settings_, bucket)
        try:
            for i in range(50):
                got = await _get_async(areader, i * 7, i * 7 + 999)
                assert got == DATA[i * 7 : i * 7 + 1000]
            assert areader.pool is not None
            assert areader.pool.opened == 1
        finally:
            await areader.aclose()

    asyncio.run(main())


@pytest.mark.s3
def test_reads_over_https_verify_the_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """moto over HTTPS with a self-signed certificate: trusted through AWS_CA_BUNDLE,
    both readers read (seeks and streamed ranges); with another CA bundle the handshake
    fails (StorageUnavailable)."""
    with running(lambda: start_moto(tls=True)) as moto:
        bucket = f"mk-http1-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("AWS_CA_BUNDLE", moto.extra["ca_file"])
        client: Any = s3_client(moto.url)
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="k", Body=DATA)
        settings_ = Settings(
            storage_backend="s3",
            s3_endpoint=moto.url,
            assets_bucket=bucket,
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SECRET_KEY,
            s3_max_attempts=1,
        )
        reader = RangedReader.from_settings(settings_, bucket)
        try:
            for _ in range(3):
                assert _get_sync(reader, 10, 5009, chunk_size=1000) == DATA[10:5010]
            assert reader.pool.opened == 3  # moto answers "Connection: close"
        finally:
            reader.close()

        async def main() -> None:
            areader = AsyncRangedReader.from_settings(settings_, bucket)
            try:
                for _ in range(3):
                    assert await _get_async(areader, 10, 5009) == DATA[10:5010]
                assert areader.pool is not None
                assert areader.pool.opened == 3
            finally:
                await areader.aclose()

        asyncio.run(main())
        other, _ = _self_signed_cert(tmp_path)  # not the server certificate's issuer
        monkeypatch.setenv("AWS_CA_BUNDLE", str(other))
        untrusted = RangedReader.from_settings(settings_, bucket)
        try:
            with pytest.raises(StorageUnavailable):
                _get_sync(untrusted, 0, 9)
        finally:
            untrusted.close()
        gc.collect()
