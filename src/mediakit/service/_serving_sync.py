# GENERATED from src/mediakit/service/_serving_async.py by scripts/unasync.py: do not edit.
# Edit the async source and run `python scripts/unasync.py` (CI checks this file is fresh).
"""Serving stored bytes from the object store, one of the twins described in
:mod:`mediakit.service._serving`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from mediakit.errors import ObjectNotFound
from mediakit.http.plan import plan_response
from mediakit.proxy import FixedBody, ObjectInfoCache, ProxyResponse, open_sync
from mediakit.service._serving import Offload, ServedObject, missing_object, offload_redirect
from mediakit.storage import ObjectStore

__all__ = ["SyncServing"]


@attrs.frozen
class SyncServing:
    """Serve objects of the store with HTTP semantics (Range, conditionals, offload)."""

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
            raise missing_object() from None
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
                raise missing_object() from None
            if self.info_cache is not None:
                self.info_cache.put(info)
        plan = plan_response(
            method, headers, info, content_type=content_type, disposition=disposition
        )
        if method.upper() != "GET" or plan.span is None:
            return ServedObject(plan.status, dict(plan.headers), FixedBody(plan.body))
        redirect = offload_redirect(plan, presigned_url, content_type, disposition, offload)
        return ServedObject(200, redirect, FixedBody())
