"""Ranged S3 reads over plain HTTP: a presigned GET on a pooled connection, no botocore.

Why hand-written: bounded, ranged, seekable delivery is mediakit's core competence, and
on the Range proxy's hot path botocore is most of the cost. A 64 KiB seek through
aiobotocore's ``get_object`` spends about 1.5-2.5 ms of CPU in its event hooks, request
serialization, signing and response parsing (a third of the route's CPU); the same GET
as a presigned URL (mediakit's SigV4 signer: ~7 us) costs a few hundred microseconds on
an aiohttp or urllib3 pool, and about half that on :mod:`mediakit.storage._http1` (a lean
HTTP/1.1 GET transport, keep-alive pooled, parsed by llhttp), which both readers use.
Everything else (writes, HEAD, listing, deletes) stays on botocore: only reads are on the
hot path, and a read is one GET whose answer S3 defines by headers alone.

What botocore gave and this keeps:

* **bounded waits**: ``MEDIA_S3_CONNECT_TIMEOUT`` per connection, ``MEDIA_S3_READ_TIMEOUT``
  between bytes, ``MEDIA_S3_MAX_ATTEMPTS`` attempts with botocore's ``standard`` backoff
  (random, ``2**n`` seconds at most, capped at 20 s) for connection errors, timeouts,
  throttling and 5xx; a retry happens only before any byte was handed out;
* **one error translation**: HTTP errors go through
  :func:`~mediakit.storage._errors.classify_client_error` (the S3 error code from the
  XML body), transport errors through :func:`~mediakit.storage._errors.translate_errors`;
* **checked lengths**: a body shorter than its ``Content-Length`` raises;
* **TLS** with botocore's CA bundle (``AWS_CA_BUNDLE``) and SNI, the signed host and
  query sent as signed, ``Accept-Encoding: identity``, no redirects followed.

A range of at most ``chunk_size`` bytes (a seek) is read whole within the attempt and
its connection returned to the pool at once; a longer one streams in pieces of at most
``chunk_size`` bytes (reading pauses while a chunk waits unread), and closing the chunks
before the end drops the connection. A pooled connection the server closed while it was
idle is replaced, and a GET on one that turns out closed before any byte of the answer
came is sent once more on a new connection (a GET is idempotent).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import ssl
import time
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from mediakit.errors import MediaKitError, StorageError, StorageUnavailable
from mediakit.presign import SigV4Presigner, credentials_from_settings
from mediakit.settings import Settings
from mediakit.storage._common import get_info
from mediakit.storage._errors import classify_client_error, translate_errors
from mediakit.storage._http1 import (
    AsyncConnection,
    AsyncPool,
    ConnectionClosed,
    Origin,
    SyncConnection,
    SyncPool,
    get_request,
)
from mediakit.storage._protocols import AsyncOpenedRange, OpenedRange
from mediakit.values import ByteSpan, ObjectInfo

__all__ = [
    "AsyncRangedReader",
    "RangedReader",
    "endpoint_url",
    "error_of",
    "fast_path_allowed",
    "is_retryable",
    "presigner_for_reads",
    "response_info",
    "retry_delay",
]

MAX_BACKOFF = 20.0
"""botocore's cap on one backoff (``standard`` mode)."""
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_RETRY_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"}
)
_ERROR_BODY_LIMIT = 64 * 1024
_CODE = re.compile(rb"<Code>([^<]{0,200})</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{0,1000})</Message>")
_READ_TTL = 900
_READ_WINDOW = 300


def presigner_for_reads(settings: Settings, bucket: str) -> SigV4Presigner:
    """The SigV4 signer of the stores' read URLs: the settings' endpoint, region,
    addressing and credentials (a provider is asked again as they near expiry)."""
    return SigV4Presigner(
        bucket,
        credentials=credentials_from_settings(settings),
        endpoint_url=settings.s3_endpoint,
        region=settings.s3_region,
        path_style=settings.s3_path_style,
        ttl=_READ_TTL,
        window=_READ_WINDOW,
    )


def endpoint_url(settings: Settings) -> str:
    """The S3 endpoint's URL: ``MEDIA_S3_ENDPOINT``, else AWS's in the region."""
    return settings.s3_endpoint or f"https://s3.{settings.s3_region}.amazonaws.com"


def fast_path_allowed(settings: Settings) -> bool:
    """Whether mediakit's own connections may reach the endpoint: not when the
    environment sends it through a proxy (``HTTPS_PROXY`` / ``HTTP_PROXY`` without a
    matching ``NO_PROXY``, read by botocore's own helper), since botocore's
    connections go through it and mediakit's do not speak to proxies."""
    from botocore.utils import get_environ_proxies

    url = endpoint_url(settings)
    return not get_environ_proxies(url).get(url.partition(":")[0])


def _ssl_context() -> ssl.SSLContext:
    """The CA bundle botocore would use: ``AWS_CA_BUNDLE``, else its default (certifi)."""
    from botocore.httpsession import get_cert_path

    cafile = os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True)
    return ssl.create_default_context(cafile=cafile if isinstance(cafile, str) else None)


def retry_delay(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1`` (``attempt`` from 1), as botocore's
    ``standard`` mode: a random share of ``2**(attempt-1)`` s, at most 20 s."""
    return float(min(random.random() * 2 ** (attempt - 1), MAX_BACKOFF))


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt may be retried: the store was unavailable or throttling
    (transport errors and timeouts are translated to :class:`StorageUnavailable`)."""
    return isinstance(exc, StorageUnavailable)


def error_of(status: int, body: bytes, *, key: str, bucket: str) -> MediaKitError:
    """The mediakit error for an S3 error response (``status``, its XML ``body``)."""
    code = _CODE.search(body)
    message = _MESSAGE.search(body)
    code_s = code[1].decode("utf-8", "replace") if code else ""
    if not code_s and status in _RETRY_STATUS:
        code_s = "SlowDown" if status in (429, 503) else "InternalError"
    return classify_client_error(
        code_s,
        status,
        message[1].decode("utf-8", "replace") if message else "",
        key=key,
        bucket=bucket,
    )


def response_info(key: str, headers: Mapping[str, str]) -> tuple[ObjectInfo, ByteSpan | None]:
    """The object's info and the span of a successful GET, from its headers (looked up
    by lower-case name: :mod:`._http1` keeps them so, aiohttp's and urllib3's headers
    take any case)."""
    length = headers.get("content-length")
    modified = headers.get("last-modified")
    etag = headers.get("etag")
    try:
        if length is None or etag is None or modified is None:
            raise ValueError("a Content-Length, ETag or Last-Modified header is missing")
        fields: dict[str, Any] = {
            "ContentLength": int(length),
            "ETag": etag,
            "LastModified": _last_modified(modified),
            "ContentType": headers.get("content-type"),
            "ContentRange": headers.get("content-range"),
        }
    except (ValueError, TypeError) as exc:
        raise StorageError(f"The object store answered a GET of {key!r} oddly: {exc}") from exc
    return get_info(key, fields)


_MODIFIED: dict[str, datetime] = {}


def _last_modified(value: str) -> datetime:
    """``Last-Modified`` as a datetime, memoized: seeks read the same few objects, and
    :func:`email.utils.parsedate_to_datetime` costs about 20 us (a tenth of a GET)."""
    when = _MODIFIED.get(value)
    if when is None:
        when = parsedate_to_datetime(value)
        if len(_MODIFIED) >= 1024:
            _MODIFIED.clear()
        _MODIFIED[value] = when
    return when


def _cut_short(key: str, exc: StorageUnavailable) -> StorageUnavailable:
    """``exc``, or the error of a body cut short if that is what it was."""
    cause = exc.__cause__
    if isinstance(cause, ConnectionClosed) and cause.expected is not None:
        return _short(key, cause.received or 0, cause.expected)
    return exc


def _short(key: str, received: int, expected: int) -> StorageUnavailable:
    return StorageUnavailable(
        f"The object store sent {received} of the {expected} bytes of {key!r} and closed "
        "the connection; retry later."
    )


# --- asyncio (mediakit.storage._http1) ---------------------------------------------------


class _AsyncChunks:
    """The body of a streamed response, in pieces of at most ``chunk_size`` bytes;
    ``aclose()`` drops its connection unless the body was read to the end."""

    def __init__(
        self,
        key: str,
        bucket: str,
        pool: AsyncPool,
        origin: Origin,
        conn: AsyncConnection,
        expected: int,
        chunk_size: int,
    ) -> None:
        self._key, self._bucket, self._pool, self._origin = key, bucket, pool, origin
        self._conn: AsyncConnection | None = conn
        self._expected, self._chunk_size = expected, chunk_size

    def __aiter__(self) -> _AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        reader = conn.reader
        if not reader.buffered:
            if not reader.done:
                try:
                    with translate_errors(self._key, bucket=self._bucket):
                        await conn.more()
                except StorageUnavailable as exc:
                    self._drop()
                    if isinstance(exc.__cause__, ConnectionClosed):
                        raise _short(self._key, reader.received, self._expected) from exc
                    raise
                except BaseException:
                    self._drop()
                    raise
            if not reader.buffered:  # complete
                if reader.received != self._expected:
                    self._drop()
                    raise _short(self._key, reader.received, self._expected)
                self._conn = None
                self._pool.release(self._origin, conn)
                raise StopAsyncIteration
        if reader.received > self._expected:
            self._drop()
            raise StorageError(f"The object store sent more bytes of {self._key!r} than declared.")
        return conn.take(self._chunk_size)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.drop()

    async def aclose(self) -> None:
        """Drop the connection unless the body was read to the end (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if conn.reader.done and not conn.reader.buffered:
                self._pool.release(self._origin, conn)
            else:
                conn.drop()


class _AsyncWhole:
    """A body already read in full (a seek): one chunk, nothing to release."""

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data or None

    def __aiter__(self) -> _AsyncWhole:
        return self

    async def __anext__(self) -> bytes:
        if self._data is None:
            raise StopAsyncIteration
        data, self._data = self._data, None
        return data

    async def aclose(self) -> None:
        """Nothing to release: the connection went back to the pool after the read."""
        self._data = None


class AsyncRangedReader:
    """Ranged GETs of one bucket's objects over pooled keep-alive connections
    (:mod:`mediakit.storage._http1`, on the running event loop).

    Open it on the event loop that serves requests (:meth:`start`, or the first read);
    :meth:`aclose` it at shutdown.
    """

    def __init__(
        self,
        signer: SigV4Presigner,
        *,
        connect_timeout: float,
        read_timeout: float,
        attempts: int,
        pool_size: int = 10,
    ) -> None:
        self.signer = signer
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.attempts, self.pool_size = max(1, attempts), pool_size
        self.pool: AsyncPool | None = None

    @classmethod
    def from_settings(cls, settings: Settings, bucket: str) -> AsyncRangedReader:
        """A reader with the settings' endpoint, credentials, timeouts and attempts."""
        return cls(
            presigner_for_reads(settings, bucket),
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            attempts=settings.s3_max_attempts,
            pool_size=settings.s3_max_pool_connections,
        )

    async def start(self) -> None:
        """Set up the connection pool (idempotent; connections open on first use)."""
        if self.pool is None:
            self.pool = AsyncPool(
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                size=self.pool_size,
                ssl_context=_ssl_context,
            )

    async def aclose(self) -> None:
        """Close every pooled connection (idempotent)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()
            await asyncio.sleep(0)  # let the transports finish closing

    async def get(self, key: str, range_value: str | None, *, chunk_size: int) -> AsyncOpenedRange:
        """GET ``key`` (with ``Range: range_value`` if given): its info, the span the body
        holds and the body chunks (``aclose()`` them if not read to the end).

        Raises :class:`~mediakit.errors.ObjectNotFound`, ``RangeNotSatisfiable``,
        ``StorageError`` or, once the attempts are spent, ``StorageUnavailable``."""
        if self.pool is None:
            await self.start()
        attempt = 1
        while True:
            try:
                return await self._attempt(key, range_value, chunk_size)
            except MediaKitError as exc:
                if attempt >= self.attempts or not is_retryable(exc):
                    raise
            await asyncio.sleep(retry_delay(attempt))
            attempt += 1

    async def _attempt(
        self, key: str, range_value: str | None, chunk_size: int
    ) -> AsyncOpenedRange:
        pool = self.pool
        assert pool is not None
        bucket = self.signer.bucket
        try:
            with translate_errors(key, bucket=bucket):
                origin, target = Origin.split(self.signer.sign(key).url, pool.origins)
                request = get_request(target, origin.host_header, range_value)
                conn = pool.idle(origin)
                if conn is not None:
                    try:
                        conn.send(request, chunk_size)
                        await conn.head()
                    except ConnectionClosed:
                        conn.drop()
                        if conn.reader.fed:
                            raise
                        conn = None  # closed by the server while idle: once more, on a new one
                    except BaseException:
                        conn.drop()
                        raise
                if conn is None:
                    conn = await pool.connect(origin)
                    try:
                        conn.send(request, chunk_size)
                        await conn.head()
                    except BaseException:
                        conn.drop()
                        raise
        except StorageUnavailable as exc:
            raise _cut_short(key, exc) from exc.__cause__
        try:
            answer = await self._answer(key, bucket, pool, origin, conn, chunk_size)
        except BaseException:
            conn.drop()
            raise
        if isinstance(answer, MediaKitError):
            raise answer
        return answer

    async def _answer(
        self,
        key: str,
        bucket: str,
        pool: AsyncPool,
        origin: Origin,
        conn: AsyncConnection,
        chunk_size: int,
    ) -> AsyncOpenedRange | MediaKitError:
        """The opened range, or the error S3 answered (the connection then pooled)."""
        reader = conn.reader
        if reader.status >= 300:
            with translate_errors(key, bucket=bucket):
                await conn.rest(_ERROR_BODY_LIMIT - 1)
            body = reader.take(_ERROR_BODY_LIMIT)
            pool.release(origin, conn)  # kept if the answer was read whole
            return error_of(reader.status, body, key=key, bucket=bucket)
        info, span = response_info(key, reader.headers)
        expected = 0 if span is None else span.length
        if expected > chunk_size:
            return AsyncOpenedRange(
                info, span, _AsyncChunks(key, bucket, pool, origin, conn, expected, chunk_size)
            )
        try:
            if not reader.done:
                with translate_errors(key, bucket=bucket):
                    await conn.rest(expected)
        except StorageUnavailable as exc:
            if isinstance(exc.__cause__, ConnectionClosed):
                raise _short(key, reader.received, expected) from exc
            raise
        if reader.received != expected:
            if reader.received < expected:
                raise _short(key, reader.received, expected)
            raise StorageError(f"The object store sent more bytes of {key!r} than declared.")
        data = reader.take(expected)
        pool.release(origin, conn)
        return AsyncOpenedRange(info, span, _AsyncWhole(data))


# --- threads (mediakit.storage._http1) ---------------------------------------------------


class _SyncChunks:
    """The body of a streamed response, in pieces of at most ``chunk_size`` bytes;
    ``close()`` drops its connection unless the body was read to the end."""

    def __init__(
        self,
        key: str,
        bucket: str,
        pool: SyncPool,
        origin: Origin,
        conn: SyncConnection,
        expected: int,
        chunk_size: int,
    ) -> None:
        self._key, self._bucket, self._pool, self._origin = key, bucket, pool, origin
        self._conn: SyncConnection | None = conn
        self._expected, self._chunk_size = expected, chunk_size

    def __iter__(self) -> _SyncChunks:
        return self

    def __next__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopIteration
        reader = conn.reader
        if not reader.buffered:
            try:
                with translate_errors(self._key, bucket=self._bucket):
                    conn.more()  # at most one recv's worth past the chunk: bounded
            except StorageUnavailable as exc:
                self._drop()
                if isinstance(exc.__cause__, ConnectionClosed):
                    raise _short(self._key, reader.received, self._expected) from exc
                raise
            except BaseException:
                self._drop()
                raise
            if not reader.buffered:  # complete
                if reader.received != self._expected:
                    self._drop()
                    raise _short(self._key, reader.received, self._expected)
                self._conn = None
                self._pool.release(self._origin, conn)
                raise StopIteration
        if reader.received > self._expected:
            self._drop()
            raise StorageError(f"The object store sent more bytes of {self._key!r} than declared.")
        return reader.take(self._chunk_size)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Drop the connection unless the body was read to the end (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if conn.reader.done and not conn.reader.buffered:
                self._pool.release(self._origin, conn)
            else:
                conn.close()


class _SyncWhole:
    """A body already read in full (a seek): one chunk, nothing to release."""

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data or None

    def __iter__(self) -> _SyncWhole:
        return self

    def __next__(self) -> bytes:
        if self._data is None:
            raise StopIteration
        data, self._data = self._data, None
        return data

    def close(self) -> None:
        """Nothing to release: the connection went back to the pool after the read."""
        self._data = None


class RangedReader:
    """Ranged GETs of one bucket's objects over pooled keep-alive connections
    (:mod:`mediakit.storage._http1`, blocking sockets; thread-safe).

    :meth:`close` it at shutdown.
    """

    def __init__(
        self,
        signer: SigV4Presigner,
        *,
        connect_timeout: float,
        read_timeout: float,
        attempts: int,
        pool_size: int = 10,
    ) -> None:
        self.signer = signer
        self.attempts = max(1, attempts)
        self._bounds = (connect_timeout, read_timeout, pool_size)
        self.pool = self._new_pool()

    def _new_pool(self) -> SyncPool:
        connect_timeout, read_timeout, pool_size = self._bounds
        return SyncPool(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            size=pool_size,
            ssl_context=_ssl_context,
        )

    @classmethod
    def from_settings(cls, settings: Settings, bucket: str) -> RangedReader:
        """A reader with the settings' endpoint, credentials, timeouts and attempts."""
        return cls(
            presigner_for_reads(settings, bucket),
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            attempts=settings.s3_max_attempts,
            pool_size=settings.s3_max_pool_connections,
        )

    def close(self) -> None:
        """Close every pooled connection (idempotent; a later read opens new ones, and
        a stream still open closes its connection when done)."""
        pool, self.pool = self.pool, self._new_pool()
        pool.close()

    def get(self, key: str, range_value: str | None, *, chunk_size: int) -> OpenedRange:
        """See :meth:`AsyncRangedReader.get`; ``close()`` the chunks if not read to the end."""
        attempt = 1
        while True:
            try:
                return self._attempt(key, range_value, chunk_size)
            except MediaKitError as exc:
                if attempt >= self.attempts or not is_retryable(exc):
                    raise
            time.sleep(retry_delay(attempt))
            attempt += 1

    def _attempt(self, key: str, range_value: str | None, chunk_size: int) -> OpenedRange:
        pool = self.pool
        bucket = self.signer.bucket
        try:
            with translate_errors(key, bucket=bucket):
                origin, target = Origin.split(self.signer.sign(key).url, pool.origins)
                request = get_request(target, origin.host_header, range_value)
                conn = pool.acquire(origin)
                if conn.used:
                    try:
                        _exchange(conn, request, chunk_size)
                    except ConnectionClosed:
                        conn.close()
                        if conn.reader.fed:
                            raise
                        conn = pool.connect(origin)  # closed by the server while idle: once more
                        _exchange_or_close(conn, request, chunk_size)
                    except BaseException:
                        conn.close()
                        raise
                else:
                    _exchange_or_close(conn, request, chunk_size)
        except StorageUnavailable as exc:
            raise _cut_short(key, exc) from exc.__cause__
        try:
            answer = self._answer(key, bucket, origin, conn, chunk_size)
        except BaseException:
            conn.close()
            raise
        if isinstance(answer, MediaKitError):
            raise answer
        return answer

    def _answer(
        self, key: str, bucket: str, origin: Origin, conn: SyncConnection, chunk_size: int
    ) -> OpenedRange | MediaKitError:
        """The opened range, or the error S3 answered (the connection then pooled)."""
        pool, reader = self.pool, conn.reader
        if reader.status >= 300:
            with translate_errors(key, bucket=bucket):
                while not reader.done and reader.buffered < _ERROR_BODY_LIMIT:
                    conn.receive()
            body = reader.take(_ERROR_BODY_LIMIT)
            pool.release(origin, conn)  # kept if the answer was read whole
            return error_of(reader.status, body, key=key, bucket=bucket)
        info, span = response_info(key, reader.headers)
        expected = 0 if span is None else span.length
        if expected > chunk_size:
            return OpenedRange(
                info, span, _SyncChunks(key, bucket, pool, origin, conn, expected, chunk_size)
            )
        try:
            with translate_errors(key, bucket=bucket):
                while not reader.done and reader.received <= expected:
                    conn.receive()
        except StorageUnavailable as exc:
            if isinstance(exc.__cause__, ConnectionClosed):
                raise _short(key, reader.received, expected) from exc
            raise
        if reader.received != expected:
            if reader.received < expected:
                raise _short(key, reader.received, expected)
            raise StorageError(f"The object store sent more bytes of {key!r} than declared.")
        data = reader.take(expected)
        pool.release(origin, conn)
        return OpenedRange(info, span, _SyncWhole(data))


def _exchange(conn: SyncConnection, request: bytes, upto: int) -> None:
    """Send ``request`` and read its response's head, and its body too if it is at most
    ``upto`` bytes (``Content-Length``; an error body up to 64 KiB)."""
    conn.send(request)
    reader = conn.reader
    while True:
        conn.receive()
        if reader.done:
            return
        if reader.head_done:
            limit = upto if reader.status < 300 else _ERROR_BODY_LIMIT
            if reader.length is None or reader.length > limit:
                return


def _exchange_or_close(conn: SyncConnection, request: bytes, upto: int) -> None:
    try:
        _exchange(conn, request, upto)
    except BaseException:
        conn.close()
        raise
