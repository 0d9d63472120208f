"""The Range proxy's I/O on a store: open, plan, relay (see :mod:`mediakit.proxy` for
the guarantees). Written once, on the asynchronous store, in ``_async.py``; the sync twin
``_sync.py`` is generated from it by ``scripts/unasync.py``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from types import TracebackType

import attrs

from mediakit.errors import MediaKitError, ObjectNotFound
from mediakit.http.plan import DEFAULT_CACHE_CONTROL, ResponsePlan, plan_response
from mediakit.proxy._common import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfoCache,
    fall_back,
    in_hand,
    one_trip_range,
    short_body,
    storage_error,
)
from mediakit.storage._protocols import (
    AsyncObjectStore,
    AsyncOpenedRange,
    AsyncRangeOpener,
    ObjectInfo,
)
from mediakit.values import AsyncClosable

__all__ = ["AsyncFixedBody", "AsyncProxyResponse", "open_async", "stream_async"]


async def stream_async(
    store: AsyncObjectStore,
    key: str,
    plan: ResponsePlan,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AsyncGenerator[bytes, None]:
    """The body of ``plan``: its span streamed from ``store``, or its small generated body.

    Raises :class:`~mediakit.errors.StorageError` when the store fails or returns a byte
    count other than planned; closing this generator closes the store's stream.
    """
    if plan.span is None:
        if plan.body:
            yield plan.body
        return
    try:
        chunks = store.get_range(key, plan.span, chunk_size=chunk_size)
    except Exception as exc:
        raise storage_error(key, exc) from exc
    relay = _relay_async(key, plan.span.length, chunks)
    try:
        async for chunk in relay:
            yield chunk
    finally:
        await relay.aclose()


async def _relay_async(
    key: str, expected: int, chunks: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    """``chunks`` checked against the ``expected`` byte count; closes them when done."""
    sent = 0
    try:
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except Exception as exc:
                raise storage_error(key, exc) from exc
            sent += len(chunk)
            if sent > expected:
                raise short_body(key, sent, expected)
            if chunk:
                yield chunk
        if sent != expected:
            raise short_body(key, sent, expected)
    finally:
        # what isinstance(chunks, AsyncClosable) checks, without its cost per call
        # (a runtime-checkable protocol walks its attributes: ~15 us a seek on 3.11)
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


@attrs.define
class AsyncProxyResponse:
    """A planned response whose first body chunk is already in hand.

    Iterate it for the body, read ``status`` and ``headers`` to start the response. Use
    it as a context manager, or close it, when the body is not fully consumed (the sync
    twin is a valid WSGI response iterable: it has ``close()``).
    """

    plan: ResponsePlan
    _first: bytes | None
    _rest: AsyncIterator[bytes]
    _closed: bool = False
    whole: bytes | None = None
    """The entire body when it is already in hand (a range of at most one chunk, HEAD,
    304, a 412/416 error): adapters answer it as one fixed body, without streaming."""

    @property
    def status(self) -> int:
        """The HTTP status of the plan."""
        return self.plan.status

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The response headers of the plan."""
        return self.plan.headers

    def __aiter__(self) -> AsyncProxyResponse:
        return self

    async def __anext__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return await anext(self._rest)

    async def aclose(self) -> None:
        """Release the store stream (idempotent)."""
        if not self._closed:
            self._closed = True
            self._first = None
            if isinstance(self._rest, AsyncClosable):
                await self._rest.aclose()

    async def __aenter__(self) -> AsyncProxyResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def open_async(
    store: AsyncObjectStore,
    key: str,
    method: str,
    request_headers: Mapping[str, str],
    *,
    info: ObjectInfo | None = None,
    info_cache: ObjectInfoCache | None = None,
    content_type: str | None = None,
    disposition: str | None = None,
    cache_control: str = DEFAULT_CACHE_CONTROL,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AsyncProxyResponse:
    """Plan the response for ``key`` and fetch its first chunk, before any header is sent.

    ``info`` skips the HEAD when the caller already knows the object (from its database
    row, say); ``info_cache`` remembers object info across requests. Without either, a
    store that can (:class:`~mediakit.storage.RangeOpener`: the S3, filesystem and memory
    stores) answers a plain GET or a one-range GET (:func:`one_trip_range`) with a single
    request whose headers tell the object's info; otherwise the object is HEADed first.
    Raises :class:`~mediakit.errors.ObjectNotFound` / ``StorageError`` /
    ``StorageUnavailable`` for faults so far; later faults raise from the iterator.
    """
    if info is None and info_cache is not None:
        info = info_cache.get(key)
    opened: AsyncOpenedRange | None = None
    if info is None:  # neither given nor cached: learn it, and remember it
        opened = await _one_trip(store, key, method, request_headers, chunk_size)
        info = opened.info if opened is not None else await _head(store, key)
        if info_cache is not None:
            info_cache.put(info)
    plan = plan_response(
        method,
        request_headers,
        info,
        content_type=content_type,
        disposition=disposition,
        cache_control=cache_control,
    )
    if opened is not None and plan.span is not None and plan.span == opened.span:
        body = _relay_async(key, plan.span.length, opened.chunks)
    else:
        if opened is not None:
            await opened.chunks.aclose()  # planned otherwise (the object is empty, say)
        body = stream_async(store, key, plan, chunk_size=chunk_size)
    return await _started(key, plan, body, info_cache)


async def _one_trip(
    store: AsyncObjectStore,
    key: str,
    method: str,
    request_headers: Mapping[str, str],
    chunk_size: int,
) -> AsyncOpenedRange | None:
    """The one GET that tells the object's info too, when the request and the store
    allow it (:func:`one_trip_range`); None: HEAD first."""
    wanted = one_trip_range(method, request_headers)
    if wanted is None or not isinstance(store, AsyncRangeOpener):
        return None
    try:
        return await store.open_range(key, *wanted, chunk_size=chunk_size)
    except MediaKitError as exc:
        if not fall_back(exc):
            raise
        return None
    except Exception as exc:
        raise storage_error(key, exc) from exc


async def _head(store: AsyncObjectStore, key: str) -> ObjectInfo:
    try:
        return await store.head(key)
    except Exception as exc:
        raise storage_error(key, exc) from exc


async def _started(
    key: str,
    plan: ResponsePlan,
    body: AsyncGenerator[bytes, None],
    info_cache: ObjectInfoCache | None,
) -> AsyncProxyResponse:
    """The response with its first chunk fetched; the whole body when it fits in one
    chunk (a seek), its relay then ended, so a store sending more than planned is still
    an error before headers and its stream is released."""
    try:
        first = await anext(body, None)
        whole = in_hand(plan, first)
        if whole is not None:
            await anext(body, None)
    except BaseException as exc:
        await body.aclose()
        if info_cache is not None and isinstance(exc, ObjectNotFound):
            info_cache.discard(key)
        raise
    return AsyncProxyResponse(plan, first, body, whole=whole)


class AsyncFixedBody:
    """A small body known in full (empty for offloaded answers, HEAD and 304; the JSON
    error of a 412/416); the sync twin is a WSGI iterable with ``close()``."""

    def __init__(self, data: bytes = b"") -> None:
        self._data: bytes | None = data or None
        self.whole = data
        """The entire body (see :attr:`AsyncProxyResponse.whole`)."""

    def __aiter__(self) -> AsyncFixedBody:
        return self

    async def __anext__(self) -> bytes:
        if self._data is None:
            raise StopAsyncIteration
        data, self._data = self._data, None
        return data

    async def aclose(self) -> None:
        """Nothing to release."""
