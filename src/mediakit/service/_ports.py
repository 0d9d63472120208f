"""What the service layer needs from the parts around it, as small protocols.

The service depends on these shapes, not on concrete classes, so tests can hand it
in-memory parts and apps can plug in their own (a Celery job runner, a custom signer).
The concrete implementations live in :mod:`mediakit.presign`, :mod:`mediakit.uploads`
and :mod:`mediakit.processing`; :mod:`mediakit.service._wiring` connects them.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from mediakit.processing.jobs import JobRunner

__all__ = [
    "AsyncUrlSigner",
    "JobRunner",
    "LocalGrant",
    "LocalVerifier",
    "SignedUrlLike",
    "UploadLimiter",
    "UrlSigner",
]


class SignedUrlLike(Protocol):
    """A URL handed to a client and the moment it stops working."""

    @property
    def url(self) -> str:
        """The URL."""
        ...

    @property
    def expires_at(self) -> datetime:
        """When the URL expires (aware UTC)."""
        ...


class UrlSigner(Protocol):
    """Signs GET URLs for object keys (presigned S3 or HMAC-signed local URLs)."""

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrlLike:
        """A signed URL that serves ``key`` with the given response headers."""
        ...


@runtime_checkable
class AsyncUrlSigner(UrlSigner, Protocol):
    """A signer that can also be awaited (singleflight across asyncio tasks)."""

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrlLike:
        """See :meth:`UrlSigner.sign`."""
        ...


class UploadLimiter(Protocol):
    """Caps the upload requests one admin may have in flight."""

    def hold(self, admin_id: str) -> AbstractContextManager[Any]:
        """Hold one slot while uploading; raises ``TooManyRequests`` when none is free."""
        ...

    def ahold(self, admin_id: str) -> AbstractAsyncContextManager[Any]:
        """The async twin of :meth:`hold`."""
        ...


class LocalGrant(Protocol):
    """What a verified local URL allows: the response headers to serve it with."""

    @property
    def content_type(self) -> str | None:
        """The Content-Type the signer fixed (None: the object's)."""
        ...

    @property
    def disposition(self) -> str | None:
        """The Content-Disposition the signer fixed, if any."""
        ...


class LocalVerifier(Protocol):
    """Checks the HMAC-signed URLs of the filesystem store."""

    def verify(self, key: str, query: Mapping[str, str]) -> LocalGrant:
        """The grant of a valid URL; ``Forbidden`` when tampered or expired."""
        ...
