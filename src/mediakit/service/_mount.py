"""Where the current request reached the adapter's routes: the base of handed-out URLs.

The proxy and local-file URLs the service hands out are paths on the app itself, so
they depend on where the adapter's routes are mounted: the app's ``include_router``
prefixes, a mounted sub-application, a reverse proxy's ``root_path``. Only the adapter
knows that, per request; it says so with :func:`mounted_at` around the service call,
and the service builds its URLs below that path. Outside such a block (scripts, tests,
a worker) the ``prefix`` given to :func:`~mediakit.service.build_service` applies.

Why a context variable rather than an argument of every service method: the mount point
is a property of the request, like Django's script prefix (``set_script_prefix``, also
kept per request in a context-local), and threading it through every use case and view
would add a parameter to each without changing a decision. ``anyio.to_thread`` and
asyncio tasks copy the context, so the value follows the request.

```python
from mediakit.service import current_mount, mounted_at

with mounted_at("/behind-proxy/media/"):
    assert current_mount() == "/behind-proxy/media"
assert current_mount() is None
```
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import attrs

from mediakit.presign import CachedSigner, SignedUrl

__all__ = ["MountedSigner", "current_mount", "mount_base", "mounted_at"]

_MOUNT: ContextVar[str | None] = ContextVar("mediakit_mount", default=None)


@contextlib.contextmanager
def mounted_at(path: str) -> Iterator[None]:
    """Hand out URLs below ``path`` (the routes' public mount point) inside this block."""
    token = _MOUNT.set(path.rstrip("/"))
    try:
        yield
    finally:
        _MOUNT.reset(token)


def current_mount() -> str | None:
    """The mount point set by :func:`mounted_at`, or ``None`` outside one."""
    return _MOUNT.get()


def mount_base(built: str, path: str) -> str:
    """The base of URLs served at ``path`` below the current mount point; ``built`` (the
    base fixed when the service was built) outside :func:`mounted_at`."""
    mount = _MOUNT.get()
    return built if mount is None else mount + path


@attrs.frozen
class MountedSigner:
    """A local-URL signer whose URLs follow the current mount point.

    The signature of a local URL covers the key, the expiry and the response headers,
    not the path it is served under, so one cached URL is valid below any mount point:
    the cache stays shared and only the path prefix is swapped.
    """

    inner: CachedSigner
    built: str
    """The base path ``inner`` signs under (``prefix + LOCAL_PATH``)."""
    path: str
    """The serving route's path below the mount point (:data:`~mediakit.contract.LOCAL_PATH`)."""

    def _rebase(self, signed: SignedUrl) -> SignedUrl:
        mount = _MOUNT.get()
        if mount is None:
            return signed
        base = mount + self.path
        if base == self.built or not signed.url.startswith(self.built):
            return signed
        return SignedUrl(base + signed.url[len(self.built) :], signed.expires_at, signed.renew_at)

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """The inner signer's URL for ``key``, below the current mount point."""
        return self._rebase(
            self.inner.sign(key, content_type=content_type, disposition=disposition)
        )

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """:meth:`sign`, awaitable (the inner signer's singleflight)."""
        signed = await self.inner.asign(key, content_type=content_type, disposition=disposition)
        return self._rebase(signed)
