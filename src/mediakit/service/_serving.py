"""Serving stored bytes with HTTP semantics (sync and async), for the Range proxy and
the filesystem store's signed URLs: what both servers share.

:class:`~mediakit.service._serving_async.AsyncServing` is written once, in
``_serving_async.py``; :class:`~mediakit.service._serving_sync.SyncServing` is generated
from it by ``scripts/unasync.py``. This module holds what they share.

A thin layer over :func:`mediakit.proxy.open_sync` / :func:`~mediakit.proxy.open_async`:
they HEAD the object (or take it from an :class:`~mediakit.proxy.ObjectInfoCache`), plan
the response with :func:`mediakit.http.plan_response` and fetch the first chunk before
any header is sent, so a storage failure is still a clean 404/502/503.

With ``MEDIA_DELIVERY=offload``, ``offload()`` plans the same answer from the object's
(cached) info and hands the bytes to nginx with ``X-Accel-Redirect`` instead of streaming
them (see :func:`mediakit.proxy.offload_headers` and the nginx how-to).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

import attrs

from mediakit.errors import NotFound
from mediakit.http.plan import ResponsePlan
from mediakit.proxy import offload_headers

__all__ = ["Offload", "ServedObject", "missing_object", "offload_redirect"]

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


def offload_redirect(
    plan: ResponsePlan,
    presigned_url: str,
    content_type: str | None,
    disposition: str | None,
    offload: Offload,
) -> dict[str, str]:
    """The ``X-Accel-Redirect`` headers sending nginx to ``presigned_url`` for ``plan``."""
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


def missing_object() -> NotFound:
    """The error of a row whose object is gone from the store."""
    return NotFound("The media's stored file is missing; it may have been deleted.")
