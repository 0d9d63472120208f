"""A lean HTTP/1.1 GET transport for the ranged reads (:mod:`._ranged_http`).

Why hand-written: the ranged read is the Range proxy's hot path, and bounded, ranged,
seekable delivery is mediakit's core competence. Measured on one keep-alive connection,
a 64 KiB presigned GET costs about 400 us of CPU through aiohttp's ``ClientSession`` and
535-573 us through urllib3's pool, against about 160 us for a plain protocol that writes
the request and reads the answer; that difference is 12-20 % of a whole seek through a
reference server. These GETs need none of what those clients carry (cookies, redirects,
proxies, decompression, multipart, middlewares, per-request timeout objects): one
request line and three headers out, one response in.

What is not hand-written: the response is parsed by ``httptools`` (llhttp, the parser
under uvicorn), so status line, headers, ``Content-Length``, ``Transfer-Encoding:
chunked`` and keep-alive rules are llhttp's.

Layers:

* :class:`ResponseReader`: sans-I/O, bytes in, one response's status, headers and body
  pieces out (no socket, no event loop);
* :class:`SyncConnection` over a plain ``socket`` (``ssl`` for https) and
  :class:`AsyncConnection`, an ``asyncio.Protocol`` on the running loop;
* :class:`SyncPool` and :class:`AsyncPool`: a few idle keep-alive connections per origin
  (LIFO, at most ``size``; an idle connection the server closed is dropped when taken).

Every transport failure raises a :class:`TransportError` (``ReadTimeout`` also is a
``TimeoutError``); :func:`mediakit.storage._errors.translate_errors` maps them to
:class:`~mediakit.errors.StorageUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from typing import cast

import httptools

__all__ = [
    "AsyncConnection",
    "AsyncPool",
    "ConnectionClosed",
    "Origin",
    "ProtocolError",
    "ReadTimeout",
    "ResponseReader",
    "SyncConnection",
    "SyncPool",
    "TransportError",
    "get_request",
]

_RECV = 256 * 1024
"""Bytes asked of one ``recv`` (asyncio's selector loop reads as much)."""


class TransportError(Exception):
    """The connection failed, closed early, timed out, or the answer was not HTTP/1.1."""


class ConnectionClosed(TransportError):
    """The server closed the connection before the response was complete (``received``
    body bytes of ``expected`` when it closed mid-body with a ``Content-Length``)."""

    def __init__(self, message: str, received: int | None = None, expected: int | None = None):
        super().__init__(message)
        self.received, self.expected = received, expected


class ProtocolError(TransportError):
    """The server's bytes are not an HTTP/1.1 response."""


class ReadTimeout(TransportError, TimeoutError):
    """No byte came within the read timeout."""


class ResponseReader:
    """One connection's responses, parsed from the bytes received (sans-I/O).

    :meth:`feed` the bytes as they come and :meth:`eof` when the peer closed; read
    :attr:`status` and :attr:`headers` once :attr:`head_done`, :meth:`take` the body as
    it accumulates, and :meth:`reset` before the next request on the connection. Errors:
    :class:`ProtocolError` for bytes that are not a response, :class:`ConnectionClosed`
    for an end before the response is complete. A response without ``Content-Length``
    or chunked encoding is read to the close (and its connection is not reused);
    bytes after the end of a response make the connection not reusable.
    """

    __slots__ = (
        "_parser",
        "body",
        "buffered",
        "chunked",
        "done",
        "extra",
        "fed",
        "head_done",
        "headers",
        "length",
        "received",
        "reusable",
        "status",
        "to_close",
    )

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.extra = False
        self.reset()

    def reset(self) -> None:
        """Forget the last response (its body must have been taken)."""
        self.status = 0
        self.headers: dict[str, str] = {}
        """By lower-case name (a repeated header's values joined by ``", "``)."""
        self.head_done = self.done = self.chunked = self.to_close = self.reusable = False
        self.length: int | None = None
        self.body: list[bytes] = []
        self.buffered = 0
        self.received = 0
        self.fed = 0

    def feed(self, data: bytes | memoryview) -> None:
        """Parse ``data``, the next bytes from the server."""
        if self.done:
            if data:  # a body longer than declared, or a response never asked for
                self.extra = True
            return
        self.fed += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.done:  # what followed the response: the connection is spoilt, not it
                self.extra = True
                return
            raise ProtocolError(f"the object store's answer is not HTTP/1.1: {exc}") from exc

    def eof(self) -> None:
        """The server closed the connection: the end of a body read to the close, or an
        error (:class:`ConnectionClosed`) if the response was not complete."""
        self.extra = True  # nothing more can come on this connection
        if self.done:
            return
        if self.head_done and self.to_close:
            self.done = True
            return
        if not self.head_done:
            raise ConnectionClosed("the object store closed the connection before answering")
        raise ConnectionClosed(
            f"the object store closed the connection after {self.received} body bytes"
            + (f" of {self.length}" if self.length is not None else ""),
            self.received,
            self.length,
        )

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry the next request (after :attr:`done`)."""
        return self.done and self.reusable and not self.extra

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of the body received so far (``b""`` if none)."""
        body = self.body
        if not body:
            return b""
        first = body[0]
        if len(body) == 1 and len(first) <= limit:
            body.clear()
            piece = first
        else:
            pieces, size = [], 0
            while body and size + len(body[0]) <= limit:
                size += len(body[0])
                pieces.append(body.pop(0))
            if body and size < limit:
                cut = limit - size
                head = body[0]
                pieces.append(head[:cut])
                body[0] = head[cut:]
            piece = b"".join(pieces)
        self.buffered -= len(piece)
        return piece

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        """llhttp: a response starts."""
        if self.done or self.head_done:
            self.extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        """llhttp: one header line."""
        if self.done:
            return
        key = name.decode("latin-1").lower()
        headers = self.headers
        if key in headers:
            headers[key] = f"{headers[key]}, {value.decode('latin-1')}"
        else:
            headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        """llhttp: the head is complete."""
        if self.done:
            return
        self.status = self._parser.get_status_code()
        length = self.headers.get("content-length")
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        if length is not None and not self.chunked:
            self.length = int(length)  # llhttp checked it: digits only
        elif not self.chunked and self.status not in (204, 304) and self.status >= 200:
            self.to_close = True
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        """llhttp: body bytes (de-chunked)."""
        if self.done:
            return
        self.body.append(body)
        self.buffered += len(body)
        self.received += len(body)

    def on_message_complete(self) -> None:
        """llhttp: the response is complete."""
        if self.done:
            self.extra = True
            return
        self.done = True
        # llhttp's answer is only valid now (it forgets once the next message begins)
        self.reusable = not self.to_close and self._parser.should_keep_alive()


def get_request(target: str, host: str, range_value: str | None) -> bytes:
    """The bytes of ``GET target`` (the path and query exactly as signed) to ``host``."""
    if range_value is None:
        return (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n"
        ).encode("latin-1")
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"
        f"Range: {range_value}\r\n\r\n"
    ).encode("latin-1")


class Origin:
    """Where a URL's requests go: scheme, host to connect to, port, ``Host`` header."""

    __slots__ = ("connect_host", "host_header", "key", "port", "tls")

    def __init__(self, scheme: str, netloc: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(f"{scheme}://{netloc}/")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {scheme}://{netloc}")
        self.tls = parts.scheme == "https"
        self.connect_host = parts.hostname  # IPv6 literal without brackets
        default = 443 if self.tls else 80
        self.port = parts.port or default
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        # the host as SigV4 signed it (mediakit.presign): no default port
        self.host_header = host if self.port == default else f"{host}:{self.port}"
        self.key = (self.tls, self.connect_host, self.port)

    @classmethod
    def split(cls, url: str, cache: dict[str, Origin]) -> tuple[Origin, str]:
        """The origin of ``url`` (memoized in ``cache``) and its target (path and query,
        as they are: a signed URL must not be re-quoted)."""
        scheme_end = url.find("://")
        path_at = url.find("/", scheme_end + 3) if scheme_end > 0 else -1
        if path_at < 0:
            raise ValueError(f"not an absolute http(s) URL with a path: {url!r}")
        prefix = url[:path_at]
        origin = cache.get(prefix)
        if origin is None:
            origin = cache[prefix] = cls(url[:scheme_end], url[scheme_end + 3 : path_at])
        return origin, url[path_at:]


# --- threads: plain sockets -------------------------------------------------------------------


class SyncConnection:
    """One HTTP/1.1 connection over a blocking socket (TLS for https)."""

    __slots__ = ("_buffer", "_view", "reader", "sock", "used")

    def __init__(
        self,
        origin: Origin,
        *,
        connect_timeout: float,
        read_timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        try:
            sock = socket.create_connection(
                (origin.connect_host, origin.port), timeout=connect_timeout
            )
        except TimeoutError as exc:
            raise ReadTimeout(f"connecting to {origin.host_header} timed out") from exc
        except OSError as exc:
            raise TransportError(f"could not connect to {origin.host_header}: {exc}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.tls:
                assert ssl_context is not None
                sock = ssl_context.wrap_socket(sock, server_hostname=origin.connect_host)
        except TimeoutError as exc:
            sock.close()
            raise ReadTimeout(f"the TLS handshake with {origin.host_header} timed out") from exc
        except OSError as exc:
            sock.close()
            raise TransportError(f"TLS with {origin.host_header} failed: {exc}") from exc
        sock.settimeout(read_timeout)
        self.sock = sock
        # received into one buffer per connection: ``recv(n)`` allocates n bytes a call
        # (256 KiB: an mmap and its page faults every time), the parser copies the body out
        self._buffer = bytearray(_RECV)
        self._view = memoryview(self._buffer)
        self.reader = ResponseReader()
        self.used = False

    def send(self, request: bytes) -> None:
        """Send a request (the reader is reset for its response)."""
        self.reader.reset()
        self.used = True
        try:
            self.sock.sendall(request)
        except TimeoutError as exc:
            raise ReadTimeout("sending the request timed out") from exc
        except OSError as exc:
            raise ConnectionClosed(f"sending the request failed: {exc}") from exc

    def receive(self) -> None:
        """Wait for the next bytes (at most the read timeout) and parse them."""
        try:
            size = self.sock.recv_into(self._buffer)
        except TimeoutError as exc:
            raise ReadTimeout("the object store sent nothing within the read timeout") from exc
        except OSError as exc:
            raise ConnectionClosed(f"the connection failed: {exc}") from exc
        if size:
            self.reader.feed(self._view[:size])
        else:
            self.reader.eof()

    def more(self) -> None:
        """Receive until body bytes are buffered or the response is complete."""
        reader = self.reader
        while not reader.buffered and not reader.done:
            self.receive()

    def is_stale(self) -> bool:
        """Whether an idle connection was closed by the server (or sent stray bytes)."""
        sock = self.sock
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        if not isinstance(sock, ssl.SSLSocket):
            return True
        # TLS 1.3 servers send session tickets after the handshake: records without
        # application data that make the socket readable; reading consumes them
        timeout = sock.gettimeout()
        sock.settimeout(0)
        try:
            sock.recv(1)
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except OSError:
            return True
        finally:
            sock.settimeout(timeout)
        return True  # the close (b"") or a byte nobody asked for

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self.sock.close()
        self._view.release()


class SyncPool:
    """Idle keep-alive :class:`SyncConnection` s per origin (thread-safe)."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        size: int,
        ssl_context: Callable[[], ssl.SSLContext],
    ) -> None:
        self.connect_timeout, self.read_timeout, self.size = connect_timeout, read_timeout, size
        self._ssl_factory = ssl_context
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[tuple[bool, str, int], list[SyncConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False
        # a pool dropped without close() closes its idle sockets (as urllib3's pools do)
        weakref.finalize(self, _close_idle, self._idle)
        self.origins: dict[str, Origin] = {}
        self.opened = 0
        """Connections opened so far (a figure for tests and benchmarks)."""

    def acquire(self, origin: Origin) -> SyncConnection:
        """An idle connection to ``origin`` (its :attr:`~SyncConnection.used` is true),
        else a new one."""
        with self._lock:
            idle = self._idle.get(origin.key)
            while idle:
                conn = idle.pop()
                if not conn.is_stale():
                    return conn
                conn.close()
        return self.connect(origin)

    def connect(self, origin: Origin) -> SyncConnection:
        """A new connection to ``origin``."""
        if origin.tls and self._ssl is None:
            self._ssl = self._ssl_factory()
        conn = SyncConnection(
            origin,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            ssl_context=self._ssl,
        )
        self.opened += 1
        return conn

    def release(self, origin: Origin, conn: SyncConnection) -> None:
        """Keep ``conn`` for the next request if its response allows, else close it."""
        if conn.reader.keep_alive and conn.reader.buffered == 0 and not self._closed:
            with self._lock:
                idle = self._idle.setdefault(origin.key, [])
                if len(idle) < self.size:
                    idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        """Close every idle connection, and each one released later (idempotent)."""
        with self._lock:
            self._closed = True
            _close_idle(self._idle)


def _close_idle(idle: dict[tuple[bool, str, int], list[SyncConnection]]) -> None:
    conns = [conn for pooled in idle.values() for conn in pooled]
    idle.clear()
    for conn in conns:
        conn.close()


# --- asyncio: a protocol on the running loop ------------------------------------------------

_HEAD, _MORE, _ALL = 1, 2, 3


class AsyncConnection(asyncio.Protocol):
    """One HTTP/1.1 connection as an ``asyncio.Protocol`` (TLS for https).

    Reading pauses once ``high_water`` body bytes (a chunk) wait unread (a streamed range
    whose consumer lags) and resumes as they are taken: a connection holds at most a chunk
    and one receive.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float) -> None:
        self.loop = loop
        self.read_timeout = read_timeout
        self.reader = ResponseReader()
        self.transport: asyncio.Transport | None = None
        self.error: TransportError | None = None
        self.closed = False
        self.used = False
        self.high_water = _RECV
        self.upto = 0
        self._paused = False
        self._wait = 0
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0

    # -- the protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio: connected."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        """asyncio: bytes came."""
        reader = self.reader
        try:
            reader.feed(data)
        except TransportError as exc:
            self._fail(exc)
            return
        self._last = self.loop.time()
        if (
            reader.buffered >= self.high_water
            and not reader.done
            and not self._paused
            and self.transport
        ):
            self._paused = True
            self.transport.pause_reading()
        if self._waiter is not None and self._ready():
            self._wake()

    def eof_received(self) -> bool | None:
        """asyncio: the server closed its side."""
        try:
            self.reader.eof()
        except TransportError as exc:
            self._fail(exc)
        self.closed = True
        if self._waiter is not None:
            self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio: the connection is gone."""
        self.closed = True
        reader = self.reader
        if self.error is None and not reader.done and self.used:
            try:
                reader.eof()
            except TransportError as error:
                self.error = error
                if exc is not None:
                    error.__cause__ = exc
        if self._waiter is not None:
            self._wake()

    # -- waits ----------------------------------------------------------------------------------

    def _ready(self) -> bool:
        reader = self.reader
        if self.error is not None or reader.done or self.closed:
            return True
        if self._wait == _HEAD:
            if not reader.head_done:
                return False
            return reader.status >= 300 or reader.length is None or reader.length > self.upto
        if self._wait == _ALL:
            return reader.buffered > self.upto
        return reader.buffered > 0

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: TransportError) -> None:
        if self.error is None:
            self.error = exc
        self.drop()
        if self._waiter is not None:
            self._wake()

    def _on_timer(self) -> None:
        # One lazy timer per connection rather than one armed and cancelled per wait
        # (a seek waits once): it fires at most once a read timeout, re-arms itself while
        # a wait is on and bytes keep coming, and lapses when the connection is idle.
        self._timer = None
        if self._waiter is None:
            return
        left = self._last + self.read_timeout - self.loop.time()
        if left > 0.001:
            self._timer = self.loop.call_later(left, self._on_timer)
            return
        self._fail(ReadTimeout("the object store sent nothing within the read timeout"))

    async def _until(self, wait: int) -> None:
        if self.error is not None:
            raise self.error
        self._wait = wait
        if self._ready():
            return
        self._last = self.loop.time()
        self._waiter = self.loop.create_future()
        if self._timer is None:
            self._timer = self.loop.call_later(self.read_timeout, self._on_timer)
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self.error is not None:
            raise self.error

    # -- the caller's side ----------------------------------------------------------------

    def send(self, request: bytes, upto: int) -> None:
        """Send a request; its response's body is read whole up to ``upto`` bytes."""
        self.reader.reset()
        self.used = True
        self.upto = self.high_water = max(upto, 1)
        if self.transport is None or self.closed or self.transport.is_closing():
            raise ConnectionClosed("the connection was closed")
        self.transport.write(request)

    async def head(self) -> None:
        """Wait for the response's head, and its body too if it is a success of at most
        ``upto`` bytes (``Content-Length``)."""
        await self._until(_HEAD)
        if not self.reader.head_done:
            raise self.error or ConnectionClosed("the connection was closed")

    async def more(self) -> None:
        """Wait until body bytes are buffered or the response is complete."""
        if self._paused and self.reader.buffered < self.high_water and self.transport:
            self._paused = False
            self.transport.resume_reading()
        await self._until(_MORE)
        if not self.reader.buffered and not self.reader.done:
            raise self.error or ConnectionClosed("the connection was closed")

    async def rest(self, limit: int) -> None:
        """Wait until the response is complete or more than ``limit`` body bytes are
        buffered (reading is not paused before)."""
        self.upto = limit
        self.high_water = max(self.high_water, limit + 1)
        if self._paused and self.transport:
            self._paused = False
            self.transport.resume_reading()
        await self._until(_ALL)

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` body bytes received so far (resuming a paused read)."""
        piece = self.reader.take(limit)
        if self._paused and self.reader.buffered < self.high_water and self.transport:
            self._paused = False
            self.transport.resume_reading()
        return piece

    def drop(self) -> None:
        """Close the connection at once (idempotent)."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nothing to abort
                self.transport.abort()


class AsyncPool:
    """Idle keep-alive :class:`AsyncConnection` s per origin, on one event loop."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        size: int,
        ssl_context: Callable[[], ssl.SSLContext],
    ) -> None:
        self.connect_timeout, self.read_timeout, self.size = connect_timeout, read_timeout, size
        self._ssl_factory = ssl_context
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[tuple[bool, str, int], list[AsyncConnection]] = {}
        self._closed = False
        self.origins: dict[str, Origin] = {}
        self.opened = 0
        """Connections opened so far (a figure for tests and benchmarks)."""

    def idle(self, origin: Origin) -> AsyncConnection | None:
        """An idle connection to ``origin`` the server has not closed, if any (on the
        running loop)."""
        idle = self._idle.get(origin.key)
        if not idle:
            return None
        loop = asyncio.get_running_loop()
        while idle:
            conn = idle.pop()
            if (
                conn.loop is loop
                and not conn.closed
                and conn.error is None
                and not conn.reader.extra
            ):
                return conn
            conn.drop()
        return None

    async def connect(self, origin: Origin) -> AsyncConnection:
        """A new connection to ``origin``, within the connect timeout."""
        loop = asyncio.get_running_loop()
        if origin.tls and self._ssl is None:
            self._ssl = self._ssl_factory()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: AsyncConnection(loop, self.read_timeout),
                    origin.connect_host,
                    origin.port,
                    ssl=self._ssl if origin.tls else None,
                    server_hostname=origin.connect_host if origin.tls else None,
                )
        except TimeoutError as exc:
            raise ReadTimeout(f"connecting to {origin.host_header} timed out") from exc
        except OSError as exc:
            raise TransportError(f"could not connect to {origin.host_header}: {exc}") from exc
        self.opened += 1
        return conn

    def release(self, origin: Origin, conn: AsyncConnection) -> None:
        """Keep ``conn`` for the next request if its response allows, else close it."""
        if (
            conn.reader.keep_alive
            and not conn.reader.buffered
            and not conn.closed
            and not self._closed
        ):
            idle = self._idle.setdefault(origin.key, [])
            if len(idle) < self.size:
                idle.append(conn)
                return
        conn.drop()

    def close(self) -> None:
        """Close every idle connection, and each one released later (idempotent)."""
        idle, self._idle, self._closed = self._idle, {}, True
        for conns in idle.values():
            for conn in conns:
                conn.drop()
