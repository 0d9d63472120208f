"""Serving stored bytes with HTTP semantics: head, plan, open (sync and async).

Used by the Range proxy and by the local-file route of the filesystem store. The
decisions (status, headers, which bytes) are :func:`mediakit.http.plan_response`'s;
this module only heads the object and opens the planned span, fetching the first chunk
before the caller sends headers so a storage failure is still a clean 502/503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Generic, TypeVar

import attrs

from mediakit.errors import NotFound, ObjectNotFound
from mediakit.http import ResponsePlan, plan_response
from mediakit.storage import AsyncObjectStore, ObjectStore

__all__ = ["AsyncServing", "ServedObject", "SyncServing"]

B = TypeVar("B")


@attrs.frozen
class ServedObject(Generic[B]):
    """A response ready to send: status, headers and a body iterator (empty for HEAD/304)."""

    status: int
    headers: Mapping[str, str]
    body: B


def _missing(key: str) -> NotFound:
    return NotFound("The media's stored file is missing; it may have been deleted.")


def _open_sync(
    store: ObjectStore, key: str, plan: ResponsePlan, chunk_size: int
) -> Iterator[bytes]:
    if plan.span is None:
        return iter([plan.body] if plan.body else [])
    chunks = store.get_range(key, plan.span, chunk_size=chunk_size)
    first = next(chunks, b"")  # storage errors surface here, before any header is sent

    def body() -> Iterator[bytes]:
        try:
            if first:
                yield first
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    return body()


async def _open_async(
    store: AsyncObjectStore, key: str, plan: ResponsePlan, chunk_size: int
) -> AsyncIterator[bytes]:
    if plan.span is None:
        data = plan.body

        async def small() -> AsyncIterator[bytes]:
            if data:
                yield data

        return small()
    chunks = store.get_range(key, plan.span, chunk_size=chunk_size)
    first = await anext(chunks, b"")  # storage errors surface here, before the headers

    async def body() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for chunk in chunks:
                yield chunk
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    return body()


@attrs.frozen
class SyncServing:
    """Serve objects from a synchronous store."""

    store: ObjectStore
    chunk_size: int

    def serve(
        self,
        key: str,
        method: str,
        headers: Mapping[str, str],
        content_type: str | None,
        disposition: str | None,
    ) -> ServedObject[Iterator[bytes]]:
        """Head ``key``, plan the response for ``method``/``headers`` and open its body."""
        try:
            info = self.store.head(key)
        except ObjectNotFound:
            raise _missing(key) from None
        plan = plan_response(
            method, headers, info, content_type=content_type, disposition=disposition
        )
        body = _open_sync(self.store, key, plan, self.chunk_size)
        return ServedObject(plan.status, dict(plan.headers), body)


@attrs.frozen
class AsyncServing:
    """Serve objects from an asynchronous store."""

    store: AsyncObjectStore
    chunk_size: int

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
            info = await self.store.head(key)
        except ObjectNotFound:
            raise _missing(key) from None
        plan = plan_response(
            method, headers, info, content_type=content_type, disposition=disposition
        )
        body = await _open_async(self.store, key, plan, self.chunk_size)
        return ServedObject(plan.status, dict(plan.headers), body)
