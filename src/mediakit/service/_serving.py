"""Serving stored bytes with HTTP semantics (sync and async), for the Range proxy and
the filesystem store's signed URLs.

A thin layer over :func:`mediakit.proxy.open_sync` / :func:`~mediakit.proxy.open_async`:
they HEAD the object (or take it from an :class:`~mediakit.proxy.ObjectInfoCache`), plan
the response with :func:`mediakit.http.plan_response` and fetch the first chunk before
any header is sent, so a storage failure is still a clean 404/502/503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Generic, TypeVar

import attrs

from mediakit.errors import NotFound, ObjectNotFound
from mediakit.proxy import AsyncProxyResponse, ObjectInfoCache, ProxyResponse, open_async, open_sync
from mediakit.storage import AsyncObjectStore, ObjectStore

__all__ = ["AsyncServing", "ServedObject", "SyncServing"]

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
