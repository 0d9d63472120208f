"""Pure helpers shared by the object stores: no I/O, no boto3, no event loop.

The sync (boto3) and async (aioboto3) S3 stores only sequence requests; the decisions
they share (how a span becomes a ``Range`` header, how a stream is cut into parts and
the parts numbered for ``CompleteMultipartUpload``, how keys are batched and retried for
``DeleteObjects``, what a response tells about an object) live here so the two shells
cannot drift apart. The loops that need a request sent are generators of requests
(:func:`delete_requests`) or bookkeeping objects (:class:`UploadedParts`): each store
sends them with its own client, sync or async.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from mediakit.errors import RangeNotSatisfiable, StorageError
from mediakit.settings import Settings
from mediakit.storage._protocols import ByteSpan, ObjectInfo, ObjectStore, OpenedRange
from mediakit.values import Closable

__all__ = [
    "CONTENT_MD5_EVENT",
    "add_content_md5",
    "DELETE_ATTEMPTS",
    "INTERNAL_DIR",
    "MAX_DELETE_BATCH",
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "DeleteRequest",
    "GatheredPart",
    "Overlap",
    "PartAssembler",
    "PartGatherer",
    "UploadedParts",
    "batches",
    "check_part_count",
    "check_span",
    "client_config_kwargs",
    "client_kwargs",
    "delete_failure",
    "delete_requests",
    "failed_delete_keys",
    "get_info",
    "has_etag",
    "head_info",
    "key_parts",
    "put_info",
    "quote_etag",
    "range_header",
]

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest allowed part (every part but the last)."""
MAX_PARTS = 10_000
"""S3's largest part number."""
MAX_DELETE_BATCH = 1000
"""Most keys one ``DeleteObjects`` request may name."""
DELETE_ATTEMPTS = 4
"""Tries per batch before per-key delete errors are reported."""


def check_span(span: ByteSpan) -> ByteSpan:
    """Return ``span`` if it is a valid absolute span, else raise ``ValueError``."""
    if span.first < 0 or span.last < span.first:
        raise ValueError(f"invalid byte span {span.first}-{span.last}: need 0 <= first <= last")
    return span


INTERNAL_DIR = ".mediakit"
"""The filesystem store's own directory inside a bucket; no key may start with it."""


def key_parts(key: str) -> list[str]:
    """The path segments of ``key``, refusing anything that could leave the bucket.

    Keys come from :mod:`mediakit.keys`, but this store is defensive: no empty or
    absolute keys, no ``.``/``..``/empty segments, no NUL or backslash, no segment
    over 255 bytes, and nothing under the store's own ``.mediakit`` directory.
    """
    if not key or len(key.encode("utf-8", "surrogatepass")) > 1024:
        raise ValueError(f"object key must be 1 to 1024 bytes, got {key!r}")
    if "\x00" in key or "\\" in key or key.startswith("/"):
        raise ValueError(f"object key {key!r} contains a NUL, a backslash or a leading '/'")
    parts = key.split("/")
    for part in parts:
        if part in {"", ".", ".."} or len(part.encode("utf-8", "surrogatepass")) > 255:
            raise ValueError(f"object key {key!r} has an empty, '.', '..' or too long segment")
    if parts[0] == INTERNAL_DIR:
        raise ValueError(f"object key {key!r} uses the reserved prefix {INTERNAL_DIR!r}")
    return parts


def range_header(span: ByteSpan) -> str:
    """The absolute ``Range`` header for ``span``: ``bytes=first-last``.

    ``get_range`` never sends suffix (``bytes=-N``) or open (``bytes=N-``) ranges:
    S3-compatible servers disagree on them, so spans are resolved against the object size
    before the request (see :mod:`mediakit.http`). The one exception is
    :func:`open_range_header`, whose caller falls back to exactly this form.
    """
    check_span(span)
    return f"bytes={span.first}-{span.last}"


_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19})", re.IGNORECASE)


def open_range_header(first: int, last: int | None) -> str | None:
    """The ``Range`` header of :meth:`~mediakit.storage.RangeOpener.open_range`: None for the
    whole object, else ``bytes=first-`` or ``bytes=first-last``.

    The one place mediakit sends an open range: the object's size is not known yet. S3,
    MinIO, Ceph and moto clamp it per RFC 9110; a server that refuses it makes the proxy
    fall back to HEAD and an exact span.
    """
    if first < 0 or (last is not None and last < first):
        raise ValueError(f"invalid byte range {first}-{last}")
    if first == 0 and last is None:
        return None
    return f"bytes={first}-{'' if last is None else last}"


def opened_span(content_range: str | None, content_length: int) -> tuple[ByteSpan | None, int]:
    """The span a GET response holds and the object's size, from its ``Content-Range``
    (a 206) or, without one, its ``Content-Length`` (a 200: the whole object).

    Raises ``ValueError`` for a ``Content-Range`` that is not ``bytes first-last/size``.
    """
    if content_range is None:
        return (ByteSpan(0, content_length - 1) if content_length > 0 else None), content_length
    match = _CONTENT_RANGE.fullmatch(content_range.strip())
    if match is None:
        raise ValueError(f"unexpected Content-Range {content_range!r}")
    span = ByteSpan(int(match[1]), int(match[2]))
    total = int(match[3])
    if span.last < span.first or span.last >= total or span.length != content_length:
        raise ValueError(
            f"Content-Range {content_range!r} does not match Content-Length {content_length}"
        )
    return span, total


def open_range_via_head(
    store: ObjectStore, key: str, first: int, last: int | None, chunk_size: int
) -> OpenedRange:
    """:meth:`~mediakit.storage.RangeOpener.open_range` for any store: ``head``, then a lazy
    ``get_range``. For local stores, where a HEAD costs no round trip, and for wrapping a
    store that lacks the capability."""
    open_range_header(first, last)  # validates
    info = store.head(key)
    if info.size == 0 and first == 0 and last is None:
        return OpenedRange(info, None, _relay(iter(())))
    if first >= info.size:
        raise RangeNotSatisfiable(info.size)
    span = ByteSpan(first, info.size - 1 if last is None else min(last, info.size - 1))
    return OpenedRange(info, span, _relay(store.get_range(key, span, chunk_size=chunk_size)))


def _relay(chunks: Iterator[bytes]) -> Generator[bytes, None, None]:
    try:
        yield from chunks
    finally:
        if isinstance(chunks, Closable):
            chunks.close()


def quote_etag(etag: str) -> str:
    """The entity tag quoted as in HTTP (``"abc"``), whatever the server returned."""
    if etag.startswith(("W/", '"')):
        return etag
    return f'"{etag}"'


def batches(keys: Sequence[str], size: int = MAX_DELETE_BATCH) -> Iterator[list[str]]:
    """``keys`` cut into lists of at most ``size``, duplicates dropped, order kept."""
    if size <= 0:
        raise ValueError("batch size must be positive")
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def failed_delete_keys(response: Mapping[str, Any]) -> dict[str, str]:
    """Keys a ``DeleteObjects`` response reports as failed, with their error codes.

    A missing key (``NoSuchKey``) counts as deleted, so it is not a failure.
    """
    failed: dict[str, str] = {}
    for err in response.get("Errors", ()) or ():
        code = str(err.get("Code", ""))
        if code != "NoSuchKey" and "Key" in err:
            failed[str(err["Key"])] = code or "unknown"
    return failed


def delete_failure(bucket: str, failed: dict[str, str]) -> StorageError:
    """The error reported when keys still fail after every delete attempt."""
    key, code = next(iter(failed.items()))
    return StorageError(
        f"Could not delete {len(failed)} object(s) from bucket {bucket!r} after "
        f"{DELETE_ATTEMPTS} attempts, e.g. {key!r}: {code}. Retry later; the keys are unchanged."
    )


@attrs.define
class DeleteRequest:
    """One ``DeleteObjects`` call planned by :func:`delete_requests`: wait ``delay``
    seconds, send ``client.delete_objects(**kwargs)``, store the answer in ``response``."""

    kwargs: dict[str, Any]
    delay: float = 0.0
    response: Mapping[str, Any] | None = None


def delete_requests(bucket: str, keys: Sequence[str]) -> Iterator[DeleteRequest]:
    """The ``DeleteObjects`` calls deleting ``keys``, sans I/O (both S3 stores send them).

    Batches of at most :data:`MAX_DELETE_BATCH` (Quiet mode); the keys a response reports
    as failed are sent again, up to :data:`DELETE_ATTEMPTS` times with a doubling delay,
    then :func:`delete_failure` is raised. The caller sets each request's ``response``
    before asking for the next one::

        for request in delete_requests(bucket, keys):
            time.sleep(request.delay)
            request.response = client.delete_objects(**request.kwargs)
    """
    for batch in batches(keys):
        failed: dict[str, str] = {}
        for attempt in range(DELETE_ATTEMPTS):
            request = DeleteRequest(
                {
                    "Bucket": bucket,
                    "Delete": {"Objects": [{"Key": k} for k in batch], "Quiet": True},
                },
                delay=0.1 * 2**attempt if attempt else 0.0,
            )
            yield request
            if request.response is None:
                raise RuntimeError("delete_requests: set each request's response before the next")
            failed = failed_delete_keys(request.response)
            if not failed:
                break
            batch = list(failed)
        else:
            raise delete_failure(bucket, failed)


class UploadedParts:
    """The parts of one multipart upload, sans I/O: the ``UploadPart`` requests in order
    (numbered from 1) and the ETags S3 answered, for ``CompleteMultipartUpload``."""

    def __init__(self, bucket: str, key: str, upload_id: str) -> None:
        self.bucket, self.key, self.upload_id = bucket, key, upload_id
        self._parts: list[dict[str, Any]] = []
        self._numbered = 0

    def upload_request(self, data: bytes | bytearray | io.BytesIO | GatheredPart) -> dict[str, Any]:
        """The arguments of ``client.upload_part`` sending ``data`` as the next part."""
        self._numbered += 1
        return {
            "Bucket": self.bucket,
            "Key": self.key,
            "UploadId": self.upload_id,
            "PartNumber": self._numbered,
            "Body": data,
        }

    def uploaded(self, request: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        """Record the answer to ``request`` (one of :meth:`upload_request`)."""
        self._parts.append({"PartNumber": request["PartNumber"], "ETag": response["ETag"]})

    def complete_request(self) -> dict[str, Any]:
        """The arguments of ``client.complete_multipart_upload`` for the parts sent
        (in part-number order, whatever order their answers came in)."""
        return {
            "Bucket": self.bucket,
            "Key": self.key,
            "UploadId": self.upload_id,
            "MultipartUpload": {"Parts": sorted(self._parts, key=lambda p: p["PartNumber"])},
        }


def has_etag(etag: str) -> bool:
    """Whether a response's ETag says something (not missing, empty or ``""``)."""
    return bool(etag.strip().removeprefix("W/").strip('"'))


def put_info(key: str, size: int, etag: str, content_type: str) -> ObjectInfo:
    """What a PUT tells; ``last_modified`` is the local clock at completion."""
    return ObjectInfo(
        key=key,
        size=size,
        etag=quote_etag(etag),
        last_modified=datetime.now(UTC),
        content_type=content_type,
    )


def get_info(key: str, resp: Mapping[str, Any]) -> tuple[ObjectInfo, ByteSpan | None]:
    """The :class:`ObjectInfo` of a ``GetObject`` response, and the span its body holds.

    Raises :class:`~mediakit.errors.StorageError` when the response's ``Content-Range``
    and ``Content-Length`` do not describe a span of the object.
    """
    try:
        span, size = opened_span(resp.get("ContentRange"), resp["ContentLength"])
    except ValueError as exc:
        raise StorageError(f"The object store answered a GET of {key!r} oddly: {exc}") from exc
    info = ObjectInfo(
        key=key,
        size=size,
        etag=quote_etag(resp["ETag"]),
        last_modified=resp["LastModified"],
        content_type=resp.get("ContentType") or "application/octet-stream",
    )
    return info, span


def head_info(key: str, resp: Mapping[str, Any]) -> ObjectInfo:
    """The :class:`ObjectInfo` of a ``HeadObject`` response."""
    return ObjectInfo(
        key=key,
        size=resp["ContentLength"],
        etag=quote_etag(resp["ETag"]),
        last_modified=resp["LastModified"],
        content_type=resp.get("ContentType") or "application/octet-stream",
    )


class Overlap:
    """How many uploads of one store may send a part while they read the next one.

    Such an upload holds two parts (one in flight, one filling) and keeps the client and
    S3 transferring at once; the others send each part before reading on and hold one.
    One upload alone always overlaps; many concurrent ones overlap each other anyway,
    so the slots bound their memory at about one part each plus the slots. Thread-safe.
    """

    def __init__(self, slots: int) -> None:
        if slots < 0:
            raise ValueError(f"overlap slots must be 0 or more, got {slots}")
        self._free = threading.BoundedSemaphore(slots) if slots else None

    def take(self) -> bool:
        """Take a slot if one is free (never waits)."""
        return self._free is not None and self._free.acquire(blocking=False)

    def give_back(self) -> None:
        """Return a slot :meth:`take` gave."""
        assert self._free is not None
        self._free.release()


def check_part_count(parts: int, part_size: int) -> None:
    """Refuse a stream that needs more parts than S3 allows (:data:`MAX_PARTS`)."""
    if parts > MAX_PARTS:
        raise StorageError(
            f"The stream is larger than {MAX_PARTS} parts of {part_size} bytes; "
            "raise MEDIA_UPLOAD_PART_SIZE."
        )


class PartAssembler:
    """Cuts a stream of chunks of any size into parts of exactly ``part_size`` bytes,
    copying each byte once.

    A part is a ``bytearray`` handed out whole, so the store can send it as it is: both
    S3 clients hash and send a ``bytearray`` without copying it again. Give a part back
    with :meth:`release` once it has been sent, and the next part is written into its
    memory (slice assignment from each chunk); an upload then reuses the same buffers
    from part to part (no allocation, no page faults, nothing for the allocator to
    fragment). The first chunks of a stream are gathered as they are (references, no
    copy) up to :attr:`_GATHER` bytes, so a small stream (an image) holds about its own
    size and is joined once at the end; past that, and for every later part with no
    released buffer to reuse, the part is written into a whole new buffer (never a
    growing one, reallocated and copied again and again).

    Memory stays bounded by the parts the caller holds plus the one being gathered,
    whatever the stream's size. Hand-written because it is the core of the
    bounded-memory guarantee.
    """

    _GATHER = 1024 * 1024
    """The first part is gathered up to this size, then filled into a whole part."""

    def __init__(self, part_size: int, *, minimum: int = MIN_PART_SIZE, spares: int = 1) -> None:
        """``spares``: released parts kept for reuse; a new part takes its buffer when
        its first byte arrives, so a store with ``n`` parts in flight cycles through
        ``n + 1`` buffers with ``n`` spares."""
        if part_size < max(1, minimum):
            raise ValueError(f"part size must be at least {minimum} bytes, got {part_size}")
        self.part_size = part_size
        self._max_spares = max(0, spares)
        self._buf: bytearray | None = None  # a released part being refilled
        self._gathered: list[bytes | memoryview] = []  # or the pieces of a new one
        self._fill = 0
        self._spares: list[bytearray] = []
        self.parts_out = 0
        self.total = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[bytearray]:
        """Add ``chunk``; return the parts it completes (usually none or one).

        Each returned part is the caller's until it is passed to :meth:`release`; send
        it and drop it (or release it) before asking for many more, so memory stays at
        a few parts. ``chunk`` is not copied when it is ``bytes`` (it is kept until its
        part is complete); a mutable chunk is copied.
        """
        size = len(chunk)
        self.total += size
        parts: list[bytearray] = []
        view = chunk if size <= self.part_size - self._fill else memoryview(chunk)
        immutable = type(chunk) is bytes
        pos = 0
        while pos < size:
            take = min(self.part_size - self._fill, size - pos)
            piece = view if take == size else view[pos : pos + take]
            if self._buf is None and (self.parts_out or self._fill + take > self._GATHER):
                self._whole_buffer()
            if self._buf is not None:
                self._buf[self._fill : self._fill + take] = piece
            else:
                if immutable and not isinstance(piece, bytearray):
                    self._gathered.append(piece)
                else:
                    self._gathered.append(bytes(piece))
            self._fill += take
            pos += take
            if self._fill == self.part_size:
                parts.append(self._take())
                self.parts_out += 1
                check_part_count(self.parts_out, self.part_size)
        return parts

    def _whole_buffer(self) -> None:
        """Fill the rest of this part in place: into a released part, else a new whole
        one, with what was gathered so far copied in (joining a whole part's pieces
        would hold it twice at the end)."""
        buf = self._spares.pop() if self._spares else bytearray(self.part_size)
        if self._fill:
            buf[: self._fill] = bytearray().join(self._gathered)
        self._buf, self._gathered = buf, []

    def _take(self) -> bytearray:
        """The part filled so far, and a fresh start."""
        buf = self._buf
        if buf is None:
            buf = bytearray().join(self._gathered)
        elif self._fill < len(buf):
            try:
                del buf[self._fill :]  # in place: a buffer nothing views any more
            except BufferError:  # something still views the released part: copy out
                buf = buf[: self._fill]
        self._buf, self._gathered, self._fill = None, [], 0
        return buf

    def release(self, part: bytearray | GatheredPart) -> None:
        """Give back a part returned by :meth:`feed` once it is sent (nothing may read
        it afterwards): a later part is written into its memory."""
        if (
            isinstance(part, bytearray)
            and len(part) == self.part_size
            and len(self._spares) < self._max_spares
        ):
            self._spares.append(part)

    def drop_spares(self) -> None:
        """Forget the released parts kept for reuse (an upload that has lost its parts
        in flight needs one buffer, not the window's)."""
        self._spares.clear()

    def rest(self) -> bytearray:
        """The bytes that did not fill a whole part (the last, short part)."""
        return self._take()


class GatheredPart:
    """A part as the chunks it was received in (references, not copies)."""

    __slots__ = ("pieces", "size")

    def __init__(self, pieces: list[bytes | bytearray | memoryview], size: int) -> None:
        self.pieces, self.size = pieces, size

    def __len__(self) -> int:
        return self.size

    def join(self) -> bytearray:
        """The part's bytes in one buffer (a copy)."""
        return bytearray().join(self.pieces)


class PartGatherer:
    """:class:`PartAssembler`'s interface, for a sender that takes a part as a list of
    buffers (the stores' part transport): parts are the stream's own chunks, gathered by
    reference, so no byte of a part is copied in user space on its way from the request
    to the socket.

    Chunks under :attr:`COALESCE` bytes are copied into a buffer of that size instead
    (as are mutable chunks, which the caller may reuse): a client trickling a byte at a
    time must not turn a part into millions of objects. So a part holds ``part_size``
    bytes in pieces of at least about :attr:`COALESCE` bytes, and memory stays what the
    assembler's is. Hand-written for the reason the assembler is.
    """

    COALESCE = 64 * 1024
    """Chunks smaller than this are copied together into pieces of this size."""

    def __init__(self, part_size: int, *, minimum: int = MIN_PART_SIZE) -> None:
        if part_size < max(1, minimum):
            raise ValueError(f"part size must be at least {minimum} bytes, got {part_size}")
        self.part_size = part_size
        self._pieces: list[bytes | bytearray | memoryview] = []
        self._tail: bytearray | None = None  # the last piece, while small chunks fill it
        self._fill = 0
        self.parts_out = 0
        self.total = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[GatheredPart]:
        """Add ``chunk``; return the parts it completes (see :meth:`PartAssembler.feed`)."""
        size = len(chunk)
        self.total += size
        small = size < self.COALESCE
        if not small and type(chunk) is not bytes:
            chunk = bytes(chunk)  # the caller may reuse a mutable buffer
        parts: list[GatheredPart] = []
        view: memoryview | None = None
        pos = 0
        while pos < size:
            take = min(self.part_size - self._fill, size - pos)
            if take == size:
                piece: bytes | bytearray | memoryview = chunk
            else:
                view = memoryview(chunk) if view is None else view
                piece = view[pos : pos + take]
            if small:
                tail = self._tail
                if tail is None or len(tail) >= self.COALESCE:
                    tail = self._tail = bytearray()
                    self._pieces.append(tail)
                tail += piece
            else:
                self._pieces.append(piece)
                self._tail = None
            self._fill += take
            pos += take
            if self._fill == self.part_size:
                parts.append(self._take())
                self.parts_out += 1
                check_part_count(self.parts_out, self.part_size)
        return parts

    def _take(self) -> GatheredPart:
        part = GatheredPart(self._pieces, self._fill)
        self._pieces, self._tail, self._fill = [], None, 0
        return part

    def release(self, part: GatheredPart | bytearray) -> None:
        """Drop a sent part's chunks (nothing is reused: the chunks were the stream's)."""
        if isinstance(part, GatheredPart):
            part.pieces = []

    def drop_spares(self) -> None:
        """Nothing to drop: no buffer is kept for reuse."""

    def rest(self) -> bytearray:
        """The bytes that did not fill a whole part, in one buffer (one copy of less than
        a part: the last part, or a stream small enough for a single ``PutObject``)."""
        return self._take().join()


CONTENT_MD5_EVENT = "before-call.s3.DeleteObjects"
"""The botocore event :func:`add_content_md5` is registered on."""


def add_content_md5(params: dict[str, Any], **kwargs: Any) -> None:
    """botocore handler: give ``DeleteObjects`` the ``Content-MD5`` header it used to carry.

    Since botocore 1.36 a required checksum is sent as CRC32 only; AWS accepts that, but
    many S3-compatible services (Ceph-based ones, MinIO gateways, OVH, CubeFS...) still
    demand ``Content-MD5`` and answer ``MissingContentMD5``. Sending both satisfies all.
    """
    body = params.get("body")
    headers = params.get("headers")
    if isinstance(body, bytes | bytearray) and headers is not None and "Content-MD5" not in headers:
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        headers["Content-MD5"] = base64.b64encode(digest).decode("ascii")


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Endpoint, region and credentials for ``boto3``/``aioboto3`` ``client("s3", ...)``."""
    kwargs: dict[str, Any] = {"region_name": settings.s3_region}
    if settings.s3_endpoint:
        kwargs["endpoint_url"] = settings.s3_endpoint
    if settings.s3_access_key_id:
        kwargs["aws_access_key_id"] = settings.s3_access_key_id
        kwargs["aws_secret_access_key"] = settings.s3_secret_access_key
        if settings.s3_session_token:
            kwargs["aws_session_token"] = settings.s3_session_token
    return kwargs


def client_config_kwargs(settings: Settings) -> dict[str, Any]:
    """Arguments of botocore's ``Config`` (and aiobotocore's ``AioConfig``).

    Path-style addressing by default, SigV4, standard retries, the pool size, and the
    checksum mode: ``when_required`` stops recent botocore from sending CRC checksums
    that several S3-compatible services reject.

    Every wait is bounded by settings: ``MEDIA_S3_CONNECT_TIMEOUT`` and
    ``MEDIA_S3_READ_TIMEOUT`` per attempt, ``MEDIA_S3_MAX_ATTEMPTS`` attempts (the
    ``standard`` retry mode backs off at most a second or two between them), so an
    endpoint that accepts connections and never answers costs at most about
    ``attempts x (read timeout + backoff)`` (about 10 s by default) before the call
    raises :class:`~mediakit.errors.StorageUnavailable` (a 503 with ``Retry-After``),
    and one that refuses connections fails in well under a second.
    """
    return {
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path" if settings.s3_path_style else "auto"},
        "request_checksum_calculation": settings.s3_checksum_mode,
        "response_checksum_validation": settings.s3_checksum_mode,
        "retries": {"mode": "standard", "total_max_attempts": settings.s3_max_attempts},
        "max_pool_connections": settings.s3_max_pool_connections,
        "connect_timeout": settings.s3_connect_timeout,
        "read_timeout": settings.s3_read_timeout,
    }
