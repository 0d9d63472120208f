"""Plain values shared by the pure core and the object stores.

They live here, not beside the storage protocols, so that the HTTP semantics in
:mod:`mediakit.http` can use them without importing any storage implementation.
:mod:`mediakit.storage` re-exports them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["AsyncClosable", "ByteSpan", "Closable", "MultipartUploadInfo", "ObjectInfo"]


@runtime_checkable
class Closable(Protocol):
    """Something holding a resource released by ``close()``: a generator of body chunks,
    a file, repositories owning an engine.

    Code given an ``Iterable[bytes]`` (or any object it may have to release) closes it
    with ``if isinstance(x, Closable): x.close()``: a list has nothing to close.
    """

    def close(self) -> None:
        """Release the resource (idempotent)."""
        ...


@runtime_checkable
class AsyncClosable(Protocol):
    """The asynchronous twin of :class:`Closable`: ``await x.aclose()`` (an async
    generator, an async store or client)."""

    async def aclose(self) -> None:
        """Release the resource (idempotent)."""
        ...


@attrs.frozen
class ObjectInfo:
    """What a HEAD tells about a stored object."""

    key: str
    size: int
    etag: str
    """The strong entity tag, quoted as in HTTP (``'"abc..."'``)."""
    last_modified: datetime
    content_type: str = "application/octet-stream"


@attrs.frozen
class ByteSpan:
    """An absolute, inclusive byte range ``first..last`` inside an object."""

    first: int
    last: int

    @property
    def length(self) -> int:
        """Number of bytes in the span."""
        return self.last - self.first + 1


@attrs.frozen
class MultipartUploadInfo:
    """An unfinished multipart upload."""

    key: str
    upload_id: str
    initiated: datetime
