"""A store written the way a third party would: only mediakit's public API, every object in
a dict (the docs' example in docs/howto/testing.md, typed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from mediakit.errors import ObjectNotFound
from mediakit.storage import ByteSpan, MultipartUploadInfo, ObjectInfo


class DictStore:
    """An :class:`~mediakit.storage.ObjectStore` in a dict, written from the protocol."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[ObjectInfo, bytes]] = {}

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
        info = ObjectInfo(key, len(data), etag, datetime.now(UTC), content_type)
        self.objects[key] = (info, bytes(data))
        return info

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        # join first: a failing iterator stores nothing
        return self.put_bytes(key, b"".join(chunks), content_type=content_type)

    def head(self, key: str) -> ObjectInfo:
        if key not in self.objects:
            raise ObjectNotFound(f"no object {key!r}")
        return self.objects[key][0]

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        self.head(key)  # raises ObjectNotFound on the first next()
        data = self.objects[key][1]
        if span is not None:
            data = data[span.first : span.last + 1]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.delete(key)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))

    def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        return []  # no multipart uploads in a dict

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        pass
