# GENERATED from src/mediakit/proxy/_async.py by scripts/unasync.py: do not edit.
# Edit the async source and run `python scripts/unasync.py` (CI checks this file is fresh).
"""The Range proxy's I/O on a store: open, plan, relay (see :mod:`mediakit.proxy` for
the guarantees). Written once, on the asynchronous store, in ``_async.py``; the sync twin
``_sync.py`` is generated from it by ``scripts/unasync.py``."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
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
    ObjectInfo,
    ObjectStore,
    OpenedRange,
    RangeOpener,
)
from mediakit.values import Closable

__all__ = ["FixedBody", "ProxyResponse", "open_sync", "stream_sync"]


def stream_sync(
    store: ObjectStore,
    key: str,
    plan: ResponsePlan,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Generator[bytes, None]:
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
    relay = _relay_sync(key, plan.span.length, chunks)
    try:
        for chunk in relay:
            yield chunk
    finally:
        relay.close()


def _relay_sync(key: str, expected: int, chunks: Iterator[bytes]) -> Generator[bytes, None]:
    """``chunks`` checked against the ``expected`` byte count; closes them when done."""
    sent = 0
    try:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
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
        # what isinstance(chunks, Closable) checks, without its cost per call
        # (a runtime-checkable protocol walks its attributes: ~15 us a seek on 3.11)
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


@attrs.define
class ProxyResponse:
    """A planned response whose first body chunk is already in hand.

    Iterate it for the body, read ``status`` and ``headers`` to start the response. Use
    it as a context manager, or close it, when the body is not fully consumed (the sync
    twin is a valid WSGI response iterable: it has ``close()``).
    """

    plan: ResponsePlan
    _first: bytes | None
    _rest: Iterator[bytes]
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

    def __iter__(self) -> ProxyResponse:
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return next(self._rest)

    def close(self) -> None:
        """Release the store stream (idempotent)."""
        if not self._closed:
            self._closed = True
            self._first = None
            if isinstance(self._rest, Closable):
                self._rest.close()

    def __enter__(self) -> ProxyResponse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_sync(
    store: ObjectStore,
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
) -> ProxyResponse:
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
    opened: OpenedRange | None = None
    if info is None:  # neither given nor cached: learn it, and remember it
        opened = _one_trip(store, key, method, request_headers, chunk_size)
        info = opened.info if opened is not None else _head(store, key)
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
        body = _relay_sync(key, plan.span.length, opened.chunks)
    else:
        if opened is not None:
            opened.chunks.close()  # planned otherwise (the object is empty, say)
        body = stream_sync(store, key, plan, chunk_size=chunk_size)
    return _started(key, plan, body, info_cache)


def _one_trip(
    store: ObjectStore,
    key: str,
    method: str,
    request_headers: Mapping[str, str],
    chunk_size: int,
) -> OpenedRange | None:
    """The one GET that tells the object's info too, when the request and the store
    allow it (:func:`one_trip_range`); None: HEAD first."""
    wanted = one_trip_range(method, request_headers)
    if wanted is None or not isinstance(store, RangeOpener):
        return None
    try:
        return store.open_range(key, *wanted, chunk_size=chunk_size)
    except MediaKitError as exc:
        if not fall_back(exc):
            raise
        return None
    except Exception as exc:
        raise storage_error(key, exc) from exc


def _head(store: ObjectStore, key: str) -> ObjectInfo:
    try:
        return store.head(key)
    except Exception as exc:
        raise storage_error(key, exc) from exc


def _started(
    key: str,
    plan: ResponsePlan,
    body: Generator[bytes, None],
    info_cache: ObjectInfoCache | None,
) -> ProxyResponse:
    """The response with its first chunk fetched; the whole body when it fits in one
    chunk (a seek), its relay then ended, so a store sending more than planned is still
    an error before headers and its stream is released."""
    try:
        first = next(body, None)
        whole = in_hand(plan, first)
        if whole is not None:
            next(body, None)
    except BaseException as exc:
        body.close()
        if info_cache is not None and isinstance(exc, ObjectNotFound):
            info_cache.discard(key)
        raise
    return ProxyResponse(plan, first, body, whole=whole)


class FixedBody:
    """A small body known in full (empty for offloaded answers, HEAD and 304; the JSON
    error of a 412/416); the sync twin is a WSGI iterable with ``close()``."""

    def __init__(self, data: bytes = b"") -> None:
        self._data: bytes | None = data or None
        self.whole = data
        """The entire body (see :attr:`ProxyResponse.whole`)."""

    def __iter__(self) -> FixedBody:
        return self

    def __next__(self) -> bytes:
        if self._data is None:
            raise StopIteration
        data, self._data = self._data, None
        return data

    def close(self) -> None:
        """Nothing to release."""
