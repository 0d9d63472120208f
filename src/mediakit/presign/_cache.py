"""A per-process URL cache with singleflight, for threads and for asyncio tasks.

The store is a ``cachetools.TLRUCache`` (``TTLCache`` with a lifetime per entry): entries
live until the end of their signing window (:attr:`SignedUrl.renew_at`), when the signer
would hand out a new URL anyway; so a cached URL is always the one every
other process returns, and still has at least ``ttl - window`` to live.

Singleflight: when many threads (or tasks of one event loop) miss on the same key at
once, one computes and the others wait for its result. A failure reaches every waiter
and is not cached; the next call tries again.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import anyio
import attrs
from cachetools import TLRUCache

from mediakit.clock import Clock, SystemClock, system_clock
from mediakit.presign._core import SignedUrl, UrlSigner

__all__ = ["AsyncUrlSigner", "CachedSigner"]

_CacheKey = tuple[str, str | None, str | None]


@runtime_checkable
class AsyncUrlSigner(Protocol):
    """A signer whose signing may wait on I/O (e.g. fetching temporary credentials)."""

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """Like :meth:`UrlSigner.sign`, awaitable."""
        ...


class _Flight:
    """One in-progress computation that other threads wait for."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: SignedUrl | None = None
        self.error: BaseException | None = None


class _AsyncFlight:
    """One in-progress computation that other tasks of the same event loop await."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: SignedUrl | None = None
        self.error: BaseException | None = None


def _loop_token() -> object:
    """The running event loop (asyncio), or trio's token under trio."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # trio: the only other anyio backend
        trio: Any = importlib.import_module("trio")
        token: object = trio.lowlevel.current_trio_token()
        return token


@attrs.define
class CachedSigner:
    """Cache the URLs of ``inner`` per process, computing each once under concurrency.

    Args:
        inner: the signer to cache (a :class:`UrlSigner`; if it also has an async
            ``asign``, :meth:`asign` awaits that).
        maxsize: most entries kept (least recently used go first).
        clock: the time source; must be the one ``inner`` uses.
    """

    inner: UrlSigner
    maxsize: int = attrs.field(default=100_000, kw_only=True)
    clock: Clock = attrs.field(default=system_clock, kw_only=True, repr=False)

    _cache: TLRUCache[_CacheKey, SignedUrl] = attrs.field(init=False, repr=False)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)
    _flights: dict[_CacheKey, _Flight] = attrs.field(init=False, factory=dict, repr=False)
    _aflights: dict[tuple[object, _CacheKey], _AsyncFlight] = attrs.field(
        init=False, factory=dict, repr=False
    )
    _time: Callable[[], float] = attrs.field(init=False, repr=False)
    _front: tuple[float, dict[_CacheKey, SignedUrl]] = attrs.field(
        init=False, factory=lambda: (float("-inf"), {}), repr=False
    )
    """``(until, entries)``: a lock-free read-through front of the cache; see :meth:`_remember`."""

    def __attrs_post_init__(self) -> None:
        # the system clock's time() is time.time: skip a Python-level call on every hit
        self._time = time.time if isinstance(self.clock, SystemClock) else self.clock.time
        self._cache = TLRUCache(maxsize=self.maxsize, ttu=self._until, timer=self._time)

    def _remember(self, k: _CacheKey, value: SignedUrl) -> None:
        """Put a cached entry in the front too (call with the lock held).

        Why: a hit through ``TLRUCache`` (Python code, under a lock) costs about 0.7 µs;
        the front is one dict read and one clock read, so a hit stays far under 1 µs,
        which pages of hundreds of URLs feel. Every entry of a signing window shares
        its renewal time, so the front holds entries renewing no earlier than ``until``
        and is dropped whole at ``until``; the cache itself stays the source of truth.
        """
        if value.renew_at is None:
            return
        renew = value.renew_at.timestamp()
        until, front = self._front
        if self._time() >= until:
            self._front = (renew, {k: value})
        elif renew >= until and len(front) < self.maxsize:
            front[k] = value

    @staticmethod
    def _until(_key: _CacheKey, value: SignedUrl, now: float) -> float:
        """When an entry goes: at its renewal time, or halfway to its expiry."""
        if value.renew_at is not None:
            return value.renew_at.timestamp()
        return now + (value.expires_at.timestamp() - now) / 2

    def __len__(self) -> int:
        """Number of live entries (expired ones may linger until touched)."""
        with self._lock:
            return len(self._cache)

    def clear(self) -> None:
        """Forget every cached URL."""
        with self._lock:
            self._cache.clear()
            self._front = (float("-inf"), {})

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """The cached URL for these inputs, or the inner signer's (computed once)."""
        k = (key, content_type, disposition)
        until, front = self._front  # one read: the pair is replaced, never mutated apart
        hit = front.get(k)
        if hit is not None and self._time() < until:
            return hit
        with self._lock:
            try:
                hit = self._cache[k]
            except KeyError:
                pass
            else:
                self._remember(k, hit)
                return hit
            flight = self._flights.get(k)
            leader = flight is None
            if flight is None:
                flight = self._flights[k] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        try:
            result = self.inner.sign(key, content_type=content_type, disposition=disposition)
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.result = result
            with self._lock:
                self._cache[k] = result
                if k in self._cache:  # not already past its renewal time
                    self._remember(k, result)
            return result
        finally:
            with self._lock:
                del self._flights[k]
            flight.done.set()

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """:meth:`sign` for async code: one computation per key per event loop.

        Concurrent tasks missing on the same key await the first one's result (or its
        error). If that task is cancelled, a waiting task takes over.
        """
        k = (key, content_type, disposition)
        until, front = self._front
        hit = front.get(k)
        if hit is not None and self._time() < until:
            return hit
        fk = (_loop_token(), k)
        while True:
            with self._lock:
                try:
                    hit = self._cache[k]
                except KeyError:
                    pass
                else:
                    self._remember(k, hit)
                    return hit
                flight = self._aflights.get(fk)
                leader = flight is None
                if flight is None:
                    flight = self._aflights[fk] = _AsyncFlight()
            if leader:
                break
            await flight.done.wait()
            if flight.error is not None:
                raise flight.error
            if flight.result is not None:
                return flight.result
            # the leader was cancelled: try again (maybe as the new leader)
        cancelled = anyio.get_cancelled_exc_class()
        try:
            inner = self.inner
            if isinstance(inner, AsyncUrlSigner):
                result = await inner.asign(key, content_type=content_type, disposition=disposition)
            else:
                result = inner.sign(key, content_type=content_type, disposition=disposition)
        except cancelled:
            raise
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.result = result
            with self._lock:
                self._cache[k] = result
                if k in self._cache:  # not already past its renewal time
                    self._remember(k, result)
            return result
        finally:
            with self._lock:
                del self._aflights[fk]
            flight.done.set()
