"""The streaming Range proxy, sync and async: plan a response, then stream its span from
an object store in bounded chunks.

The I/O shell around :func:`mediakit.http.plan_response`. Three guarantees:

* **Failures before headers are errors, not broken responses.** :func:`open_sync` and
  :func:`open_async` learn the object's info (one GET whose headers tell it, a HEAD, the
  caller's :class:`ObjectInfo` or a cache), plan, and fetch the first chunk before returning, so a storage fault surfaces as a
  :class:`~mediakit.errors.StorageError` (502) / :class:`~mediakit.errors.StorageUnavailable`
  (503) / :class:`~mediakit.errors.ObjectNotFound` (404) the adapter can still answer.
* **Failures mid-body abort.** Once headers are sent, a fault (or a store returning fewer or
  more bytes than planned) raises from the body iterator, so the server drops the
  connection: a client never sees a short body that looks complete.
* **Disconnects release the S3 stream.** Closing the body iterator (WSGI servers call
  ``close()``, ASGI servers drop or ``aclose()`` the iterator) closes the store's stream.

Memory is bounded by one chunk per response.

**One round trip.** For a plain GET or a one-range GET (what an audio element sends), a
store with ``open_range`` (:class:`~mediakit.storage.RangeOpener`) sends one GET and the
object's size, ETag and date come from its response headers; when the plan turns out to
need other bytes (a range past the end, an empty object) that response is dropped and the
exact span fetched. HEAD requests and conditional or multi-range GETs HEAD first. Pass
``info=`` when the application already knows the object (its database row), or an
:class:`ObjectInfoCache`: object keys are written once and never overwritten (see the key
layout), so cached info stays true until the key is deleted, and a deleted key still
fails before headers (the first chunk is fetched first) with a 404.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from types import TracebackType

import attrs
from cachetools import TTLCache

from mediakit.errors import (
    BadRequest,
    MediaKitError,
    ObjectNotFound,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
)
from mediakit.http.plan import (
    CONTENT_SECURITY_POLICY,
    DEFAULT_CACHE_CONTROL,
    ResponsePlan,
    plan_response,
    safe_content_type,
)
from mediakit.http.ranges import RangeRequest
from mediakit.storage._protocols import (
    AsyncObjectStore,
    AsyncOpenedRange,
    AsyncRangeOpener,
    ByteSpan,
    ObjectInfo,
    ObjectStore,
    OpenedRange,
    RangeOpener,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "AsyncFixedBody",
    "AsyncProxyResponse",
    "FixedBody",
    "ObjectInfoCache",
    "ProxyResponse",
    "body_in_full",
    "offload_headers",
    "open_async",
    "one_trip_range",
    "open_sync",
    "stream_async",
    "stream_sync",
]

DEFAULT_CHUNK_SIZE = 256 * 1024


@attrs.define
class ObjectInfoCache:
    """A small, thread-safe TTL cache of HEAD results, shared by the sync and async proxies.

    Safe because keys are write-once; call :meth:`discard` when a key is deleted. Until
    then (or the TTL), a GET of a deleted key still ends in a 404 before headers (and
    drops the entry), while HEAD and 304 answers, which read no bytes, come from the cache.
    """

    maxsize: int = 4096
    ttl: float = 300.0
    timer: Callable[[], float] = time.monotonic
    """Seconds, monotonic; injectable so tests can move time."""
    _cache: TTLCache[str, ObjectInfo] = attrs.field(init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def __attrs_post_init__(self) -> None:
        self._cache = TTLCache(maxsize=self.maxsize, ttl=self.ttl, timer=self.timer)

    def get(self, key: str) -> ObjectInfo | None:
        """The cached info of ``key``, or None."""
        with self._lock:
            return self._cache.get(key)

    def put(self, info: ObjectInfo) -> None:
        """Remember ``info`` under its key."""
        with self._lock:
            self._cache[info.key] = info

    def discard(self, key: str) -> None:
        """Forget ``key`` (after deleting it)."""
        with self._lock:
            self._cache.pop(key, None)


def _storage_error(key: str, exc: Exception) -> MediaKitError:
    if isinstance(exc, MediaKitError):
        return exc
    error = StorageError(f"Reading {key!r} from the object store failed: {exc}")
    error.__cause__ = exc
    return error


def _short(key: str, sent: int, expected: int) -> StorageError:
    return StorageError(
        f"The object store returned {sent} of the {expected} bytes planned for {key!r}; "
        "the response was aborted."
    )


def stream_sync(
    store: ObjectStore, key: str, plan: ResponsePlan, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Generator[bytes, None, None]:
    """The body of ``plan``: its span streamed from ``store``, or its small generated body.

    Raises :class:`StorageError` when the store fails or returns a byte count other than
    planned; closing this generator closes the store's stream.
    """
    if plan.span is None:
        if plan.body:
            yield plan.body
        return
    try:
        chunks = store.get_range(key, plan.span, chunk_size=chunk_size)
    except Exception as exc:
        raise _storage_error(key, exc) from exc
    yield from _relay_sync(key, plan.span.length, chunks)


def _relay_sync(key: str, expected: int, chunks: Iterator[bytes]) -> Generator[bytes, None, None]:
    """``chunks`` checked against the ``expected`` byte count; closes them when done."""
    sent = 0
    try:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except Exception as exc:
                raise _storage_error(key, exc) from exc
            sent += len(chunk)
            if sent > expected:
                raise _short(key, sent, expected)
            if chunk:
                yield chunk
        if sent != expected:
            raise _short(key, sent, expected)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def stream_async(
    store: AsyncObjectStore,
    key: str,
    plan: ResponsePlan,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AsyncGenerator[bytes, None]:
    """The asynchronous twin of :func:`stream_sync`; ``aclose()`` closes the store stream."""
    if plan.span is None:
        if plan.body:
            yield plan.body
        return
    try:
        chunks = store.get_range(key, plan.span, chunk_size=chunk_size)
    except Exception as exc:
        raise _storage_error(key, exc) from exc
    relay = _relay_async(key, plan.span.length, chunks)
    try:
        async for chunk in relay:
            yield chunk
    finally:
        await relay.aclose()


async def _relay_async(
    key: str, expected: int, chunks: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    """The asynchronous twin of :func:`_relay_sync`."""
    sent = 0
    try:
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except Exception as exc:
                raise _storage_error(key, exc) from exc
            sent += len(chunk)
            if sent > expected:
                raise _short(key, sent, expected)
            if chunk:
                yield chunk
        if sent != expected:
            raise _short(key, sent, expected)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


@attrs.define
class ProxyResponse:
    """A planned response whose first body chunk is already in hand.

    Iterate it for the body (a valid WSGI response iterable: it has ``close()``), read
    ``status`` and ``headers`` to start the response. Use as a context manager, or call
    :meth:`close`, when the body is not fully consumed.
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
            close = getattr(self._rest, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> ProxyResponse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@attrs.define
class AsyncProxyResponse:
    """The asynchronous twin of :class:`ProxyResponse` (``async for``, ``aclose()``)."""

    plan: ResponsePlan
    _first: bytes | None
    _rest: AsyncIterator[bytes]
    _closed: bool = False
    whole: bytes | None = None
    """See :attr:`ProxyResponse.whole`."""

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
            aclose = getattr(self._rest, "aclose", None)
            if aclose is not None:
                await aclose()

    async def __aenter__(self) -> AsyncProxyResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_CONDITIONAL_HEADERS = frozenset(
    ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range")
)


def one_trip_range(
    method: str, request_headers: Mapping[str, str]
) -> tuple[int, int | None] | None:
    """The bytes a request will be answered with, when that is known before the object's
    size is: ``(first, last)`` (``last`` None: to the end) for a plain GET or a GET of one
    ``first-[last]`` range; None when the answer depends on the object (a conditional
    request, a suffix range, several ranges) or carries no body (HEAD and other methods).

    For these, the proxy sends one GET and learns the size, ETag and date from its
    headers instead of a HEAD first: the common case of an audio element seeking
    (``bytes=N-``) costs one round trip to the object store.
    """
    if method.upper() != "GET":
        return None
    headers = {name.lower(): value for name, value in request_headers.items()}
    if not _CONDITIONAL_HEADERS.isdisjoint(headers):
        return None
    value = headers.get("range")
    if value is None:
        return 0, None
    try:
        request = RangeRequest.from_header(value)
    except BadRequest:
        return 0, None  # an invalid Range is ignored: the full 200
    if len(request.specs) != 1 or request.specs[0].first is None:
        return None
    return request.specs[0].first, request.specs[0].last


def _in_hand(plan: ResponsePlan, first: bytes | None) -> bool:
    """Whether ``first`` is the entire body of ``plan``."""
    if plan.span is None:
        return True
    return first is not None and len(first) == plan.span.length


def _fall_back(exc: MediaKitError) -> bool:
    """True when a failed one-trip GET should be retried as HEAD, then an exact GET: the
    range lies past the end (416), or the server refused the open range."""
    if isinstance(exc, RangeNotSatisfiable):
        return True
    return isinstance(exc, StorageError) and not isinstance(exc, StorageUnavailable)


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
    known = info is not None  # given, or cached: nothing new to remember
    opened: OpenedRange | None = None
    wanted = None if known else one_trip_range(method, request_headers)
    if wanted is not None and isinstance(store, RangeOpener):
        try:
            opened = store.open_range(key, *wanted, chunk_size=chunk_size)
        except MediaKitError as exc:
            if not _fall_back(exc):
                raise
        except Exception as exc:
            raise _storage_error(key, exc) from exc
        else:
            info = opened.info
    if info is None:
        try:
            info = store.head(key)
        except Exception as exc:
            raise _storage_error(key, exc) from exc
    if info_cache is not None and not known:
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
    try:
        first = next(body, None)
        if _in_hand(plan, first):
            # the whole body in one chunk (a seek): end the relay now, so a store sending
            # more than planned is still an error before headers, and its stream released
            next(body, None)
    except BaseException as exc:
        body.close()
        if info_cache is not None and isinstance(exc, ObjectNotFound):
            info_cache.discard(key)
        raise
    if _in_hand(plan, first):
        return ProxyResponse(plan, first, body, whole=first or b"")
    return ProxyResponse(plan, first, body)


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
    """The asynchronous twin of :func:`open_sync`."""
    if info is None and info_cache is not None:
        info = info_cache.get(key)
    known = info is not None  # given, or cached: nothing new to remember
    opened: AsyncOpenedRange | None = None
    wanted = None if known else one_trip_range(method, request_headers)
    if wanted is not None and isinstance(store, AsyncRangeOpener):
        try:
            opened = await store.open_range(key, *wanted, chunk_size=chunk_size)
        except MediaKitError as exc:
            if not _fall_back(exc):
                raise
        except Exception as exc:
            raise _storage_error(key, exc) from exc
        else:
            info = opened.info
    if info is None:
        try:
            info = await store.head(key)
        except Exception as exc:
            raise _storage_error(key, exc) from exc
    if info_cache is not None and not known:
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
    try:
        first = await anext(body, None)
        if _in_hand(plan, first):  # see open_sync
            await anext(body, None)
    except BaseException as exc:
        await body.aclose()
        if info_cache is not None and isinstance(exc, ObjectNotFound):
            info_cache.discard(key)
        raise
    if _in_hand(plan, first):
        return AsyncProxyResponse(plan, first, body, whole=first or b"")
    return AsyncProxyResponse(plan, first, body)


# --- nginx offload (MEDIA_DELIVERY=offload) ---------------------------------------------


def offload_headers(
    presigned_url: str,
    *,
    origins: tuple[str, ...],
    location: str,
    span: ByteSpan | None,
    content_type: str | None,
    disposition: str | None,
    cache_control: str = DEFAULT_CACHE_CONTROL,
) -> tuple[tuple[str, str], ...]:
    """The headers of an ``X-Accel-Redirect`` answer handing ``presigned_url`` to nginx.

    The redirect is ``{location}{bytes=FIRST-LAST|all}/{path}?{query}``: the byte span the
    app planned (``all``: the whole object, a 200), then the presigned URL's path and query
    only, never its host. nginx's internal ``location`` sends that span as the ``Range`` of
    its GET to one fixed S3 upstream, so whatever reaches it, nginx fetches from that
    endpoint alone; and the app refuses a URL whose origin is none of ``origins`` (the
    configured endpoint's). The security headers are the Range proxy's (allowlisted
    Content-Type, nosniff, CSP sandbox, Cache-Control); nginx keeps Content-Type,
    Content-Disposition and Cache-Control of an ``X-Accel-Redirect`` answer and adds the
    rest itself (see the nginx how-to).

    Raises:
        StorageError: the presigned URL does not point at ``origins`` (a misconfiguration).
    """
    for origin in origins:
        if presigned_url.startswith(origin + "/"):
            rest = presigned_url[len(origin) + 1 :]
            break
    else:
        raise StorageError(
            "The presigned URL does not point at the configured S3 endpoint "
            f"({', '.join(origins)}); refusing to offload it to nginx. Check "
            "MEDIA_S3_ENDPOINT and MEDIA_S3_PATH_STYLE."
        )
    segment = "all" if span is None else f"bytes={span.first}-{span.last}"
    headers = [
        ("X-Accel-Redirect", f"{location}{segment}/{rest}"),
        ("Content-Type", safe_content_type(content_type)),
        ("Cache-Control", cache_control),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ]
    if disposition is not None:
        headers.append(("Content-Disposition", disposition))
    return tuple(headers)


class FixedBody:
    """A small body known in full (empty for offloaded answers, HEAD and 304; the JSON
    error of a 412/416): a WSGI iterable with ``close()``."""

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


class AsyncFixedBody:
    """The async twin of :class:`FixedBody` (``aclose()``)."""

    def __init__(self, data: bytes = b"") -> None:
        self._data: bytes | None = data or None
        self.whole = data
        """The entire body (see :attr:`ProxyResponse.whole`)."""

    def __aiter__(self) -> AsyncFixedBody:
        return self

    async def __anext__(self) -> bytes:
        if self._data is None:
            raise StopAsyncIteration
        data, self._data = self._data, None
        return data

    async def aclose(self) -> None:
        """Nothing to release."""


def body_in_full(body: object) -> bytes | None:
    """The entire body of a served response when it is already in hand, else None.

    True of a :class:`ProxyResponse` / :class:`AsyncProxyResponse` whose range fit in its
    first chunk (a seek), of HEAD, 304 and error answers, and of fixed bodies. Adapters
    answer these with a plain response (one body, no streaming machinery, nothing left to
    close); the rest stream.
    """
    if isinstance(body, ProxyResponse | AsyncProxyResponse | FixedBody | AsyncFixedBody):
        return body.whole
    return None
