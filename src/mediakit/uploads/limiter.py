"""Per-admin upload concurrency caps: in one process, or across many through Redis.

An upload request holds one slot of its admin for its whole duration::

    with limiter.hold(principal.id):          # or: async with limiter.ahold(...)
        ingest_images(reader, ...)

When every slot is taken the request is **rejected** with
:class:`~mediakit.errors.TooManyRequests` (429 + ``Retry-After``), not queued. A queued
upload would still hold its client connection, a worker (thread or task) and the
request's buffers while it waits, so a queue turns the cap on concurrency into an
unbounded pile of half-open connections, which is exactly what the cap exists to
prevent; proxies and clients also time out queued requests unpredictably. A 429 costs
nothing to hold and tells the client precisely when to try again.

:class:`InProcessLimiter` counts slots in a dict under a lock: correct for one process
(e.g. one uvicorn worker). :class:`RedisLimiter` shares the cap between processes and
machines: each admin has a sorted set whose members are slot tokens scored by their
lease expiry. Taking a slot is one Lua script (drop expired leases, count, add), so two
processes can never both take the last slot. A held slot's lease is renewed in the
background every third of its length, so long uploads keep it, while a crashed process
stops renewing and its slot frees itself after at most ``lease_seconds``. Time comes
from the Redis server (``TIME``, which scripts may call since Redis 5), so the
processes' clocks need not agree. When Redis cannot be reached the limiter fails
closed (503 ``limiter_unavailable``): without the shared count the cap cannot be kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from mediakit.errors import StorageUnavailable, TooManyRequests

if TYPE_CHECKING:
    from mediakit.settings import Settings

__all__ = ["ConcurrencyLimiter", "InProcessLimiter", "RedisLimiter", "limiter_from_settings"]

log = logging.getLogger(__name__)


def _unreachable(url: str, exc: Exception) -> StorageUnavailable:
    # Fail closed: without the shared count the cap cannot be kept, and the cap is what
    # protects the servers' memory and connections.
    err = StorageUnavailable(
        f"The upload limiter's Redis ({url.split('@')[-1]}) could not be reached ({exc}); "
        "uploads are refused until it is back."
    )
    err.code = "limiter_unavailable"
    return err


def _too_many(admin_id: str, max_per_admin: int, retry_after: int) -> TooManyRequests:
    return TooManyRequests(
        f"Admin {admin_id!r} already has {max_per_admin} upload(s) in progress, the most "
        f"allowed at once. Wait for one to finish and retry in {retry_after} s.",
        retry_after=retry_after,
    )


@runtime_checkable
class ConcurrencyLimiter(Protocol):
    """Caps the uploads one admin may have in flight."""

    def hold(self, admin_id: str) -> contextlib.AbstractContextManager[None]:
        """Hold one of ``admin_id``'s slots for the ``with`` block; ``TooManyRequests`` if none is free."""
        ...

    def ahold(self, admin_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The ``async with`` twin of :meth:`hold`."""
        ...


@attrs.define
class InProcessLimiter:
    """Per-admin slots counted in this process (threads and event loops alike)."""

    max_per_admin: int = attrs.field(validator=attrs.validators.gt(0))
    retry_after: int = 5
    """Seconds suggested to a rejected client in ``Retry-After``."""
    _held: dict[str, int] = attrs.field(factory=dict, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def held(self, admin_id: str) -> int:
        """Slots ``admin_id`` holds now."""
        with self._lock:
            return self._held.get(admin_id, 0)

    def _acquire(self, admin_id: str) -> None:
        with self._lock:
            n = self._held.get(admin_id, 0)
            if n >= self.max_per_admin:
                raise _too_many(admin_id, self.max_per_admin, self.retry_after)
            self._held[admin_id] = n + 1

    def _release(self, admin_id: str) -> None:
        with self._lock:
            n = self._held.get(admin_id, 0) - 1
            if n <= 0:
                self._held.pop(admin_id, None)
            else:
                self._held[admin_id] = n

    @contextlib.contextmanager
    def hold(self, admin_id: str) -> Iterator[None]:
        """See :meth:`ConcurrencyLimiter.hold`."""
        self._acquire(admin_id)
        try:
            yield
        finally:
            self._release(admin_id)

    @contextlib.asynccontextmanager
    async def ahold(self, admin_id: str) -> AsyncIterator[None]:
        """See :meth:`ConcurrencyLimiter.ahold` (the lock is held for microseconds only)."""
        self._acquire(admin_id)
        try:
            yield
        finally:
            self._release(admin_id)


# KEYS[1] = the admin's sorted set; ARGV = token, max, lease_ms.
# Returns 1 when the slot was taken, else 0.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

# Extends a held lease; returns 0 if the lease was already lost (expired and dropped).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 1
"""


@attrs.define
class RedisLimiter:
    """Per-admin slots shared by every process using the same Redis.

    Args:
        redis_url: e.g. ``redis://localhost:6379/0``.
        max_per_admin: slots per admin across all processes.
        lease_seconds: how long a slot outlives a crashed holder; renewed while held.
        retry_after: seconds suggested to a rejected client in ``Retry-After``.
        key_prefix: namespace of the sorted sets.
    """

    redis_url: str
    max_per_admin: int = attrs.field(validator=attrs.validators.gt(0))
    lease_seconds: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    retry_after: int = 5
    key_prefix: str = "mediakit:uploads:"
    _client: Any = attrs.field(default=None, init=False, repr=False)
    _aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = attrs.field(
        factory=weakref.WeakKeyDictionary, init=False, repr=False
    )

    @property
    def _lease_ms(self) -> int:
        return max(1, int(self.lease_seconds * 1000))

    def _key(self, admin_id: str) -> str:
        return self.key_prefix + admin_id

    def _sync(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.redis_url)
        return self._client

    def _async(self) -> Any:
        # A redis.asyncio client is bound to the event loop it first connected on.
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self.redis_url)
            self._aclients[loop] = client
        return client

    def held(self, admin_id: str) -> int:
        """Live (unexpired) slots ``admin_id`` holds across all processes."""
        r = self._sync()
        sec, usec = r.time()
        now_ms = int(sec) * 1000 + int(usec) // 1000
        return int(r.zcount(self._key(admin_id), f"({now_ms}", "+inf"))

    def _renew_every(self) -> float:
        return max(0.05, self.lease_seconds / 3)

    @contextlib.contextmanager
    def hold(self, admin_id: str) -> Iterator[None]:
        """See :meth:`ConcurrencyLimiter.hold`."""
        import redis

        r = self._sync()
        key, token = self._key(admin_id), secrets.token_hex(16)
        try:
            taken = r.eval(_ACQUIRE, 1, key, token, self.max_per_admin, self._lease_ms)
        except redis.RedisError as exc:
            raise _unreachable(self.redis_url, exc) from exc
        if not taken:
            raise _too_many(admin_id, self.max_per_admin, self.retry_after)
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self._renew_every()):
                try:
                    if not r.eval(_RENEW, 1, key, token, self._lease_ms):
                        log.warning("upload slot lease of %r was lost before renewal", admin_id)
                        return
                except Exception:  # Redis hiccup: keep trying until released
                    log.exception("could not renew the upload slot lease of %r", admin_id)

        renewer = threading.Thread(target=renew, name="mediakit-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            try:
                r.zrem(key, token)
            except Exception:  # the lease expires on its own
                log.exception("could not release the upload slot of %r", admin_id)

    @contextlib.asynccontextmanager
    async def ahold(self, admin_id: str) -> AsyncIterator[None]:
        """See :meth:`ConcurrencyLimiter.ahold`."""
        import redis

        r = self._async()
        key, token = self._key(admin_id), secrets.token_hex(16)
        try:
            taken = await r.eval(_ACQUIRE, 1, key, token, self.max_per_admin, self._lease_ms)
        except redis.RedisError as exc:
            raise _unreachable(self.redis_url, exc) from exc
        if not taken:
            raise _too_many(admin_id, self.max_per_admin, self.retry_after)

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._renew_every())
                try:
                    if not await r.eval(_RENEW, 1, key, token, self._lease_ms):
                        log.warning("upload slot lease of %r was lost before renewal", admin_id)
                        return
                except Exception:
                    log.exception("could not renew the upload slot lease of %r", admin_id)

        renewer = asyncio.ensure_future(renew())
        try:
            yield
        finally:
            try:
                await self._stop_renewer(renewer)
            finally:  # released even when the caller is cancelled meanwhile
                try:
                    await asyncio.shield(r.zrem(key, token))
                except Exception:
                    log.exception("could not release the upload slot of %r", admin_id)

    @staticmethod
    async def _stop_renewer(renewer: asyncio.Future[None]) -> None:
        """Cancel the lease renewer and wait for it, without eating the caller's cancel.

        Awaiting the cancelled renewer raises its ``CancelledError``, which is expected
        and swallowed. But a ``cancel()`` of the calling task that lands while it waits
        here is forwarded to the renewer (or thrown in here) and arrives as the same
        exception, so it would be swallowed too and the caller would carry on as if
        never cancelled. The caller's own cancel requests are counted by
        ``Task.cancelling()``: if that count grew while we waited, the exception is the
        caller's and is re-raised. (Comparing with the count on entry, rather than
        testing it for zero, also keeps a body that was already being cancelled, or a
        task that once swallowed a cancel without ``uncancel()``, from being cancelled
        again by a normal exit.)
        """
        current = asyncio.current_task()
        before = current.cancelling() if current is not None else 0
        renewer.cancel()
        try:
            await renewer
        except asyncio.CancelledError:
            if current is not None and current.cancelling() > before:
                raise

    def close(self) -> None:
        """Close the sync client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async client of the running event loop, if one was opened."""
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def limiter_from_settings(settings: Settings, *, lease_seconds: float = 60.0) -> ConcurrencyLimiter:
    """A :class:`RedisLimiter` when ``redis_url`` is set, else an :class:`InProcessLimiter`."""
    if settings.redis_url:
        return RedisLimiter(
            settings.redis_url, settings.max_concurrent_uploads, lease_seconds=lease_seconds
        )
    return InProcessLimiter(settings.max_concurrent_uploads)
