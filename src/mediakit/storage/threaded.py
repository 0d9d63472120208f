"""Any synchronous :class:`ObjectStore` as an :class:`AsyncObjectStore`, via worker threads.

This bridge is for local stores (filesystem, memory) under ASGI, whose calls are short
disk or memory operations. S3 should use :class:`~mediakit.storage.AsyncS3ObjectStore`,
which streams without a thread per request.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Sequence

import anyio
import anyio.from_thread
import anyio.to_thread
import attrs

from mediakit.storage._common import open_range_via_head
from mediakit.storage._protocols import (
    AsyncOpenedRange,
    ByteSpan,
    ClosableIterator,
    MultipartUploadInfo,
    ObjectInfo,
    ObjectStore,
    RangeOpener,
)
from mediakit.values import Closable

__all__ = ["ThreadedAsyncStore"]

_LIST_BATCH = 1000


class _ThreadedChunks:
    """Sync chunks read one by one in a worker thread."""

    def __init__(self, chunks: ClosableIterator) -> None:
        self._chunks = chunks

    def __aiter__(self) -> _ThreadedChunks:
        return self

    async def __anext__(self) -> bytes:
        chunk: bytes | None = await anyio.to_thread.run_sync(next, self._chunks, None)
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Close the sync chunks (a file or nothing: cheap enough for the loop)."""
        self._chunks.close()


@attrs.define
class ThreadedAsyncStore:
    """Runs each call of ``store`` in anyio's worker threads."""

    store: ObjectStore
    bucket: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.bucket = self.store.bucket

    async def aclose(self) -> None:
        """Nothing to release (present for symmetry with the S3 store)."""

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> ObjectInfo:
        """Run the sync ``put_stream`` in a thread, pulling each chunk from the event loop."""
        ait = aiter(chunks)

        async def pull() -> bytes | None:
            try:
                return await anext(ait)
            except StopAsyncIteration:
                return None

        def pulled() -> Iterator[bytes]:
            while (chunk := anyio.from_thread.run(pull)) is not None:
                yield chunk

        return await anyio.to_thread.run_sync(
            functools.partial(self.store.put_stream, key, pulled(), content_type=content_type)
        )

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        """See :meth:`ObjectStore.put_bytes`."""
        return await anyio.to_thread.run_sync(
            functools.partial(self.store.put_bytes, key, data, content_type=content_type)
        )

    async def head(self, key: str) -> ObjectInfo:
        """See :meth:`ObjectStore.head`."""
        return await anyio.to_thread.run_sync(self.store.head, key)

    async def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        """Each chunk read in a thread; ``aclose()`` closes the sync generator."""
        gen = self.store.get_range(key, span, chunk_size=chunk_size)
        try:
            while (chunk := await anyio.to_thread.run_sync(next, gen, None)) is not None:
                yield chunk
        finally:
            if isinstance(gen, Closable):
                gen.close()  # local stores close a file or nothing: cheap enough for the loop

    async def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = 256 * 1024
    ) -> AsyncOpenedRange:
        """The store's ``open_range`` (or HEAD and a lazy GET) in a thread, each chunk read
        in a thread; see :meth:`~mediakit.storage.RangeOpener.open_range`."""
        if isinstance(self.store, RangeOpener):
            call = functools.partial(self.store.open_range, key, first, last, chunk_size=chunk_size)
        else:
            call = functools.partial(open_range_via_head, self.store, key, first, last, chunk_size)
        opened = await anyio.to_thread.run_sync(call)
        return AsyncOpenedRange(opened.info, opened.span, _ThreadedChunks(opened.chunks))

    async def delete(self, key: str) -> None:
        """See :meth:`ObjectStore.delete`."""
        await anyio.to_thread.run_sync(self.store.delete, key)

    async def delete_many(self, keys: Sequence[str]) -> None:
        """See :meth:`ObjectStore.delete_many`."""
        await anyio.to_thread.run_sync(self.store.delete_many, keys)

    async def list_keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Keys fetched from the sync iterator in batches of 1000."""
        it = await anyio.to_thread.run_sync(self.store.list_keys, prefix)
        while batch := await anyio.to_thread.run_sync(list, itertools.islice(it, _LIST_BATCH)):
            for key in batch:
                yield key

    async def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """See :meth:`ObjectStore.list_multipart_uploads`."""
        return await anyio.to_thread.run_sync(self.store.list_multipart_uploads, prefix)

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """See :meth:`ObjectStore.abort_multipart_upload`."""
        await anyio.to_thread.run_sync(self.store.abort_multipart_upload, key, upload_id)
