"""Serving stored bytes from the object store, one of the twins described in
:mod:`mediakit.service._serving`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import attrs

from mediakit.errors import ObjectNotFound
from mediakit.http.plan import plan_response
from mediakit.proxy import AsyncFixedBody, AsyncProxyResponse, ObjectInfoCache, open_async
from mediakit.service._serving import Offload, ServedObject, missing_object, offload_redirect
from mediakit.storage import AsyncObjectStore

__all__ = ["AsyncServing"]


@attrs.frozen
class AsyncServing:
    """Serve objects of the store with HTTP semantics (Range, conditionals, offload)."""

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
        """Plan the response to ``method``/``headers`` for ``key`` and open its body."""
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
            raise missing_object() from None
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
        """Answer for nginx offload: an empty ``X-Accel-Redirect`` to ``presigned_url`` with
        the planned byte span, or, when no bytes are to be sent (HEAD, 304, 412, 416), the
        full answer from here. Needs the object's info: cached, else one HEAD."""
        info = self.info_cache.get(key) if self.info_cache is not None else None
        if info is None:
            try:
                info = await self.store.head(key)
            except ObjectNotFound:
                raise missing_object() from None
            if self.info_cache is not None:
                self.info_cache.put(info)
        plan = plan_response(
            method, headers, info, content_type=content_type, disposition=disposition
        )
        if method.upper() != "GET" or plan.span is None:
            return ServedObject(plan.status, dict(plan.headers), AsyncFixedBody(plan.body))
        redirect = offload_redirect(plan, presigned_url, content_type, disposition, offload)
        return ServedObject(200, redirect, AsyncFixedBody())
