"""An in-memory object store: a thread-safe test double that passes the contract suite."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

import attrs

from mediakit.errors import ObjectNotFound, RangeNotSatisfiable
from mediakit.storage._common import check_span, open_range_via_head
from mediakit.storage._protocols import ByteSpan, MultipartUploadInfo, ObjectInfo, OpenedRange

__all__ = ["MemoryObjectStore"]


@attrs.define
class MemoryObjectStore:
    """:class:`~mediakit.storage.ObjectStore` in a dict, for tests and examples.

    It holds whole objects in memory, so ``put_stream`` is not memory-bounded; it has no
    multipart uploads, so ``list_multipart_uploads`` is always empty.
    """

    bucket: str = "mediakit"
    _objects: dict[str, tuple[ObjectInfo, bytes]] = attrs.field(factory=dict, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def ensure_bucket(self) -> None:
        """Nothing to create."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        """Store a copy of ``data``."""
        data = bytes(data)
        info = ObjectInfo(
            key=key,
            size=len(data),
            etag=f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
            last_modified=datetime.now(UTC),
            content_type=content_type,
        )
        with self._lock:
            self._objects[key] = (info, data)
        return info

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        """Collect ``chunks``, then store them; nothing is stored if the iterator raises."""
        return self.put_bytes(key, b"".join(chunks), content_type=content_type)

    def _get(self, key: str) -> tuple[ObjectInfo, bytes]:
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise ObjectNotFound(f"No object {key!r} in bucket {self.bucket!r}.")
        return found

    def head(self, key: str) -> ObjectInfo:
        """The stored object's info; raises ``ObjectNotFound``."""
        return self._get(key)[0]

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """Chunks of ``span`` (clamped to the end of the object)."""
        if span is not None:
            check_span(span)
        return self._read(key, span, chunk_size)

    def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = 256 * 1024
    ) -> OpenedRange:
        """See :meth:`~mediakit.storage.RangeOpener.open_range` (a HEAD costs nothing here)."""
        return open_range_via_head(self, key, first, last, chunk_size)

    def _read(self, key: str, span: ByteSpan | None, chunk_size: int) -> Iterator[bytes]:
        data = memoryview(self._get(key)[1])
        if span is not None:
            if span.first >= len(data):
                raise RangeNotSatisfiable(len(data))
            data = data[span.first : span.last + 1]
        for start in range(0, len(data), chunk_size):
            yield bytes(data[start : start + chunk_size])

    def delete(self, key: str) -> None:
        """Forget ``key``; a missing key is not an error."""
        with self._lock:
            self._objects.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        """Forget every key."""
        with self._lock:
            for key in keys:
                self._objects.pop(key, None)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """A sorted snapshot of the keys starting with ``prefix``."""
        with self._lock:
            keys = sorted(k for k in self._objects if k.startswith(prefix))
        return iter(keys)

    def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """Always empty: the memory store has no multipart uploads."""
        return []

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Nothing to abort."""
