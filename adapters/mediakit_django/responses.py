"""Serve any stored key from your own Django views, through mediakit's Range proxy.

.. code-block:: python

    from django.shortcuts import get_object_or_404
    from mediakit_django.responses import range_response

    def download(request, pk):
        product = get_object_or_404(Product, pk=pk, owner=request.user)  # your access rule
        return range_response(request, product.file.storage, product.file.name,
                              disposition="attachment")

The response honours ``Range`` (206, several ranges, 416), ``If-Range``, ``If-None-Match``
/ ``If-Modified-Since`` (304), ``If-Match`` / ``If-Unmodified-Since`` (412) and ``HEAD``,
streams in bounded memory, and releases the S3 response when the client goes away
(:mod:`mediakit.proxy`). A missing key, a range outside the object or a storage fault
answers in mediakit's JSON error shape (404, 416 with ``Content-Range``, 502/503).

The source is a :class:`mediakit_django.storage.MediaKitStorage` (then ``key`` is the
file's *name*, as in ``FieldFile.name``) or any :class:`mediakit.storage.ObjectStore`
(``get_kit().store``, say). :func:`arange_response` is the twin for async views; it takes an
:class:`~mediakit.storage.AsyncObjectStore` (``get_kit().astore``), or a storage, whose
sync store it runs on a worker thread.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from mediakit.errors import MediaKitError
from mediakit.http.plan import DEFAULT_CACHE_CONTROL
from mediakit.proxy import (
    DEFAULT_CHUNK_SIZE,
    AsyncProxyResponse,
    ObjectInfoCache,
    ProxyResponse,
    open_async,
    open_sync,
)
from mediakit.storage import AsyncObjectStore, ObjectInfo, ObjectStore, ThreadedAsyncStore
from mediakit_django.storage import MediaKitStorage

__all__ = ["arange_response", "range_response"]

log = logging.getLogger("mediakit_django")

_METHODS = ("GET", "HEAD")


def _error(request: HttpRequest, exc: MediaKitError) -> HttpResponseBase:
    from mediakit_django.views import error_response

    if exc.http_status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.path, exc.http_status, exc)
    body = exc.to_dict()["error"]
    return error_response(exc.http_status, body["code"], body["message"], exc.headers)


def _not_allowed(request: HttpRequest) -> HttpResponseBase:
    from mediakit_django.views import error_response

    return error_response(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed on {request.path}.",
        {"Allow": ", ".join(_METHODS)},
    )


def _streaming(proxied: ProxyResponse | AsyncProxyResponse) -> StreamingHttpResponse:
    body: Any = proxied
    if isinstance(proxied, AsyncProxyResponse):
        from mediakit_django.views import _ClosingAsyncBody

        body = _ClosingAsyncBody(proxied)
    response = StreamingHttpResponse(body, status=proxied.status)
    if not any(name.lower() == "content-type" for name, _ in proxied.headers):
        del response["Content-Type"]  # no Django default on 304s and empty bodies
    for name, value in proxied.headers:
        response[name] = value
    return response


def range_response(
    request: HttpRequest,
    source: MediaKitStorage | ObjectStore,
    key: str,
    *,
    content_type: str | None = None,
    disposition: str | None = None,
    cache_control: str = DEFAULT_CACHE_CONTROL,
    info: ObjectInfo | None = None,
    info_cache: ObjectInfoCache | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> HttpResponseBase:
    """A streaming response for ``key`` with Range and conditional-request semantics.

    Check access before calling it: it serves whatever it is given.

    Args:
        request: the request (its method and ``Range``/``If-*`` headers are used).
        source: a :class:`MediaKitStorage` (``key`` is then a file name) or an object store.
        key: the file name or object key.
        content_type: the ``Content-Type`` to send (default: the stored one).
        disposition: ``"inline"``, ``"attachment"`` or a full ``Content-Disposition``
            value (see :func:`mediakit.http.plan_response`).
        cache_control: the ``Cache-Control`` header.
        info: the object's size/ETag/date if known (saves a request to S3).
        info_cache: remembers object info across requests; only for keys that are never
            overwritten (not for a storage with ``file_overwrite=True``).
        chunk_size: bytes per body chunk.
    """
    if request.method not in _METHODS:
        return _not_allowed(request)
    store: ObjectStore = source.store if isinstance(source, MediaKitStorage) else source
    if isinstance(source, MediaKitStorage):
        key = source.key(key)
    try:
        proxied = open_sync(
            store,
            key,
            request.method,
            request.headers,
            info=info,
            info_cache=info_cache,
            content_type=content_type,
            disposition=disposition,
            cache_control=cache_control,
            chunk_size=chunk_size,
        )
    except MediaKitError as exc:
        return _error(request, exc)
    return _streaming(proxied)


async def arange_response(
    request: HttpRequest,
    source: MediaKitStorage | AsyncObjectStore,
    key: str,
    *,
    content_type: str | None = None,
    disposition: str | None = None,
    cache_control: str = DEFAULT_CACHE_CONTROL,
    info: ObjectInfo | None = None,
    info_cache: ObjectInfoCache | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> HttpResponseBase:
    """:func:`range_response` for async views (ASGI); see there for the arguments.

    A :class:`MediaKitStorage` source is served through its sync store on a worker
    thread (correct under any event loop); pass an :class:`AsyncObjectStore` such as
    ``get_kit().astore`` to stream natively.
    """
    if request.method not in _METHODS:
        return _not_allowed(request)
    if isinstance(source, MediaKitStorage):
        store: AsyncObjectStore = ThreadedAsyncStore(source.store)
        key = source.key(key)
    else:
        store = source
    try:
        proxied = await open_async(
            store,
            key,
            request.method,
            request.headers,
            info=info,
            info_cache=info_cache,
            content_type=content_type,
            disposition=disposition,
            cache_control=cache_control,
            chunk_size=chunk_size,
        )
    except MediaKitError as exc:
        return _error(request, exc)
    return _streaming(proxied)
