"""What only the async media service does, kept by hand.

:class:`~mediakit.service.AsyncMediaService` (``_async.py``) is written once and
:class:`~mediakit.service.MediaService` (``_sync.py``) is generated from it by
``scripts/unasync.py``. Two things the sync service has no use for live here; the script
turns their uses into the plain sync calls (``await self._db.read(step, *args)`` ->
``step(*args)``, ``await self._asigner.asign(...)`` -> ``self.signer.sign(...)``) and
drops the lines that build them (marked ``# unasync: remove``):

- **How a database step runs.** Repositories are synchronous (SQLAlchemy Core,
  memory). The async service runs each use case's step in a worker thread, in one
  ``anyio.to_thread.run_sync`` hop per request: a few tens of microseconds instead of a
  second, async copy of every repository. Read-only steps on repositories that read in
  process without waiting (a SQLite file in WAL mode, memory:
  :attr:`Repositories.reads_in_process <mediakit.repositories.Repositories.reads_in_process>`)
  run inline instead, where the hop costs more than the query. The repositories choose
  the thread (:meth:`Repositories.run_blocking
  <mediakit.repositories.Repositories.run_blocking>`): anyio's pool by default, the
  request's thread under Django, whose connections Django closes with the request.
- **How a URL is signed.** The async service awaits ``asign`` when the signer has it
  (singleflight across tasks, see :class:`~mediakit.presign.CachedSigner`), else it
  calls ``sign``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import attrs

from mediakit.repositories import Repositories
from mediakit.service._ports import AsyncUrlSigner, SignedUrlLike, UrlSigner

__all__ = ["AsyncStepRunner", "async_signer"]

P = ParamSpec("P")
R = TypeVar("R")


class AsyncStepRunner:
    """Runs the async service's (synchronous) database steps off the event loop."""

    __slots__ = ("_inline_reads", "_run_blocking")

    def __init__(self, repos: Repositories) -> None:
        self._inline_reads = repos.reads_in_process
        self._run_blocking = repos.run_blocking

    async def write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one database step that may write (or wait on a lock) in a worker thread
        (:meth:`Repositories.run_blocking <mediakit.repositories.Repositories.run_blocking>`)."""
        return await self._run_blocking(functools.partial(fn, *args, **kwargs))

    async def read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one read-only database step: inline when the repositories read in process
        without waiting (SQLite file, memory), else in a worker thread."""
        if self._inline_reads:
            return fn(*args, **kwargs)
        return await self._run_blocking(functools.partial(fn, *args, **kwargs))


def async_signer(signer: UrlSigner) -> AsyncUrlSigner:
    """``signer`` itself when it can be awaited, else a wrapper whose ``asign`` calls
    its ``sign`` (signing is then CPU only: no reason to leave the loop)."""
    if isinstance(signer, AsyncUrlSigner):
        return signer
    return _SignsInline(signer)


@attrs.frozen
class _SignsInline:
    signer: UrlSigner

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrlLike:
        return self.signer.sign(key, content_type=content_type, disposition=disposition)

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrlLike:
        return self.signer.sign(key, content_type=content_type, disposition=disposition)
