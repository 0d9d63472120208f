"""mediakit's parts in an app's own endpoints: the Range proxy for any key, and upload
limits with content sniffing for any upload route.

These helpers know nothing of mediakit's models or service: the app keeps its own
tables and keys. Their errors are Starlette ``HTTPException`` (the app's exception
handlers shape them, as for the app's own errors), raised ``from`` the
:class:`~mediakit.errors.MediaKitError` that says what went wrong.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Iterator

import attrs
from fastapi import Request
from starlette.exceptions import HTTPException

from mediakit.errors import MediaKitError
from mediakit.http.plan import DEFAULT_CACHE_CONTROL
from mediakit.proxy import DEFAULT_CHUNK_SIZE, ObjectInfoCache, open_async
from mediakit.storage import AsyncObjectStore, ObjectInfo
from mediakit.uploads import AsyncFilePart, AsyncMultipartReader, FormField, UploadLimits
from mediakit.uploads.sniff import SNIFF_BYTES, check_type, detect_type
from mediakit_fastapi._routing import ClosingStreamingResponse

__all__ = ["UploadedFile", "checked_uploads", "http_errors", "range_response"]


@contextlib.contextmanager
def http_errors() -> Iterator[None]:
    """Turn a :class:`~mediakit.errors.MediaKitError` raised inside into an ``HTTPException``
    with its status, its headers and its message (the public one for server faults)."""
    try:
        yield
    except MediaKitError as exc:
        detail = exc.message if exc.http_status < 500 else exc.public_message
        raise HTTPException(exc.http_status, detail, headers=exc.headers or None) from exc


async def range_response(
    store: AsyncObjectStore,
    key: str,
    request: Request,
    *,
    content_type: str | None = None,
    disposition: str | None = None,
    info: ObjectInfo | None = None,
    info_cache: ObjectInfoCache | None = None,
    cache_control: str = DEFAULT_CACHE_CONTROL,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ClosingStreamingResponse:
    """The response serving ``key`` from ``store`` to ``request``, as the Range proxy does.

    Answers ``200``, ``206`` (one range), ``304`` (``If-None-Match``,
    ``If-Modified-Since``), ``412`` (``If-Match``, ``If-Unmodified-Since``) and ``416``,
    with ``Accept-Ranges``, ``ETag``, ``Last-Modified`` and ``Content-Range``; a HEAD
    gets the GET's headers and no body. The bytes stream in ``chunk_size`` pieces (memory
    stays bounded) and the store's stream is closed however the response ends.

    Args:
        store: an async store (a sync one goes through
            [`ThreadedAsyncStore`][mediakit.storage.ThreadedAsyncStore]).
        key: the object to serve: any key, mediakit's layout or the app's own.
        request: the request (its method and headers decide the answer).
        content_type: the ``Content-Type`` to send; the stored one when ``None``.
        disposition: a ``Content-Disposition`` (see
            [`content_disposition`][mediakit.http.content_disposition]).
        info: the object's size, ETag and date when the app knows them (its own row):
            the store is then not asked first.
        info_cache: an [`ObjectInfoCache`][mediakit.proxy.ObjectInfoCache] for keys
            written once and never overwritten.
        cache_control: the ``Cache-Control`` header.
        chunk_size: bytes per read from the store.

    Raises:
        HTTPException: 404 when the object does not exist, 502/503 when the store
            fails (before any header is sent; a failure mid-body aborts the response).
    """
    with http_errors():
        opened = await open_async(
            store,
            key,
            request.method,
            request.headers,
            info=info,
            info_cache=info_cache,
            content_type=content_type,
            disposition=disposition,
            cache_control=cache_control,
            chunk_size=chunk_size,
        )
    return ClosingStreamingResponse(opened, status_code=opened.status, headers=dict(opened.headers))


@attrs.define
class UploadedFile:
    """A file of an upload whose content passed the type check; read it once with
    :meth:`chunks` (the size caps are enforced as the bytes arrive)."""

    part: AsyncFilePart
    content_type: str
    """The type read from the content (libmagic), one of the allowed types; never the
    client's claim."""

    @property
    def filename(self) -> str:
        """The client's file name: metadata only, never a path or a key."""
        return self.part.filename

    @property
    def field_name(self) -> str:
        """The form field the file came in."""
        return self.part.field_name

    @property
    def size(self) -> int:
        """Bytes read so far (the file's size once :meth:`chunks` is consumed)."""
        return self.part.size

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; ``HTTPException`` 413 past a size cap.

        Hand it to ``store.put_stream``: a failure mid-file aborts the store's upload.
        """
        with http_errors():
            async for chunk in self.part.chunks():
                yield chunk


async def checked_uploads(
    request: Request,
    *,
    allowed: Collection[str],
    limits: UploadLimits | None = None,
    kind: str = "file",
) -> AsyncIterator[UploadedFile | FormField]:
    """The items of a ``multipart/form-data`` request, streamed, with mediakit's checks.

    Form fields come as [`FormField`][mediakit.uploads.FormField]; files as
    :class:`UploadedFile` once their first bytes were sniffed and their type found in
    ``allowed`` (e.g. [`IMAGE_TYPES`][mediakit.uploads.IMAGE_TYPES]). Nothing is spooled
    to disk; read each file before asking for the next item.

    Errors (``HTTPException``): 415 for a request that is not multipart or a file of
    another type (naming the file and the type found), 413 when the request or a file
    passes its cap in ``limits`` (a declared ``Content-Length`` over the request cap
    is refused before reading), 400 for a malformed body or too many files or fields.

    Args:
        request: the request, read through ``request.stream()``.
        allowed: the media types to accept, as libmagic names them (normalized).
        limits: the caps; [`UploadLimits`][mediakit.uploads.UploadLimits]'s defaults
            when ``None``.
        kind: what the files are, for the messages (``"image"``, ``"audio"`` also
            accepts MP4 audio that libmagic calls ``video/mp4``).
    """
    accept = frozenset(allowed)
    with http_errors():
        reader = AsyncMultipartReader(
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
            limits=limits if limits is not None else UploadLimits(),
        )
        items = aiter(reader)
        while True:
            try:
                item = await anext(items)
            except StopAsyncIteration:
                return
            if isinstance(item, FormField):
                yield item
                continue
            head = await item.read_head(SNIFF_BYTES)
            found = check_type(detect_type(head), accept, filename=item.filename, kind=kind)
            yield UploadedFile(item, found)
