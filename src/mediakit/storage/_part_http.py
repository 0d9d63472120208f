"""``UploadPart`` bodies sent over mediakit's own HTTP/1.1 connections, in a worker thread.

Why hand-written: streaming uploads in bounded memory are mediakit's core competence, and
on the async store aiohttp was most of an upload's CPU beyond the unavoidable (hashing,
the kernel's copies). aiohttp writes a body in 64 KiB pieces on the event loop, each a
coroutine step and, once the socket buffer is full, a copy into the transport's buffer:
measured on 256 MiB to nanio over loopback, 0.73-0.75 s of user CPU through aiobotocore
against 0.30 s for the same signed requests written with ``sendall`` from a thread
(``python -m benchmarks.routes --only upload`` shows what it does to the route).

What is not hand-written: botocore still builds, signs (SigV4, the payload hash computed
beforehand: :class:`~mediakit.storage.s3_async._PrehashedS3SigV4Auth`), retries and
parses every request, and reads the answer's error codes. This module only moves the
bytes: it is a botocore ``before-send`` handler, the hook botocore offers for replacing
the transport of one operation. It sends the signed request on a
:class:`~mediakit.storage._http1.SyncPool` connection from a worker thread (the socket
calls, TLS included, release the GIL; the event loop never touches a byte of the part)
and hands botocore the status, headers and body of the answer. Transport failures
become botocore's own exceptions (``EndpointConnectionError``, ``ConnectTimeoutError``,
``ReadTimeoutError``, ``ConnectionClosedError``), so botocore's retries and
:func:`~mediakit.storage._errors.translate_errors` treat them as before.

Only bodies it knows are taken (:class:`~mediakit.storage.s3_async._PartBody`, whose
bytes are fixed ``memoryview`` s: one buffer, or the request's own chunks gathered by
reference, written with no copy in user space); anything else, e.g. an ``aws-chunked`` body with a
trailing checksum, goes through aiobotocore as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from botocore.awsrequest import HeadersDict
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from mediakit.storage._http1 import (
    ConnectionClosed,
    Origin,
    ReadTimeout,
    SyncConnection,
    SyncPool,
    TransportError,
)

__all__ = ["PartTransport"]

_SLICE = 1024 * 1024
"""Bytes per ``sendall``: the socket timeout bounds each slice (a stalled peer is
noticed within the read timeout, however long the whole part takes to send)."""

_MAX_ANSWER = 1024 * 1024
"""The most body an ``UploadPart`` answer may carry (an error document is a few hundred
bytes; a success has none)."""

_SKIPPED = frozenset({"host", "expect", "transfer-encoding", "connection"})
"""Request headers not copied: ``Host`` is written from the URL (as signed), the others
are hop-by-hop or ask for ``100-continue``, which this transport does not do."""


class _Answer:
    """The ``raw`` of a botocore response: the body, already read."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    async def read(self) -> bytes:
        """aiobotocore's ``AioAWSResponse.content`` reads this."""
        return self._content

    def stream(self, **kwargs: Any) -> list[bytes]:
        """botocore's ``AWSResponse.content`` joins this."""
        return [self._content]


class PartTransport:
    """Sends the ``UploadPart`` requests of one S3 client (see the module docstring).

    Register it on an aiobotocore client with :meth:`register`; :meth:`close` closes
    its idle connections (a later part opens new ones).
    """

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int,
        body_type: type[Any],
    ) -> None:
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.pool_size = pool_size
        self.pool = self._new_pool()
        self._body_type = body_type
        # its own tokens: parts in flight never take the app's worker threads (anyio's
        # default limiter), and at most ``pool_size`` are written at once
        self._limiter = anyio.CapacityLimiter(pool_size)
        self.parts_sent = 0
        """Parts this transport sent (a figure for tests and benchmarks)."""

    def register(self, client: Any, unique_id: str) -> None:
        """Take over the ``UploadPart`` sends of an aiobotocore ``client``."""
        client.meta.events.register(
            "before-send.s3.UploadPart", self.before_send_async, unique_id=unique_id
        )

    def _new_pool(self) -> SyncPool:
        from mediakit.storage._ranged_http import _ssl_context

        return SyncPool(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            size=self.pool_size,
            ssl_context=_ssl_context,
        )

    def close(self) -> None:
        """Close the idle connections (the transport stays usable: later parts open
        new ones; a part being sent closes its connection when done)."""
        pool, self.pool = self.pool, self._new_pool()
        pool.close()

    async def before_send_async(self, request: Any, **kwargs: Any) -> Any:
        """aiobotocore ``before-send`` handler: send ``request`` if its body is a part,
        from a worker thread; ``None`` lets aiobotocore send anything else."""
        body: Any = request.body
        if type(body) is not self._body_type:
            return None
        from aiobotocore.awsrequest import AioAWSResponse

        status, headers, content = await anyio.to_thread.run_sync(
            self.exchange,
            request.method,
            request.url,
            request.headers,
            body.pieces(),
            anyio.from_thread.check_cancelled,
            limiter=self._limiter,
        )
        return AioAWSResponse(request.url, status, HeadersDict(headers), _Answer(content))

    def exchange(
        self,
        method: str,
        url: str,
        headers: Any,
        body: Sequence[memoryview] | memoryview,
        check_cancelled: Callable[[], None] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request with ``body``; the answer's status, headers and body.

        A kept-alive connection that fails before any answer is tried again once on a
        new connection (the server may have closed it while it was idle; a part may be
        sent twice, ``UploadPart`` is idempotent). Raises botocore's connection errors.
        ``check_cancelled`` is called between slices of the body and may raise to stop
        (the connection is then closed): a cancelled upload does not wait for its
        parts to finish sending.
        """
        pool = self.pool
        origin, target = Origin.split(url, pool.origins)
        head = _request_head(method, target, origin.host_header, headers)
        while True:
            conn = self._connection(pool, origin, url)
            reused = conn.used
            try:
                answer = _exchange(conn, head, body, check_cancelled)
            except TransportError as exc:
                conn.close()
                if reused and isinstance(exc, ConnectionClosed) and not conn.reader.head_done:
                    continue
                raise _botocore_error(exc, url) from exc
            except BaseException:
                conn.close()
                raise
            pool.release(origin, conn)
            self.parts_sent += 1
            return answer

    @staticmethod
    def _connection(pool: SyncPool, origin: Origin, url: str) -> SyncConnection:
        try:
            return pool.acquire(origin)
        except ReadTimeout as exc:
            raise ConnectTimeoutError(endpoint_url=url, error=exc) from exc
        except TransportError as exc:
            raise EndpointConnectionError(endpoint_url=url, error=exc) from exc


def _request_head(method: str, target: str, host: str, headers: Any) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        if name.lower() in _SKIPPED:
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if "\r" in text or "\n" in text or "\r" in name or "\n" in name:
            raise ValueError(f"a line break in the request header {name!r}")
        lines.append(f"{name}: {text}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def _exchange(
    conn: SyncConnection,
    head: bytes,
    body: Sequence[memoryview] | memoryview,
    check_cancelled: Callable[[], None] | None,
) -> tuple[int, dict[str, str], bytes]:
    """Write the request, then read the whole answer (an early answer, sent while the
    body was still going out, e.g. a refusal, is read after a failed send)."""
    conn.send(head)
    sock = conn.sock
    try:
        sent = 0  # since the last cancellation check
        for piece in [body] if isinstance(body, memoryview) else body:
            for start in range(0, len(piece), _SLICE):
                if check_cancelled is not None and sent >= _SLICE:
                    check_cancelled()
                    sent = 0
                chunk = piece[start : start + _SLICE]
                sock.sendall(chunk)
                sent += len(chunk)
    except TimeoutError as exc:
        raise ReadTimeout("the object store took nothing within the read timeout") from exc
    except OSError as exc:
        # the server may have answered (and closed) before taking the whole body
        try:
            _receive_all(conn)
        except TransportError:
            raise ConnectionClosed(f"sending the part failed: {exc}") from exc
        conn.reader.extra = True  # the rest of the body was never sent: not reusable
        return _answer(conn)
    _receive_all(conn)
    return _answer(conn)


def _receive_all(conn: SyncConnection) -> None:
    reader = conn.reader
    while not reader.done:
        conn.receive()
        if reader.received > _MAX_ANSWER:
            raise ConnectionClosed(
                f"the object store's answer to a part is over {_MAX_ANSWER} bytes"
            )


def _answer(conn: SyncConnection) -> tuple[int, dict[str, str], bytes]:
    reader = conn.reader
    return reader.status, dict(reader.headers), reader.take(_MAX_ANSWER + 1)


def _botocore_error(exc: TransportError, url: str) -> Exception:
    if isinstance(exc, ReadTimeout):
        return ReadTimeoutError(endpoint_url=url, error=exc)
    return ConnectionClosedError(endpoint_url=url, error=exc)
