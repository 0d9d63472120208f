"""Serving stored bytes with HTTP semantics (sync and async), for the Range proxy and
the filesystem store's signed URLs.

A thin layer over :func:`mediakit.proxy.open_sync` / :func:`~mediakit.proxy.open_async`:
they HEAD the object (or take it from an :class:`~mediakit.proxy.ObjectInfoCache`), plan
the response with :func:`mediakit.http.plan_response` and fetch the first chunk before
any header is sent, so a storage failure is still a clean 404/502/503.

With ``MEDIA_DELIVERY=offload``, ``offload()`` plans the same answer from the object's
(cached) info and hands the bytes to nginx with ``X-Accel-Redirect`` instead of streaming
them (see :func:`mediakit.proxy.offload_headers` and the nginx how-to).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Generic, TypeVar

import attrs

from mediakit.errors import NotFound, ObjectNotFound
from mediakit.http.plan import ResponsePlan, plan_response
from mediakit.proxy import (
    AsyncFixedBody,
    AsyncProxyResponse,
    FixedBody,
    ObjectInfoCache,
    ProxyResponse,
    offload_headers,
    open_async,
    open_sync,
)
from mediakit.storage import AsyncObjectStore, ObjectStore

__all__ = ["AsyncServing", "Offload", "ServedObject", "SyncServing"]

B = TypeVar("B")


@attrs.frozen
class ServedObject(Generic[B]):
    """A response ready to send: status, headers and the body (empty for HEAD/304).

    The sync body is an iterator with ``close()`` (a valid WSGI iterable); the async body
    an async iterator with ``aclose()``. Close it if it is not consumed to the end.
    """

    status: int
    headers: Mapping[str, str]
    body: B


@attrs.frozen
class Offload:
    """Where offloaded answers send nginx (``MEDIA_DELIVERY=offload``)."""

    location: str
    """nginx's internal location (``MEDIA_OFFLOAD_LOCATION``)."""
    origins: tuple[str, ...]
    """The S3 endpoint origins a presigned URL may have."""


def _redirect(
    plan: ResponsePlan,
    presigned_url: str,
    content_type: str | None,
    disposition: str | None,
    offload: Offload,
) -> dict[str, str]:
    span = plan.span if plan.status == 206 else None
    return dict(
        offload_headers(
            presigned_url,
            origins=offload.origins,
            location=offload.location,
            span=span,
            content_type=content_type,
            disposition=disposition,
        )
    )


def _missing() -> NotFound:
    return NotFound("The media's stored file is missing; it may have been deleted.")


@attrs.frozen
class SyncServing:
    """Serve objects from a synchronous store."""

    store: ObjectStore
    chunk_size: int
    info_cache: ObjectInfoCache | None = None

    def serve(
        self,
        key: str,
        method: str,
        headers: Mapping[str, str],
        content_type: str | None,
        disposition: str | None,
    ) -> ServedObject[Iterator[bytes]]:
        """Plan the response to ``method``/``headers`` for ``key`` and open its body."""
        try:
            response: ProxyResponse = open_sync(
                self.store,
                key,
                method,
                headers,
                info_cache=self.info_cache,
                content_type=content_type,
                disposition=disposition,
                chunk_size=self.chunk_size,
            )
        except ObjectNotFound:
            raise _missing() from None
        return ServedObject(response.status, dict(response.headers), response)

    def offload(
        self,
        key: str,
        presigned_url: str,
        method: str,
        headers: Mapping[str, str],
        content_type: str | None,
        disposition: str | None,
        offload: Offload,
    ) -> ServedObject[Iterator[bytes]]:
        """Answer for nginx offload: an empty ``X-Accel-Redirect`` to ``presigned_url`` with
        the planned byte span, or, when no bytes are to be sent (HEAD, 304, 412, 416), the
        full answer from here. Needs the object's info: cached, else one HEAD."""
        info = self.info_cache.get(key) if self.info_cache is not None else None
        if info is None:
            try:
                info = self.store.head(key)
            except ObjectNotFound:
                raise _missing() from None
            if self.info_cache is not None:
                self.info_cache.put(info)
        plan = plan_response(
            method, headers, info, content_type=content_type, disposition=disposition
        )
        if method.upper() != "GET" or plan.span is None:
            return ServedObject(plan.status, dict(plan.headers), FixedBody(plan.body))
        redirect = _redirect(plan, presigned_url, content_type, disposition, offload)
        return ServedObject(200, redirect, FixedBody())


@attrs.frozen
class AsyncServing:
    """Serve objects from an asynchronous store."""

    store: AsyncObjectStore
    chunk_size: int
    info_cache: ObjectInfoCache | None = None

    async def serve(
        self,
        key: str,
        method: str,
        headers: Mapping[str, str],
        content_type: str | None,
        disposition: str | None,
    ) -> ServedObject[AsyncIterator[bytes]]:
        """See :meth:`SyncServing.serve`."""
        try:
            response: AsyncProxyResponse = await open_async(
                self.store,
                key,
                method,
                headers,
                info_cache=self.info_cache,
                content_type=content_type,
                disposition=disposition,
                chunk_size=self.chunk_size,
            )
        except ObjectNotFound:
            raise _missing() from None
        return ServedObject(response.status, dict(response.headers), response)

    async def offload(
        self,
        key: str,
        presigned_url: str,
        method: str,
        headers: Mapping[str, str],
        content_type: str | None,
        disposition: str | None,
        offload: Offload,
    ) -> ServedObject[AsyncIterator[bytes]]:
        """See :meth:`SyncServing.offload`."""
        info = self.info_cache.get(key) if self.info_cache is not None else None
        if info is None:
            try:
                info = await self.store.head(key)
            except ObjectNotFound:
                raise _missing() from None
            if self.info_cache is not None:
                self.info_cache.put(info)
        plan = plan_response(
            method, headers, info, content_type=content_type, disposition=disposition
        )
        if method.upper() != "GET" or plan.span is None:
            return ServedObject(plan.status, dict(plan.headers), AsyncFixedBody(plan.body))
        redirect = _redirect(plan, presigned_url, content_type, disposition, offload)
        return ServedObject(200, redirect, AsyncFixedBody())
