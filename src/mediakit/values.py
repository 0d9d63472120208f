"""Plain values shared by the pure core and the object stores.

They live here, not beside the storage protocols, so that the HTTP semantics in
:mod:`mediakit.http` can use them without importing any storage implementation.
:mod:`mediakit.storage` re-exports them.
"""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["ByteSpan", "MultipartUploadInfo", "ObjectInfo"]


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
