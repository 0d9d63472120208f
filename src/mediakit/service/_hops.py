"""What really differs between the two media services, kept by hand.

:class:`~mediakit.service.AsyncMediaService` (``_async.py``) is written once and
:class:`~mediakit.service.MediaService` (``_sync.py``) is generated from it by
``scripts/unasync.py``. The two differences that token substitution cannot express
live here, each as an ``Async`` class and a sync class of the same shape (the script
renames ``AsyncStepRunner`` -> ``StepRunner`` and ``AsyncSigning`` -> ``Signing``):

- **How a database step runs.** Repositories are synchronous (SQLAlchemy Core,
  memory). The async service runs each use case's step in a worker thread, in one
  ``anyio.to_thread.run_sync`` hop per request: a few tens of microseconds instead of a
  second, async copy of every repository. Read-only steps on repositories that read in
  process without waiting (a SQLite file in WAL mode, memory:
  :attr:`Repositories.reads_in_process <mediakit.repositories.Repositories.reads_in_process>`)
  run inline instead, where the hop costs more than the query. The sync service calls
  the step.
- **How a URL is signed.** The async service awaits ``asign`` when the signer has it
  (singleflight across tasks, see :class:`~mediakit.presign.CachedSigner`); the sync
  one calls ``sign``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread

from mediakit.repositories import Repositories
from mediakit.service._policy import ServeTarget
from mediakit.service._ports import AsyncUrlSigner, SignedUrlLike, UrlSigner

__all__ = ["AsyncSigning", "AsyncStepRunner", "Signing", "StepRunner"]

P = ParamSpec("P")
R = TypeVar("R")


class AsyncStepRunner:
    """Runs the async service's (synchronous) database steps off the event loop."""

    __slots__ = ("_inline_reads",)

    def __init__(self, repos: Repositories) -> None:
        self._inline_reads = repos.reads_in_process

    async def write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one database step that may write (or wait on a lock) in a worker thread."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    async def read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one read-only database step: inline when the repositories read in process
        without waiting (SQLite file, memory), else in a worker thread."""
        if self._inline_reads:
            return fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


class StepRunner:
    """Runs the sync service's database steps: in the calling thread."""

    __slots__ = ()

    def __init__(self, repos: Repositories) -> None:
        del repos  # the same shape as AsyncStepRunner; nothing to decide here

    def write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one database step."""
        return fn(*args, **kwargs)

    def read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one read-only database step."""
        return fn(*args, **kwargs)


class AsyncSigning:
    """Signs serve targets for the async service: ``asign`` when the signer has it."""

    __slots__ = ("_asign", "_sign")

    def __init__(self, signer: UrlSigner) -> None:
        self._sign = signer.sign
        self._asign = signer.asign if isinstance(signer, AsyncUrlSigner) else None

    async def sign(self, target: ServeTarget) -> SignedUrlLike:
        """A signed URL serving ``target`` with its response headers."""
        if self._asign is None:
            return self._sign(
                target.key, content_type=target.content_type, disposition=target.disposition
            )
        return await self._asign(
            target.key, content_type=target.content_type, disposition=target.disposition
        )


class Signing:
    """Signs serve targets for the sync service."""

    __slots__ = ("_sign",)

    def __init__(self, signer: UrlSigner) -> None:
        self._sign = signer.sign

    def sign(self, target: ServeTarget) -> SignedUrlLike:
        """A signed URL serving ``target`` with its response headers."""
        return self._sign(
            target.key, content_type=target.content_type, disposition=target.disposition
        )
