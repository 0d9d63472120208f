"""``UploadPart`` bodies sent over mediakit's own HTTP/1.1 connections, from a thread.

Why hand-written: streaming uploads in bounded memory are mediakit's core competence, and
on the async store aiohttp was most of an upload's CPU beyond the unavoidable (hashing,
the kernel's copies). aiohttp writes a body in 64 KiB pieces on the event loop, each a
coroutine step and, once the socket buffer is full, a copy into the transport's buffer:
measured on 256 MiB to nanio over loopback, 0.73-0.75 s of user CPU through aiobotocore
against 0.30 s for the same signed requests written with ``sendall`` from a thread
(``python -m benchmarks.routes --only upload`` shows what it does to the route). The
sync store uses it too: its parts are then the caller's own chunks (no copy into a part
buffer, which urllib3 needs) and are hashed in the thread that sends them.

What is not hand-written: botocore still builds, signs (SigV4, the payload hash computed
beforehand: :class:`~mediakit.storage.s3_async._PrehashedS3SigV4Auth`), retries and
parses every request, and reads the answer's error codes. This module only moves the
bytes: it is a botocore ``before-send`` handler, the hook botocore offers for replacing
the transport of one operation. It sends the signed request on a
:class:`~mediakit.storage._http1.SyncPool` connection from a worker thread (async: the
socket calls, TLS included, release the GIL; the event loop never touches a byte of the
part) or from the sync store's part thread
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

import hashlib
import io
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import botocore.auth
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from mediakit.settings import Settings
from mediakit.storage._common import GatheredPart
from mediakit.storage._http1 import (
    ConnectionClosed,
    Origin,
    ReadTimeout,
    SyncConnection,
    SyncPool,
    TransportError,
)

__all__ = ["PREHASHED_SIGNER", "PartTransport"]

_SLICE = 1024 * 1024
"""Bytes per ``sendall``: the socket timeout bounds each slice (a stalled peer is
noticed within the read timeout, however long the whole part takes to send)."""

_MAX_ANSWER = 1024 * 1024
"""The most body an ``UploadPart`` answer may carry (an error document is a few hundred
bytes; a success has none)."""

_SKIPPED = frozenset({"host", "expect", "transfer-encoding", "connection"})
"""Request headers not copied: ``Host`` is written from the URL (as signed), the others
are hop-by-hop or ask for ``100-continue``, which this transport does not do."""


PREHASHED_SIGNER = "mediakit-s3v4-prehashed"
"""The signature version of ``UploadPart`` requests: :class:`_PrehashedS3SigV4Auth`."""


class _PrehashedS3SigV4Auth(S3SigV4Auth):
    """botocore's S3 SigV4, taking the SHA-256 of a part computed beforehand.

    Why: botocore hashes each part's payload for the signature (over plain HTTP, and
    over HTTPS when no checksum header is sent, as with ``MEDIA_S3_CHECKSUM_MODE=
    when_required``) while it signs, on the event loop: 8 ms per 10 MiB part during
    which the server serves nothing, and one core at most for a whole upload. The stores
    hash each part in a worker thread instead (``hashlib`` releases the GIL) and
    hands the digest over on the body (:attr:`_PartBody.sha256_hex`); the signature is
    exactly botocore's (same canonical request, same payload hash, checked by the
    server), only computed elsewhere. A body without a digest is hashed as botocore does.
    """

    def payload(self, request: Any) -> str:
        """The payload hash: the body's precomputed digest when there is one."""
        digest = getattr(request.body, "sha256_hex", None)
        if (
            digest is not None
            # botocore's own decisions, as its payload() takes them (the stubs omit them)
            and not self._is_streaming_checksum_payload(request)  # type: ignore[attr-defined]
            and self._should_sha256_sign_payload(request)  # type: ignore[attr-defined]
        ):
            return str(digest)
        return str(super().payload(request))


botocore.auth.AUTH_TYPE_MAPS.setdefault(PREHASHED_SIGNER, _PrehashedS3SigV4Auth)


def _choose_prehashed(signature_version: Any = None, **kwargs: Any) -> str | None:
    """botocore ``choose-signer`` handler for ``UploadPart``: SigV4 headers (not a
    presigned URL, not another scheme) are signed by :class:`_PrehashedS3SigV4Auth`."""
    return PREHASHED_SIGNER if signature_version == "s3v4" else None


class _PartBody(io.BytesIO):
    """The bytes of a part as the file-like body aiobotocore sends, read without copies.

    Why hand-written: given ``bytes``, botocore wraps them in ``io.BytesIO(data)``; aiohttp
    then takes its buffer (``getbuffer()`` un-shares it: a copy of the part), botocore's
    SigV4 payload hash (S3 over plain HTTP) reads it in 1 MiB copies and aiohttp sends it
    in 256 KiB copies: three copies of every byte. A ``bytearray`` body would be sent as
    it is, but aiohttp warns (``ResourceWarning``) for any byte body over 1 MB. This
    ``BytesIO`` hands out read-only ``memoryview`` slices of the part instead, which
    ``hashlib`` and the transport take as they are: the part is hashed and sent without a
    copy. It implements what those readers call (``read``, ``seek``, ``tell``,
    ``getbuffer``, ``readinto``); the part must not change until the request is answered.

    A part may also be a :class:`~mediakit.storage._common.GatheredPart` (the request's
    own chunks): the part transport (:mod:`mediakit.storage._part_http`) hashes and
    writes its :meth:`pieces` as they are; anything else that reads it (aiohttp, when
    the transport is not used for a request) gets copies joined as it asks.
    """

    def __init__(self, data: bytes | bytearray | GatheredPart) -> None:
        super().__init__()
        if isinstance(data, GatheredPart):
            self._pieces = [memoryview(p).toreadonly() for p in data.pieces]
        else:
            self._pieces = [memoryview(data).toreadonly()]
        self._size = sum(len(p) for p in self._pieces)
        self._view: memoryview | None = self._pieces[0] if len(self._pieces) == 1 else None
        self._pos = 0
        self.sha256_hex: str | None = None
        """The part's SHA-256 (hex) once :meth:`sha256_of_part` has run, for the signer."""

    def pieces(self) -> list[memoryview]:
        """The part's bytes as read-only views, in order (no copy)."""
        return self._pieces

    def sha256_of_part(self) -> str:
        """The SHA-256 of the whole part, hex (``hashlib`` releases the GIL: run it in a
        worker thread)."""
        digest = hashlib.sha256()
        for piece in self._pieces:
            digest.update(piece)
        return digest.hexdigest()

    def _whole(self) -> memoryview:
        """One view of the whole part (joined once, a copy, for a gathered part)."""
        if self._view is None:
            self._view = memoryview(bytearray().join(self._pieces)).toreadonly()
        return self._view

    def read(self, size: int | None = -1) -> memoryview:  # type: ignore[override]
        """The next ``size`` bytes (the rest when negative), as a view of the part."""
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        piece = self._whole()[self._pos : end]
        self._pos = max(self._pos, end)
        return piece

    read1 = read  # type: ignore[assignment]

    def readinto(self, buffer: Any) -> int:
        """Copy the next bytes into ``buffer``."""
        piece = self.read(len(memoryview(buffer).cast("B")))
        memoryview(buffer).cast("B")[: len(piece)] = piece
        return len(piece)

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        """Move the read position (as :meth:`io.BytesIO.seek`)."""
        if whence == io.SEEK_SET and pos < 0:
            raise ValueError(f"negative seek position {pos}")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + pos)  # relative seeks stop at the start, as BytesIO's
        return self._pos

    def tell(self) -> int:
        """The read position."""
        return self._pos

    def getbuffer(self) -> memoryview:
        """A view of the whole part (aiohttp measures the body with it)."""
        return self._whole()[:]

    def getvalue(self) -> bytes:
        """The part's bytes (a copy; nothing on the upload path calls it)."""
        return self._whole().tobytes()


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
    ) -> None:
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.pool_size = pool_size
        self.pool = self._new_pool()
        # its own tokens: parts in flight never take the app's worker threads (anyio's
        # default limiter), and at most ``pool_size`` are written at once
        self._limiter = anyio.CapacityLimiter(pool_size)
        self.parts_sent = 0
        """Parts this transport sent (a figure for tests and benchmarks)."""

    def register(self, client: Any, unique_id: str, *, asynchronous: bool) -> None:
        """Take over the ``UploadPart`` sends of an aiobotocore (``asynchronous``) or a
        boto3 ``client``."""
        handler = self.before_send_async if asynchronous else self.before_send
        client.meta.events.register("before-send.s3.UploadPart", handler, unique_id=unique_id)

    @classmethod
    def from_settings(cls, settings: Settings) -> PartTransport | None:
        """The stores' transport for ``settings`` (their timeouts and pool size), or
        ``None`` when ``MEDIA_S3_FAST_UPLOADS`` is off or the environment routes the
        endpoint through a proxy (then botocore sends every part)."""
        from mediakit.storage._ranged_http import fast_path_allowed

        if not (settings.s3_fast_uploads and fast_path_allowed(settings)):
            return None
        return cls(
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            pool_size=settings.s3_max_pool_connections,
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
        body = request.body
        if type(body) is not _PartBody:
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

    def before_send(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        """botocore ``before-send`` handler (the sync store; it runs in the thread that
        sends the part): send ``request`` if its body is a part."""
        body = request.body
        if type(body) is not _PartBody:
            return None
        status, headers, content = self.exchange(
            request.method, request.url, request.headers, body.pieces()
        )
        answer: Any = HeadersDict(headers)  # case-insensitive, as botocore reads them
        return AWSResponse(request.url, status, answer, _Answer(content))

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
