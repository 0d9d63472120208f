"""The two storage protocols every object store implements."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

import attrs

from mediakit.values import ByteSpan, MultipartUploadInfo, ObjectInfo

__all__ = [
    "AsyncObjectStore",
    "AsyncOpenedRange",
    "AsyncRangeOpener",
    "ByteSpan",
    "MultipartUploadInfo",
    "ObjectInfo",
    "ObjectStore",
    "OpenedRange",
    "RangeOpener",
]


@runtime_checkable
class ObjectStore(Protocol):
    """A synchronous object store (boto3, filesystem, memory).

    Errors are mediakit errors: :class:`~mediakit.errors.ObjectNotFound`,
    :class:`~mediakit.errors.StorageError`, :class:`~mediakit.errors.StorageUnavailable`.
    """

    bucket: str

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        """Store the bytes of ``chunks`` under ``key`` in bounded memory.

        Large streams go up as a multipart upload, aborted on any failure, so a failed
        put leaves neither an object nor an open upload behind.
        """
        ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        """Store a small object in one request."""
        ...

    def head(self, key: str) -> ObjectInfo:
        """Metadata of ``key``; raises ``ObjectNotFound``."""
        ...

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """Stream the bytes of ``span`` (the whole object when ``None``) in chunks.

        ``span`` must lie inside the object: resolve client ranges against
        :meth:`head`'s size first (``mediakit.http`` does). S3-compatible servers disagree
        on suffix ranges (``bytes=-N``) and on spans past the end, so stores send only
        absolute ``bytes=first-last``. The request is made on the first ``next()``, where
        errors such as ``ObjectNotFound`` surface. The generator releases its connection
        or file when closed early.
        """
        ...

    def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is not an error."""
        ...

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete every key (batches of at most 1000, per-key errors retried)."""
        ...

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with ``prefix``, in lexicographic order."""
        ...

    def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """Unfinished multipart uploads under ``prefix`` (on the filesystem store: writes in
        progress or left behind by a crash; on the memory store: always empty)."""
        ...

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Abort one unfinished multipart upload; an unknown or finished one is not an error."""
        ...


@runtime_checkable
class AsyncObjectStore(Protocol):
    """The asynchronous twin of :class:`ObjectStore` (aioboto3, memory)."""

    bucket: str

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> ObjectInfo:
        """See :meth:`ObjectStore.put_stream`."""
        ...

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        """See :meth:`ObjectStore.put_bytes`."""
        ...

    async def head(self, key: str) -> ObjectInfo:
        """See :meth:`ObjectStore.head`."""
        ...

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        """See :meth:`ObjectStore.get_range`; an async generator, closed with ``aclose()``."""
        ...

    async def delete(self, key: str) -> None:
        """See :meth:`ObjectStore.delete`."""
        ...

    async def delete_many(self, keys: Sequence[str]) -> None:
        """See :meth:`ObjectStore.delete_many`."""
        ...

    def list_keys(self, prefix: str = "") -> AsyncIterator[str]:
        """See :meth:`ObjectStore.list_keys`."""
        ...

    async def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """See :meth:`ObjectStore.list_multipart_uploads`."""
        ...

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """See :meth:`ObjectStore.abort_multipart_upload`."""
        ...


class ClosableIterator(Protocol):
    """An iterator of body chunks that must be closed when not read to the end."""

    def __iter__(self) -> Iterator[bytes]: ...

    def __next__(self) -> bytes: ...

    def close(self) -> None:
        """Release the connection or file behind the chunks (idempotent)."""
        ...


class AsyncClosableIterator(Protocol):
    """The asynchronous twin of :class:`ClosableIterator` (``aclose()``)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None:
        """Release the connection behind the chunks (idempotent)."""
        ...


@attrs.frozen
class OpenedRange:
    """A GET whose response headers have arrived: the object's info, the span its body
    holds, and the body chunks (close them if not read to the end)."""

    info: ObjectInfo
    span: ByteSpan | None
    """The bytes ``chunks`` delivers (None: the object is empty and so is the body)."""
    chunks: ClosableIterator


@attrs.frozen
class AsyncOpenedRange:
    """The asynchronous twin of :class:`OpenedRange`."""

    info: ObjectInfo
    span: ByteSpan | None
    """The bytes ``chunks`` delivers (None: the object is empty and so is the body)."""
    chunks: AsyncClosableIterator


@runtime_checkable
class RangeOpener(Protocol):
    """An optional capability of an :class:`ObjectStore`: one GET that reports what a HEAD
    would, so the Range proxy needs one round trip, not two, for an object it has not
    seen. The built-in S3 and memory stores have it; a store without it is served by
    HEAD, then GET."""

    def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = 256 * 1024
    ) -> OpenedRange:
        """GET ``key`` from byte ``first`` to ``last`` (None: to the end), clamped to the
        object, and return once the response headers are in.

        ``first=0, last=None`` asks for the whole object without a ``Range`` header.
        Raises ``ObjectNotFound``, :class:`~mediakit.errors.RangeNotSatisfiable` when
        ``first`` lies past the end, and ``StorageError`` for anything else, including a
        server that refuses the range (some refuse a ``last`` past the end): callers fall
        back to HEAD and an exact span.
        """
        ...


@runtime_checkable
class AsyncRangeOpener(Protocol):
    """The asynchronous twin of :class:`RangeOpener`."""

    async def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = 256 * 1024
    ) -> AsyncOpenedRange:
        """See :meth:`RangeOpener.open_range`."""
        ...
