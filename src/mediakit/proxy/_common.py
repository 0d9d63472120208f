"""What the Range proxy's sync and async sides share: the object-info cache, the
one-trip decision, error wrapping and the nginx offload headers (no I/O)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import attrs
from cachetools import TTLCache

from mediakit.errors import (
    BadRequest,
    MediaKitError,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
)
from mediakit.http.plan import (
    CONTENT_SECURITY_POLICY,
    DEFAULT_CACHE_CONTROL,
    ResponsePlan,
    safe_content_type,
)
from mediakit.http.ranges import RangeRequest
from mediakit.storage._protocols import ByteSpan, ObjectInfo

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ObjectInfoCache",
    "fall_back",
    "in_hand",
    "offload_headers",
    "one_trip_range",
    "short_body",
    "storage_error",
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


def storage_error(key: str, exc: Exception) -> MediaKitError:
    """``exc`` as a mediakit error: unchanged if it is one, else a ``StorageError``."""
    if isinstance(exc, MediaKitError):
        return exc
    error = StorageError(f"Reading {key!r} from the object store failed: {exc}")
    error.__cause__ = exc
    return error


def short_body(key: str, sent: int, expected: int) -> StorageError:
    """The error of a store that returned another byte count than planned."""
    return StorageError(
        f"The object store returned {sent} of the {expected} bytes planned for {key!r}; "
        "the response was aborted."
    )


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


def in_hand(plan: ResponsePlan, first: bytes | None) -> bytes | None:
    """The entire body of ``plan`` when ``first`` (its first chunk) is all of it, else None."""
    if plan.span is None:
        return first or b""
    if first is not None and len(first) == plan.span.length:
        return first
    return None


def fall_back(exc: MediaKitError) -> bool:
    """True when a failed one-trip GET should be retried as HEAD, then an exact GET: the
    range lies past the end (416), or the server refused the open range."""
    if isinstance(exc, RangeNotSatisfiable):
        return True
    return isinstance(exc, StorageError) and not isinstance(exc, StorageUnavailable)


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
