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

from mediakit.proxy._async import AsyncFixedBody, AsyncProxyResponse, open_async, stream_async
from mediakit.proxy._common import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfoCache,
    offload_headers,
    one_trip_range,
)
from mediakit.proxy._sync import FixedBody, ProxyResponse, open_sync, stream_sync

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "AsyncFixedBody",
    "AsyncProxyResponse",
    "FixedBody",
    "ObjectInfoCache",
    "ProxyResponse",
    "body_in_full",
    "offload_headers",
    "one_trip_range",
    "open_async",
    "open_sync",
    "stream_async",
    "stream_sync",
]


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
