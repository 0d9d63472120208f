"""A per-process URL cache with singleflight, for threads and for asyncio tasks.

Entries live until the end of their signing window (:attr:`SignedUrl.renew_at`), when
the signer would hand out a new URL anyway; so a cached URL is always the one every
other process returns, and still has at least ``ttl - window`` to live. The entries of
the current window sit in one dict that is dropped whole when the window ends; the odd
ones that renew at other times sit in a ``cachetools.TLRUCache``.

Singleflight: when many threads (or tasks of one event loop) miss on the same key at
once, one computes and the others wait for its result. A failure reaches every waiter
and is not cached; the next call tries again. A miss nobody else is waiting on costs
the inner signer plus a few dict operations: within a live window the leader marks its
key in the window's dict with one atomic ``setdefault`` and takes no lock at all.

Signing ahead: shortly before a window ends, a background thread signs the window's most
recent entries again for the next window, so the first page after the boundary is served
from the cache instead of signing every URL on the request path (for CloudFront URLs, an
RSA signature each).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

import anyio
import attrs
from cachetools import TLRUCache

from mediakit.clock import Clock, SystemClock, system_clock
from mediakit.presign._core import SignedUrl, UrlSigner

__all__ = ["AsyncUrlSigner", "CachedSigner"]

log = logging.getLogger("mediakit.presign")

_CacheKey = tuple[str, str | None, str | None]

# Sign ahead this share of a window before it ends (at most _MAX_LEAD seconds).
_LEAD_SHARE = 0.2
_MAX_LEAD = 60.0


@attrs.frozen
class _Pinned:
    """A clock stopped at ``at``: a clone of the inner signer signs as of that moment."""

    at: float

    def time(self) -> float:
        """The pinned time."""
        return self.at

    def now(self) -> datetime:
        """The pinned time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.at, UTC)


def _prefetch_loop(ref: weakref.ref[CachedSigner]) -> None:
    """Background: shortly before each window ends, sign its entries for the next one.

    One attempt per window, whatever its outcome. Holds the cache only weakly, so it
    ends once the cache is garbage.
    """
    tried = float("-inf")  # the window end last signed ahead for
    while True:
        me = ref()
        if me is None:
            return
        until, created = me._gen[0], me._gen_created
        del me  # no strong reference while sleeping
        now = time.time()
        lead = min(_MAX_LEAD, (until - created) * _LEAD_SHARE)
        if until == tried or now >= until:  # done for this window, or none open yet
            time.sleep(1.0)
            continue
        if now < until - lead:
            time.sleep(min(1.0, max(0.05, until - lead - now)))
            continue
        tried = until
        me = ref()
        if me is None:
            return
        try:
            me.prefetch_next()
        except Exception:  # never end the loop: the request path signs as usual
            log.debug("signing URLs ahead failed", exc_info=True)
        del me


@runtime_checkable
class AsyncUrlSigner(Protocol):
    """A signer whose signing may wait on I/O (e.g. fetching temporary credentials)."""

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """Like :meth:`UrlSigner.sign`, awaitable."""
        ...


def _clonable(inner: object) -> bool:
    """Whether ``inner`` can be copied with another clock (an attrs class with ``clock``)."""
    kind: Any = type(inner)
    return attrs.has(kind) and "clock" in attrs.fields_dict(kind)


class _Lead:
    """A leader's mark in the current generation while it signs the key; outside a live
    window, the flight :meth:`CachedSigner._miss_locked` waiters sleep on.

    Falsy, so every read of the generation takes it for a miss. Waiters set
    :attr:`waited` under the cache's lock and sleep on its condition; the leader sets
    :attr:`done` before it reads :attr:`waited`, so one of the two always sees the other
    (the leader notifies, or the waiter finds the result) and no wake-up is lost.
    """

    # Class-level defaults and no ``__init__``: one is made per miss, and this is the
    # cheapest object CPython makes (a slotted class needs an ``__init__`` for them).
    done: bool = False
    waited: bool = False
    result: SignedUrl | None = None
    error: BaseException | None = None

    def __bool__(self) -> Literal[False]:
        return False


_Entries = OrderedDict[_CacheKey, SignedUrl | _Lead]


def _outcome(flight: _Lead) -> SignedUrl:
    """A finished flight's URL, or its error raised."""
    if flight.error is not None:
        raise flight.error
    assert flight.result is not None
    return flight.result


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
        maxsize: most entries kept (the oldest go first).
        clock: the time source; must be the one ``inner`` uses.
        prefetch: how many of a window's most recent entries are signed again for the
            next window, shortly before it starts (:meth:`prefetch_next`), so that the
            first page of a window is served from the cache; 0 turns it off. With the
            system clock a daemon thread does it (the last fifth of each window, at most
            a minute ahead); ``inner`` must be an attrs class with a ``clock`` field
            (every mediakit signer is), otherwise nothing is signed ahead.

    Two stores: the *generation*, a plain dict holding the entries of the current
    signing window (they all renew at the same instant, so the dict is dropped whole
    when the window ends and a hit is one dict read and one clock read, lock-free); and
    a ``cachetools.TLRUCache`` for the odd entries that renew at another time (URLs
    clamped to expiring credentials, foreign signers without ``renew_at``).
    """

    inner: UrlSigner
    maxsize: int = attrs.field(default=100_000, kw_only=True)
    clock: Clock = attrs.field(default=system_clock, kw_only=True, repr=False)
    prefetch: int = attrs.field(default=10_000, kw_only=True)

    _odd: TLRUCache[_CacheKey, SignedUrl] = attrs.field(init=False, repr=False)
    _odd_used: bool = attrs.field(init=False, default=False, repr=False)
    """Whether :attr:`_odd` ever held an entry (its ``len`` is a slow Python call)."""
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)
    _cond: threading.Condition = attrs.field(init=False, repr=False)
    _flights: dict[_CacheKey, _Lead | None] = attrs.field(init=False, factory=dict, repr=False)
    _aflights: dict[tuple[object, _CacheKey], _AsyncFlight] = attrs.field(
        init=False, factory=dict, repr=False
    )
    _time: Callable[[], float] = attrs.field(init=False, repr=False)
    _gen: tuple[float, _Entries] = attrs.field(
        init=False, factory=lambda: (float("-inf"), OrderedDict()), repr=False
    )
    """``(until, entries)``: the entries renewing at ``until``; replaced whole, never
    mutated apart, so readers take both with one attribute read and no lock. A key
    being signed holds its leader's :class:`_Lead` (falsy) until the URL replaces it."""
    _gen_created: float = attrs.field(init=False, default=0.0, repr=False)
    _next: tuple[float, float, _Entries] | None = attrs.field(init=False, default=None, repr=False)
    """``(from, until, entries)``: the next window's entries, signed ahead."""
    _prefetch_pid: int = attrs.field(init=False, default=0, repr=False)
    _renew: tuple[object, float] = attrs.field(init=False, default=(None, 0.0), repr=False)
    """The last ``renew_at`` seen and its timestamp (a window's URLs share the object)."""
    _asign: Callable[..., Awaitable[SignedUrl]] | None = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # the system clock's time() is time.time: skip a Python-level call on every hit
        self._time = time.time if isinstance(self.clock, SystemClock) else self.clock.time
        self._odd = TLRUCache(maxsize=self.maxsize, ttu=self._until, timer=self._time)
        self._cond = threading.Condition(self._lock)
        inner = self.inner
        self._asign = inner.asign if isinstance(inner, AsyncUrlSigner) else None

    @staticmethod
    def _until(_key: _CacheKey, value: SignedUrl, now: float) -> float:
        """When an odd entry goes: at its renewal time, or halfway to its expiry."""
        if value.renew_at is not None:
            return value.renew_at.timestamp()
        return now + (value.expires_at.timestamp() - now) / 2

    def __len__(self) -> int:
        """Number of live entries (expired odd ones may linger until touched)."""
        with self._lock:
            until, gen = self._gen
            live = sum(1 for v in gen.values() if v) if self._time() < until else 0
            return live + len(self._odd)

    def clear(self) -> None:
        """Forget every cached URL."""
        with self._lock:
            if self._odd_used:
                self._odd.clear()
            self._odd_used = False
            self._gen = (float("-inf"), OrderedDict())
            self._next = None

    def _lookup(self, k: _CacheKey, now: float) -> SignedUrl | None:
        """A cached entry (call with the lock held)."""
        until, gen = self._gen
        if now >= until and self._next is not None:
            until, gen = self._promote(now)
        if now < until:
            hit = gen.get(k)
            if hit:  # not a leader's mark
                return hit
        if self._odd_used:
            return self._odd.get(k)
        return None

    def _store(self, k: _CacheKey, value: SignedUrl, now: float) -> None:
        """Keep a fresh entry until its renewal time (call with the lock held)."""
        renew_at = value.renew_at
        if renew_at is None:
            self._odd[k] = value
            self._odd_used = True
            return
        seen, renew = self._renew
        if seen is not renew_at:
            renew = renew_at.timestamp()
            self._renew = (renew_at, renew)
        if renew <= now:
            return  # its window is already over: the next call signs anew
        until, gen = self._gen
        if now >= until and self._next is not None:
            until, gen = self._promote(now)
        if now >= until or renew > until:
            self._gen = (renew, OrderedDict({k: value}))
            self._gen_created = now
            self._start_prefetch()
        elif renew == until:
            if len(gen) >= self.maxsize:
                gen.popitem(last=False)
            gen[k] = value
        else:  # renews before the window ends: credentials about to expire
            self._odd[k] = value
            self._odd_used = True

    def _promote(self, now: float) -> tuple[float, _Entries]:
        """Make the entries signed ahead the current ones if their window has come
        (call with the lock held); returns the current generation."""
        nxt = self._next
        if nxt is not None and nxt[0] <= now:
            self._next = None
            if now < nxt[1]:
                self._gen = (nxt[1], nxt[2])
                self._gen_created = nxt[0]
        return self._gen

    def _start_prefetch(self) -> None:
        """Start the background signer once per process (call with the lock held)."""
        if self.prefetch <= 0 or not isinstance(self.clock, SystemClock):
            return
        if not _clonable(self.inner):
            return
        pid = os.getpid()
        if self._prefetch_pid == pid:  # a forked child starts its own
            return
        self._prefetch_pid = pid
        threading.Thread(
            target=_prefetch_loop,
            args=(weakref.ref(self),),
            name="mediakit-presign-ahead",
            daemon=True,
        ).start()

    def prefetch_next(self) -> int:
        """Sign the current window's most recent entries for the next window now.

        They are served from the moment the next window starts. Returns how many were
        signed (0 when the inner signer cannot be cloned at another time, or when there
        is nothing to do). Safe to call from any thread; a failure of the inner signer
        ends the round early and is raised.
        """
        if self.prefetch <= 0:
            return 0
        with self._lock:
            until, gen = self._gen
            keys = list(gen)[-self.prefetch :]
            if self._next is not None and self._next[0] == until:
                return 0
        inner: Any = self.inner
        if until == float("-inf") or not keys or not _clonable(inner):
            return 0
        ahead: UrlSigner = attrs.evolve(inner, clock=_Pinned(until))
        entries: _Entries = OrderedDict()
        renew = None
        for k in keys:
            value = ahead.sign(k[0], content_type=k[1], disposition=k[2])
            if value.renew_at is None:
                return 0
            if renew is None:
                renew = value.renew_at.timestamp()
            if value.renew_at.timestamp() == renew:  # not clamped by credentials
                entries[k] = value
        if renew is None or renew <= until:
            return 0
        with self._lock:
            if self._gen[0] == until:  # still the window it was signed after
                self._next = (until, renew, entries)
        return len(entries)

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """The cached URL for these inputs, or the inner signer's (computed once)."""
        k = (key, content_type, disposition)
        until, gen = self._gen  # one read: the pair is replaced, never mutated apart
        hit = gen.get(k)
        if hit and self._time() < until:
            return hit
        return self._miss(k)

    def _miss(self, k: _CacheKey) -> SignedUrl:
        """Compute ``k`` once across threads: the first caller signs, others wait.

        Within a live window the leader marks the key in the generation itself with one
        atomic ``dict.setdefault``, which also finds a URL stored since the caller
        looked; the URL replaces the mark, and only a leader somebody waits for takes
        the lock, to wake them. So a miss nobody else waits on costs the inner signer
        plus a few dict operations (issue 15: a per-miss ``threading.Event`` and a
        ``TLRUCache`` insert made a miss cost 5x an uncached sign). Other misses (no
        live window, entries kept apart) take :meth:`_miss_locked`.
        """
        until, gen = self._gen
        now = self._time()
        if now >= until or self._odd_used:
            return self._miss_locked(k)
        if len(gen) >= self.maxsize:
            with contextlib.suppress(KeyError):  # emptied by another thread meanwhile
                gen.popitem(last=False)
        mine = _Lead()
        held = gen.setdefault(k, mine)
        if held is not mine:
            return self._wait(held) if isinstance(held, _Lead) else held
        try:
            result = self.inner.sign(k[0], content_type=k[1], disposition=k[2])
        except BaseException as exc:
            mine.error = exc
            with self._lock:
                if gen.get(k) is mine:
                    del gen[k]  # failures are not cached
                mine.done = True
                self._cond.notify_all()
            raise
        mine.result = result
        mine.done = True  # before reading ``waited``: see _Lead
        seen, renew = self._renew
        if result.renew_at is seen and renew == until:
            gen[k] = result
        else:  # renews at another time (a new window, expiring credentials)
            with self._lock:
                if gen.get(k) is mine:
                    del gen[k]
                self._store(k, result, now)
        if mine.waited:
            with self._lock:
                self._cond.notify_all()
        return result

    def _wait(self, lead: _Lead) -> SignedUrl:
        """The URL another thread is signing (its ``lead``), or its error."""
        with self._lock:
            lead.waited = True
            while not lead.done:
                self._cond.wait()
        return _outcome(lead)

    def _miss_locked(self, k: _CacheKey) -> SignedUrl:
        """:meth:`_miss` outside a live window: registration and store under the lock."""
        flights = self._flights
        with self._lock:
            now = self._time()
            hit = self._lookup(k, now)
            if hit is not None:
                return hit
            if k not in flights:
                # The leader: no flight object until somebody waits for this key.
                flights[k] = None
            else:
                flight = flights[k]
                if flight is None:
                    flight = flights[k] = _Lead()
                while not flight.done:
                    self._cond.wait()
                return _outcome(flight)
        try:
            result = self.inner.sign(k[0], content_type=k[1], disposition=k[2])
        except BaseException as exc:
            with self._lock:
                flight = flights.pop(k)
                if flight is not None:
                    flight.error = exc
                    flight.done = True
                    self._cond.notify_all()
            raise
        with self._lock:
            # ``now`` from before signing: an entry stored a little late is still read
            # only while its window lasts (every read checks ``until``)
            self._store(k, result, now)
            flight = flights.pop(k)
            if flight is not None:
                flight.result = result
                flight.done = True
                self._cond.notify_all()
        return result

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """:meth:`sign` for async code: one computation per key per event loop.

        With a synchronous inner signer this is :meth:`sign` (a computation that never
        awaits cannot interleave with other tasks). With an async one, concurrent tasks
        missing on the same key await the first one's result (or its error); if that
        task is cancelled, a waiting task takes over.
        """
        k = (key, content_type, disposition)
        until, gen = self._gen
        hit = gen.get(k)
        if hit and self._time() < until:
            return hit
        asign = self._asign
        if asign is None:
            return self._miss(k)
        fk = (_loop_token(), k)
        while True:
            with self._lock:
                hit = self._lookup(k, self._time())
                if hit is not None:
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
            result = await asign(key, content_type=content_type, disposition=disposition)
        except cancelled:
            raise
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.result = result
            with self._lock:
                self._store(k, result, self._time())
            return result
        finally:
            with self._lock:
                del self._aflights[fk]
            flight.done.set()
