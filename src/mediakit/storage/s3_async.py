"""The asynchronous S3 object store (aioboto3), the twin of :mod:`mediakit.storage.s3`.

Use it as ``async with AsyncS3ObjectStore.from_settings(settings) as store:``, or keep
one store for the application's lifetime and ``await store.aclose()`` at shutdown. The
aioboto3 client (and its connection pool) is created once, on first use, and reused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from types import TracebackType
from typing import Any

import anyio
import attrs
from botocore.exceptions import IncompleteReadError

from mediakit.errors import ConfigurationError, ObjectNotFound
from mediakit.settings import Settings
from mediakit.storage._common import (
    CONTENT_MD5_EVENT,
    GatheredPart,
    Overlap,
    PartAssembler,
    PartGatherer,
    UploadedParts,
    add_content_md5,
    client_config_kwargs,
    client_kwargs,
    delete_requests,
    get_info,
    has_etag,
    head_info,
    open_range_header,
    put_info,
    range_header,
)
from mediakit.storage._errors import translate_errors
from mediakit.storage._part_http import (
    PartTransport,
    _choose_prehashed,
    _PartBody,
)
from mediakit.storage._protocols import (
    AsyncOpenedRange,
    ByteSpan,
    MultipartUploadInfo,
    ObjectInfo,
)
from mediakit.storage._ranged_http import AsyncRangedReader, fast_path_allowed

__all__ = ["AsyncS3ObjectStore"]

ClientFactory = Callable[[], AbstractAsyncContextManager[Any]]


def client_factory(settings: Settings) -> ClientFactory:
    """A callable opening an aioboto3 S3 client configured from ``settings``."""
    try:
        import aioboto3
        from aiobotocore.config import AioConfig
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "MEDIAKIT_STORAGE", "the async S3 store needs aioboto3: pip install 'mediakit[async]'"
        ) from exc

    session = aioboto3.Session()
    config = AioConfig(**client_config_kwargs(settings))
    kwargs = client_kwargs(settings)

    def open_client() -> AbstractAsyncContextManager[Any]:
        return session.client("s3", config=config, **kwargs)  # type: ignore[no-any-return]

    return open_client


def _register(client: Any) -> None:
    client.meta.events.register(
        CONTENT_MD5_EVENT, add_content_md5, unique_id="mediakit-content-md5"
    )
    client.meta.events.register(
        "choose-signer.s3.UploadPart", _choose_prehashed, unique_id="mediakit-prehashed-parts"
    )
    client.meta.events.register(
        "before-send.s3", _drop_expect_continue, unique_id="mediakit-no-expect-continue"
    )


def _drop_expect_continue(request: Any, **kwargs: Any) -> None:
    """Send bodies without ``Expect: 100-continue`` (botocore adds it to every upload).

    aiohttp waits for the ``100 Continue`` with no timeout at all (``sock_read`` does not
    cover that wait), so an endpoint that accepts the connection and never answers held
    an upload forever. Without the header ``MEDIA_S3_READ_TIMEOUT`` bounds the wait for
    the response. ``Expect`` is never signed (botocore leaves it out of SigV4), so
    dropping it after signing is safe; the cost is that a refused part is sent whole
    (at most ``MEDIA_UPLOAD_PART_SIZE``) before its error arrives.
    """
    headers = getattr(request, "headers", None)
    if headers is not None and "Expect" in headers:
        del headers["Expect"]


async def _body_chunks(
    body: Any, content_length: int | None, chunk_size: int
) -> AsyncIterator[bytes]:
    """The chunks of an aiobotocore ``StreamingBody``, each the piece aiohttp received.

    Hand-written for throughput: ``StreamingBody.iter_chunks(n)`` goes through two
    wrapper layers and ``StreamReader.read(n)``, which joins buffered pieces into a new
    ``bytes`` (a copy) whenever they do not line up with ``n``. ``readchunk()`` hands over
    each piece as the HTTP parser produced it (at most the event loop's read size), so
    no byte is copied here unless a piece exceeds ``chunk_size``: about 10-15% less
    async proxy CPU per byte (``benchmarks/proxy.py``). Memory stays bounded by aiohttp's
    flow control, its buffer limit raised to ``chunk_size`` as ``read(n)`` does. A body
    shorter than its ``Content-Length`` raises ``IncompleteReadError`` (as
    ``StreamingBody`` does), or aiohttp's ``ClientPayloadError`` on an early close.
    """
    content = getattr(getattr(body, "__wrapped__", None), "content", None)
    if content is None or not hasattr(content, "readchunk"):  # another HTTP backend
        async for chunk in body.iter_chunks(chunk_size):
            yield chunk
        return
    raise_limit = getattr(content, "set_read_chunk_size", None)  # aiohttp >= 3.14
    if raise_limit is not None:
        raise_limit(chunk_size)
    received = 0
    while True:
        chunk, end_of_http_chunk = await content.readchunk()
        if not chunk:
            if end_of_http_chunk:  # a chunked-encoding boundary, not the end
                continue
            break
        received += len(chunk)
        if len(chunk) <= chunk_size:
            yield chunk
        else:  # a piece larger than asked for: split it (copies only in this rare case)
            for start in range(0, len(chunk), chunk_size):
                yield chunk[start : start + chunk_size]
    if content_length is not None and received != content_length:
        raise IncompleteReadError(actual_bytes=received, expected_bytes=content_length)


class _AsyncBodyChunks:
    """The chunks of a response body; ``aclose()`` releases the body even if iteration
    never started (closing an unstarted async generator would not run its ``finally``)."""

    def __init__(self, chunks: AsyncGenerator[bytes, None], body: Any) -> None:
        self._chunks, self._body = chunks, body

    def __aiter__(self) -> _AsyncBodyChunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            self._body.close()
            raise

    async def aclose(self) -> None:
        """Close the body and its connection (idempotent)."""
        try:
            await self._chunks.aclose()
        finally:
            self._body.close()


@attrs.define
class AsyncS3ObjectStore:
    """:class:`~mediakit.storage.AsyncObjectStore` over one long-lived aioboto3 client.

    Pass either an open ``client`` (its owner closes it) or ``open_client``, a factory
    the store enters on first use and exits in :meth:`aclose`.

    ``reader``: ranged reads (:meth:`get_range`, :meth:`open_range`: the Range proxy)
    as presigned GETs on a plain aiohttp pool instead of botocore (see
    :mod:`mediakit.storage._ranged_http`); :meth:`from_settings` sets one up unless
    ``MEDIA_S3_FAST_READS`` is off. Every other call goes through botocore.
    """

    bucket: str
    part_size: int = 8 * 1024 * 1024
    overlapping_uploads: int = 2
    """See :attr:`mediakit.storage.s3.S3ObjectStore.overlapping_uploads`."""
    parts_in_flight: int = 4
    """See :attr:`mediakit.storage.s3.S3ObjectStore.parts_in_flight`."""
    _client: Any = attrs.field(default=None, alias="client")
    _open_client: ClientFactory | None = attrs.field(default=None, alias="open_client")
    reader: AsyncRangedReader | None = attrs.field(default=None, kw_only=True)
    part_transport: PartTransport | None = attrs.field(default=None, kw_only=True)
    """Sends ``UploadPart`` bodies on mediakit's own connections from worker threads
    instead of aiohttp (see :mod:`mediakit.storage._part_http`); :meth:`from_settings`
    sets one up unless ``MEDIA_S3_FAST_UPLOADS`` is off. Build one with
    :meth:`fast_part_transport`."""
    _stack: AsyncExitStack | None = attrs.field(default=None, init=False)
    _lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)
    _overlap: Overlap = attrs.field(init=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, bucket: str | None = None) -> AsyncS3ObjectStore:
        """A store on ``settings.assets_bucket`` (or ``bucket``); its client opens on first use."""
        bucket = bucket or settings.assets_bucket
        return cls(
            bucket=bucket,
            part_size=settings.multipart_part_size,
            parts_in_flight=settings.upload_parts_in_flight,
            open_client=client_factory(settings),
            reader=(
                AsyncRangedReader.from_settings(settings, bucket)
                if settings.s3_fast_reads and fast_path_allowed(settings)
                else None
            ),
            part_transport=PartTransport.from_settings(settings),
        )

    @staticmethod
    def fast_part_transport(
        *, connect_timeout: float, read_timeout: float, pool_size: int
    ) -> PartTransport:
        """A :attr:`part_transport` with these timeouts (per connect, and per wait for
        the object store: a stalled send or answer) and at most ``pool_size`` parts
        written at once."""
        return PartTransport(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_size=pool_size,
        )

    async def client(self) -> Any:
        """The aioboto3 client, opened once."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                if self._open_client is None:
                    raise RuntimeError("AsyncS3ObjectStore needs a client or open_client")
                stack = AsyncExitStack()
                with translate_errors(bucket=self.bucket):
                    client = await stack.enter_async_context(self._open_client())
                self._register(client)
                self._client, self._stack = client, stack
        return self._client

    def __attrs_post_init__(self) -> None:
        self._overlap = Overlap(self.overlapping_uploads * max(1, self.parts_in_flight))
        if self._client is not None:
            self._register(self._client)

    def _register(self, client: Any) -> None:
        _register(client)
        if self.part_transport is not None:
            self.part_transport.register(client, "mediakit-part-transport", asynchronous=True)

    async def warm(self) -> None:
        """Open the client and do now what its first request would: resolve the
        endpoint and serialize a ``GetObject`` (by presigning one, no request sent) and
        open aiohttp's session (its TLS context loads the CA bundle: ~50 ms)."""
        client = await self.client()
        with translate_errors(bucket=self.bucket):
            await client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": "warm-up"}, ExpiresIn=60
            )
        # aiobotocore creates its aiohttp session on the first send; no public way to
        # open it earlier, so reach for it when it is where this aiobotocore keeps it
        http = getattr(getattr(client, "_endpoint", None), "http_session", None)
        config = getattr(http, "_proxy_config", None)
        get_session = getattr(http, "_get_session", None)
        if config is not None and get_session is not None:
            with contextlib.suppress(Exception):
                await get_session(config.proxy_url_for(client.meta.endpoint_url))
        if self.reader is not None:
            await self.reader.start()

    async def aclose(self) -> None:
        """Close the client the store opened (a passed-in client is left to its owner)
        and the ranged reader's connections.

        The store stays usable: a later call opens a new client (and the reader new
        connections), so an app whose lifespan runs more than once (tests, reloads) can
        close the store at each shutdown and keep the same instance."""
        if self.reader is not None:
            await self.reader.aclose()
        if self.part_transport is not None:
            self.part_transport.close()
        stack, self._stack = self._stack, None
        if stack is not None:
            self._client = None
            await stack.aclose()

    async def __aenter__(self) -> AsyncS3ObjectStore:
        await self.client()
        return self

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def put_bytes(
        self, key: str, data: bytes | bytearray, *, content_type: str
    ) -> ObjectInfo:
        """Store a small object in one ``PutObject``."""
        client = await self.client()
        with translate_errors(key, bucket=self.bucket):
            resp = await client.put_object(
                Bucket=self.bucket, Key=key, Body=_PartBody(data), ContentType=content_type
            )
        return put_info(key, len(data), resp["ETag"], content_type)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> ObjectInfo:
        """See :meth:`mediakit.storage.s3.S3ObjectStore.put_stream` (the part in flight
        is a task on the event loop instead of a helper thread)."""
        # with the part transport, parts are the request's own chunks (no copy at all);
        # aiohttp would need each part in one buffer, filled in place (one copy)
        asm: PartAssembler | PartGatherer = (
            PartAssembler(self.part_size, spares=self.parts_in_flight)
            if self.part_transport is None
            else PartGatherer(self.part_size)
        )
        it = aiter(chunks)
        pending: list[bytearray] | list[GatheredPart] = []
        async for chunk in it:
            pending = asm.feed(chunk)
            if pending:
                break
        if not pending:
            return await self.put_bytes(key, asm.rest(), content_type=content_type)
        client = await self.client()
        with translate_errors(key, bucket=self.bucket):
            created = await client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        upload_id: str = created["UploadId"]
        parts = UploadedParts(self.bucket, key, upload_id)
        try:
            await self._send_parts(parts, asm, pending, it)
            resp = await self._complete(client, parts, asm.total)
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                # the original error matters more; a leftover upload is listed and aborted later
                await self.abort_multipart_upload(key, upload_id)
            raise
        etag = resp.get("ETag") or ""
        if not has_etag(etag):
            etag = await self._completed_etag(key)
        return put_info(key, asm.total, etag, content_type)

    async def _send_parts(
        self,
        parts: UploadedParts,
        asm: PartAssembler | PartGatherer,
        pending: list[bytearray] | list[GatheredPart],
        it: AsyncIterator[bytes],
    ) -> None:
        """Send ``pending`` and the parts of the rest of ``it``: up to
        :attr:`parts_in_flight` at once as tasks while the next fills, each holding an
        overlap slot (with none free, a part is sent before reading on). Returns (or
        raises) once none is in flight: on any error (cancellation included) the tasks
        in flight are cancelled and waited for, so nothing races the abort."""
        sender = _AsyncPartSender(self, parts, asm, max(1, self.parts_in_flight))
        try:
            while pending:  # pop, so a sent part is freed before the next one fills
                await sender.send(pending.pop(0))
            async for chunk in it:
                pending = asm.feed(chunk)
                while pending:
                    await sender.send(pending.pop(0))
            rest = asm.rest()
            if rest:
                await sender.send(rest)
            await sender.drain()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await sender.cancel()
            raise

    async def _complete(self, client: Any, parts: UploadedParts, size: int) -> Any:
        """See :meth:`mediakit.storage.s3.S3ObjectStore._complete` (a completed upload
        whose answer was lost is recognised by its object)."""
        try:
            with translate_errors(parts.key, bucket=self.bucket, upload_id=parts.upload_id):
                return await client.complete_multipart_upload(**parts.complete_request())
        except ObjectNotFound:
            try:
                done = await self.head(parts.key)
            except ObjectNotFound:
                done = None
            if done is None or done.size != size:
                raise
            return {"ETag": done.etag}

    async def _completed_etag(self, key: str) -> str:
        """See :meth:`mediakit.storage.s3.S3ObjectStore._completed_etag`."""
        try:
            return (await self.head(key)).etag
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self.delete(key)
            raise

    async def _part(self, parts: UploadedParts, request: dict[str, Any]) -> None:
        client = await self.client()
        body: _PartBody = request["Body"]
        if body.sha256_hex is None:  # hashed off the event loop (see _PrehashedS3SigV4Auth)
            body.sha256_hex = await anyio.to_thread.run_sync(body.sha256_of_part)
        with translate_errors(parts.key, bucket=self.bucket, upload_id=parts.upload_id):
            parts.uploaded(request, await client.upload_part(**request))

    async def head(self, key: str) -> ObjectInfo:
        """``HeadObject``; raises ``ObjectNotFound``."""
        client = await self.client()
        with translate_errors(key, bucket=self.bucket):
            return head_info(key, await client.head_object(Bucket=self.bucket, Key=key))

    async def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        """Stream ``span`` with an absolute ``Range``; ``aclose()`` releases the connection."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if span is not None:
            kwargs["Range"] = range_header(span)
        if self.reader is not None:
            opened = await self.reader.get(key, kwargs.get("Range"), chunk_size=chunk_size)
            try:
                async for chunk in opened.chunks:
                    yield chunk
            finally:
                await opened.chunks.aclose()
            return
        client = await self.client()
        with translate_errors(key, bucket=self.bucket):
            resp = await client.get_object(**kwargs)
            body = resp["Body"]
            try:
                async for chunk in _body_chunks(body, resp.get("ContentLength"), chunk_size):
                    yield chunk
            finally:
                body.close()

    async def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = 256 * 1024
    ) -> AsyncOpenedRange:
        """See :meth:`S3ObjectStore.open_range`; ``aclose()`` the chunks if not read to the end."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        header = open_range_header(first, last)
        if header is not None:
            kwargs["Range"] = header
        if self.reader is not None:
            return await self.reader.get(key, header, chunk_size=chunk_size)
        client = await self.client()
        with translate_errors(key, bucket=self.bucket):
            resp = await client.get_object(**kwargs)
        body = resp["Body"]
        try:
            info, span = get_info(key, resp)
        except BaseException:
            body.close()
            raise
        chunks = self._read_body(key, body, resp.get("ContentLength"), chunk_size)
        return AsyncOpenedRange(info, span, _AsyncBodyChunks(chunks, body))

    async def _read_body(
        self, key: str, body: Any, content_length: int | None, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        with translate_errors(key, bucket=self.bucket):
            async for chunk in _body_chunks(body, content_length, chunk_size):
                yield chunk

    async def delete(self, key: str) -> None:
        """``DeleteObject``; deleting a missing key is not an error."""
        client = await self.client()
        with translate_errors(key, bucket=self.bucket):
            await client.delete_object(Bucket=self.bucket, Key=key)

    async def delete_many(self, keys: Sequence[str]) -> None:
        """``DeleteObjects`` (Quiet) in batches of 1000; per-key errors are retried."""
        client = await self.client()
        for request in delete_requests(self.bucket, keys):
            if request.delay:
                await anyio.sleep(request.delay)
            with translate_errors(bucket=self.bucket):
                request.response = await client.delete_objects(**request.kwargs)

    async def list_keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key under ``prefix`` (``ListObjectsV2``, paginated, lexicographic)."""
        client = await self.client()
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        with translate_errors(prefix, bucket=self.bucket):
            async for page in pages:
                for obj in page.get("Contents", ()):
                    yield obj["Key"]

    async def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """Unfinished multipart uploads under ``prefix`` (paginated)."""
        client = await self.client()
        pages = client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        with translate_errors(prefix, bucket=self.bucket):
            return [
                MultipartUploadInfo(key=u["Key"], upload_id=u["UploadId"], initiated=u["Initiated"])
                async for page in pages
                for u in page.get("Uploads", ())
                if u["Key"].startswith(prefix)  # some servers (nanio) ignore Prefix
            ]

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """``AbortMultipartUpload``; an upload that no longer exists is not an error."""
        client = await self.client()
        with (
            contextlib.suppress(ObjectNotFound),
            translate_errors(key, bucket=self.bucket, upload_id=upload_id),
        ):
            await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)


class _AsyncPartSender:
    """The parts one ``put_stream`` has in flight as tasks (oldest first), each holding
    a slot of the store's :class:`~mediakit.storage._common.Overlap`."""

    def __init__(
        self,
        store: AsyncS3ObjectStore,
        parts: UploadedParts,
        asm: PartAssembler | PartGatherer,
        window: int,
    ) -> None:
        self.store, self.parts, self.asm, self.window = store, parts, asm, window
        self.in_flight: deque[tuple[asyncio.Task[None], bytearray | GatheredPart]] = deque()

    async def send(self, part: bytearray | GatheredPart) -> None:
        """Send ``part`` as a task once the window has room (awaited here, after ours,
        when the store has no free slot)."""
        # numbered here, in order: the tasks may send them in any order
        request = self.parts.upload_request(_PartBody(part))
        in_flight = self.in_flight
        while in_flight and (len(in_flight) >= self.window or in_flight[0][0].done()):
            await self.finish_oldest()
        if any(t.done() and not t.cancelled() and t.exception() for t, _ in in_flight):
            await self.finish_oldest()  # a later part failed: stop now (raises)
        overlap = self.store._overlap
        if not overlap.take():
            await self.drain()  # no slot: ours are freed first
            if not overlap.take():  # other uploads hold them: send in turn
                self.asm.drop_spares()  # and hold one part, as they do
                await self.store._part(self.parts, request)
                self.asm.release(part)
                return
        in_flight.append((asyncio.ensure_future(self.store._part(self.parts, request)), part))

    async def finish_oldest(self) -> None:
        """Wait for the oldest task; raise its error. Should the caller be cancelled
        while waiting, the task stays listed for :meth:`cancel`."""
        task, part = self.in_flight[0]
        if not task.done():
            await asyncio.wait((task,))
        self.in_flight.popleft()
        self.store._overlap.give_back()
        task.result()
        self.asm.release(part)

    async def drain(self) -> None:
        """Wait for every task."""
        while self.in_flight:
            await self.finish_oldest()

    async def cancel(self) -> None:
        """Cancel every task, give back their slots and wait until all have ended."""
        tasks = [task for task, _ in self.in_flight]
        self.in_flight.clear()
        for task in tasks:
            task.cancel()
            self.store._overlap.give_back()
        await asyncio.gather(*tasks, return_exceptions=True)
