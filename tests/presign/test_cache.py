"""CachedSigner: hits, expiry at the end of the signing window, singleflight."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import anyio
import pytest

from mediakit.clock import ManualClock
from mediakit.errors import StorageUnavailable
from mediakit.presign import CachedSigner, Credentials, SignedUrl, SigV4Presigner, UrlSigner

T0 = 1_699_999_800.0  # a multiple of 300
# One object for the window's renewal time, as a real signer hands out (the cache's
# lock-free store recognises the window by it).
RENEW_T0 = datetime.fromtimestamp(T0 + 300, UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Counting:
    """Wraps a signer and counts calls (optionally slow, optionally failing)."""

    def __init__(self, inner: UrlSigner | None = None, *, delay: float = 0.0) -> None:
        self.inner = inner
        self.delay = delay
        self.calls = 0
        self.fail: BaseException | None = None
        self._lock = threading.Lock()

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        if self.inner is not None:
            return self.inner.sign(key, content_type=content_type, disposition=disposition)
        exp = datetime.fromtimestamp(T0 + 900, UTC)
        return SignedUrl(f"https://x/{key}?{self.calls}", exp, RENEW_T0)


class AsyncCounting(Counting):
    """A signer with an awaitable ``asign`` that yields to the event loop."""

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        self.calls += 1
        await anyio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        exp = datetime.fromtimestamp(T0 + 900, UTC)
        return SignedUrl(f"https://x/{key}?{self.calls}", exp, RENEW_T0)


def presigner(clock: ManualClock) -> SigV4Presigner:
    return SigV4Presigner(
        "bkt",
        credentials=Credentials("AKID", "SECRET"),
        endpoint_url="http://127.0.0.1:9000",
        ttl=900,
        window=300,
        clock=clock,
    )


def test_second_call_is_a_hit() -> None:
    """The same (key, content type, disposition) is signed once; others are separate."""
    clock = ManualClock(T0 + 5)
    inner = Counting(presigner(clock))
    cached = CachedSigner(inner, clock=clock)
    a = cached.sign("k", content_type="image/png")
    assert cached.sign("k", content_type="image/png") is a
    assert inner.calls == 1
    cached.sign("k", content_type="image/jpeg")
    cached.sign("k", content_type="image/png", disposition="inline")
    cached.sign("other", content_type="image/png")
    assert inner.calls == 4
    assert len(cached) == 4


def test_entry_expires_at_the_end_of_its_signing_window() -> None:
    """A cached URL is replaced exactly when the signer would sign a new one."""
    clock = ManualClock(T0 + 5)
    inner = Counting(presigner(clock))
    cached = CachedSigner(inner, clock=clock)
    first = cached.sign("k")
    clock.set(T0 + 299.9)
    assert cached.sign("k") is first
    clock.set(T0 + 300)
    second = cached.sign("k")
    assert inner.calls == 2
    assert second.url != first.url
    # the cached URL equals what an uncached process returns now
    assert second == presigner(ManualClock(T0 + 301)).sign("k")


def test_without_renew_at_entries_live_half_their_remaining_life() -> None:
    """A foreign signer that says nothing about windows: cached half-way to expiry."""
    clock = ManualClock(T0)

    class Plain:
        calls = 0

        def sign(
            self, key: str, *, content_type: str | None = None, disposition: str | None = None
        ) -> SignedUrl:
            self.calls += 1
            return SignedUrl(f"u{self.calls}", datetime.fromtimestamp(T0 + 100, UTC))

    inner = Plain()
    cached = CachedSigner(inner, clock=clock)
    cached.sign("k")
    clock.advance(49)
    assert cached.sign("k").url == "u1"
    clock.advance(2)
    assert cached.sign("k").url == "u2"


def test_maxsize_bounds_the_cache() -> None:
    """Least recently used entries go beyond maxsize."""
    clock = ManualClock(T0)
    cached = CachedSigner(Counting(), maxsize=3, clock=clock)
    for i in range(10):
        cached.sign(f"k{i}")
    assert len(cached) == 3


def _warmed(cached: CachedSigner, inner: Counting, window: str) -> int:
    """Open the signing window first (``live``: misses take the lock-free path) or not
    (``cold``: the first store opens it); returns the inner calls that made."""
    if window == "cold":
        return 0
    fail, inner.fail, delay, inner.delay = inner.fail, None, inner.delay, 0.0
    cached.sign("warm")
    inner.fail, inner.delay = fail, delay
    return 1


WINDOWS = pytest.mark.parametrize("window", ["cold", "live"])


@WINDOWS
def test_32_threads_missing_together_compute_once(window: str) -> None:
    """Singleflight (threads): 32 concurrent misses on one key make one inner call."""
    inner = Counting(delay=0.2)
    cached = CachedSigner(inner, clock=ManualClock(T0))
    warm = _warmed(cached, inner, window)
    barrier = threading.Barrier(32)

    def go() -> SignedUrl:
        barrier.wait()
        return cached.sign("k", content_type="image/png")

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: go(), range(32)))
    assert inner.calls == warm + 1
    assert len({id(r) for r in results}) == 1
    assert cached.sign("k", content_type="image/png") is results[0]


@WINDOWS
def test_thread_failure_reaches_all_waiters_and_is_not_cached(window: str) -> None:
    """Singleflight (threads): one failure is raised in every waiter; the next call retries."""
    inner = Counting(delay=0.2)
    inner.fail = StorageUnavailable("credentials gone")
    cached = CachedSigner(inner, clock=ManualClock(T0))
    warm = _warmed(cached, inner, window)
    barrier = threading.Barrier(8)

    def go() -> BaseException | None:
        barrier.wait()
        try:
            cached.sign("k")
        except StorageUnavailable as exc:
            return exc
        return None

    with ThreadPoolExecutor(8) as pool:
        errors = list(pool.map(lambda _: go(), range(8)))
    assert inner.calls == warm + 1
    assert all(isinstance(e, StorageUnavailable) for e in errors)
    assert len(cached) == warm  # neither the failure nor its mark is kept
    inner.fail, inner.delay = None, 0
    cached.sign("k")
    assert inner.calls == warm + 2


@pytest.mark.anyio
async def test_100_tasks_missing_together_compute_once() -> None:
    """Singleflight (asyncio): 100 concurrent misses on one key make one inner call."""
    inner = AsyncCounting(delay=0.05)
    cached = CachedSigner(inner, clock=ManualClock(T0))
    results: list[SignedUrl] = []

    async def go() -> None:
        results.append(await cached.asign("k", disposition="inline"))

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(go)
    assert inner.calls == 1
    assert len(results) == 100
    assert len({r.url for r in results}) == 1
    assert await cached.asign("k", disposition="inline") is results[0]
    assert inner.calls == 1


@pytest.mark.anyio
async def test_async_failure_reaches_all_waiters_and_is_not_cached() -> None:
    """Singleflight (asyncio): every waiting task gets the error; nothing is cached."""
    inner = AsyncCounting(delay=0.05)
    inner.fail = StorageUnavailable("credentials gone")
    cached = CachedSigner(inner, clock=ManualClock(T0))
    errors: list[BaseException] = []

    async def go() -> None:
        try:
            await cached.asign("k")
        except StorageUnavailable as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(go)
    assert inner.calls == 1
    assert len(errors) == 100
    inner.fail = None
    await cached.asign("k")
    assert inner.calls == 2


@pytest.mark.anyio
async def test_a_cancelled_leader_hands_over_to_a_waiter() -> None:
    """If the computing task is cancelled, a waiting task computes instead of hanging."""
    inner = AsyncCounting(delay=0.1)
    cached = CachedSigner(inner, clock=ManualClock(T0))
    got: list[SignedUrl] = []

    async def waiter() -> None:
        got.append(await cached.asign("k"))

    leader_scope = anyio.CancelScope()

    async def leader() -> None:
        with leader_scope:
            await cached.asign("k")

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await anyio.sleep(0.01)
        tg.start_soon(waiter)
        await anyio.sleep(0.01)
        leader_scope.cancel()
    assert inner.calls == 2
    assert len(got) == 1


@pytest.mark.anyio
async def test_asign_with_a_sync_inner_signer_uses_the_same_cache() -> None:
    """``asign`` over a plain signer: computed once, shared with ``sign``."""
    clock = ManualClock(T0)
    inner = Counting(presigner(clock))
    cached = CachedSigner(inner, clock=clock)
    a = await cached.asign("k")
    assert cached.sign("k") is a
    assert inner.calls == 1


def test_an_entry_renewing_early_is_not_kept_past_its_renewal() -> None:
    """Entries with different renewal times (clamped credentials) each expire on time."""
    clock = ManualClock(T0)
    renew = {"long": T0 + 300, "short": T0 + 100}
    calls: list[str] = []

    class Mixed:
        def sign(
            self, key: str, *, content_type: str | None = None, disposition: str | None = None
        ) -> SignedUrl:
            calls.append(key)
            return SignedUrl(
                f"{key}{len(calls)}",
                datetime.fromtimestamp(T0 + 900, UTC),
                datetime.fromtimestamp(renew[key], UTC),
            )

    cached = CachedSigner(Mixed(), clock=clock)
    for _ in range(2):
        cached.sign("long")
        cached.sign("short")
    assert calls == ["long", "short"]
    clock.set(T0 + 100)
    assert cached.sign("long").url == "long1"
    assert cached.sign("short").url == "short3"
    clock.set(T0 + 300)
    assert cached.sign("long").url == "long4"


def test_a_key_being_signed_is_neither_served_nor_counted() -> None:
    """While a URL is being signed, its key's mark in the cache is no entry: ``len``
    leaves it out, and another thread waits for the URL instead of taking the mark."""
    inner = Counting(delay=0.3)
    cached = CachedSigner(inner, clock=ManualClock(T0))
    cached.sign("warm")
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cached.sign, "k")
        time.sleep(0.1)
        assert len(cached) == 1
        second = pool.submit(cached.sign, "k")
        assert first.result() is second.result()
    assert len(cached) == 2
    assert inner.calls == 2


def test_clear_forgets_everything() -> None:
    """After clear() every URL is signed again."""
    clock = ManualClock(T0 + 5)
    inner = Counting(presigner(clock))
    cached = CachedSigner(inner, clock=clock)
    cached.sign("k")
    cached.clear()
    cached.sign("k")
    assert inner.calls == 2
    assert len(cached) == 1


@WINDOWS
def test_waiters_of_different_keys_each_get_their_own_result(window: str) -> None:
    """Singleflight (threads) over several keys at once: the shared wake-up hands every
    waiter the result of its own key, and each key is computed once."""
    inner = Counting(delay=0.1)
    cached = CachedSigner(inner, clock=ManualClock(T0))
    warm = _warmed(cached, inner, window)
    keys = [f"k{i}" for i in range(4)]
    barrier = threading.Barrier(32)

    def go(i: int) -> tuple[str, str]:
        key = keys[i % 4]
        barrier.wait()
        return key, cached.sign(key).url

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(go, range(32)))
    assert inner.calls == warm + 4
    for key, url in results:
        assert url.startswith(f"https://x/{key}?")
    assert len({url for _, url in results}) == 4


def test_a_full_cache_drops_its_oldest_entries_first() -> None:
    """Beyond maxsize the earliest-signed entries of the window go; newer ones stay."""
    clock = ManualClock(T0)
    inner = Counting()
    cached = CachedSigner(inner, maxsize=3, clock=clock)
    for i in range(5):
        cached.sign(f"k{i}")
    assert inner.calls == 5
    for i in (2, 3, 4):
        cached.sign(f"k{i}")
    assert inner.calls == 5
    cached.sign("k0")
    assert inner.calls == 6


def test_an_entry_signed_as_its_window_ends_is_not_served_after_it() -> None:
    """A URL whose window is already over when it is stored is not served again."""
    clock = ManualClock(T0 + 299)
    cached = CachedSigner(Counting(presigner(clock)), clock=clock)
    first = cached.sign("k")
    clock.set(T0 + 300)
    second = cached.sign("k")
    assert second.url != first.url
    assert second.expires_at.timestamp() == T0 + 300 + 900


def test_urls_signed_ahead_serve_the_first_page_of_the_next_window() -> None:
    """prefetch_next signs the window's entries for the next one: at the boundary they
    are hits, equal to what a fresh signer hands out then, with no signing on the way."""
    clock = ManualClock(T0 + 5)
    inner = presigner(clock)
    cached = CachedSigner(inner, clock=clock)
    keys = [f"images/{i}/orig" for i in range(5)]
    for key in keys:
        cached.sign(key, content_type="image/jpeg")
    clock.set(T0 + 290)
    assert cached.prefetch_next() == 5
    assert cached.prefetch_next() == 0  # already done for this window
    clock.set(T0 + 300)
    fresh = presigner(ManualClock(T0 + 300))
    signs = Counting(inner)
    cached.inner = signs  # any signing from here on would be counted
    for key in keys:
        got = cached.sign(key, content_type="image/jpeg")
        assert got == fresh.sign(key, content_type="image/jpeg")
        assert got.expires_at.timestamp() == T0 + 300 + 900
    assert signs.calls == 0
    cached.sign("images/new/orig")  # not used in the last window: signed now
    assert signs.calls == 1


def test_urls_signed_ahead_are_not_served_before_their_window() -> None:
    """Until the boundary the current window's URLs are served, not the next ones."""
    clock = ManualClock(T0 + 5)
    cached = CachedSigner(presigner(clock), clock=clock)
    first = cached.sign("k")
    assert cached.prefetch_next() == 1
    clock.set(T0 + 299.5)
    assert cached.sign("k") is first
    clock.set(T0 + 900)  # two windows later: the ones signed ahead are stale too
    late = cached.sign("k")
    assert late == presigner(ManualClock(T0 + 900)).sign("k")


def test_prefetch_zero_or_a_foreign_signer_signs_nothing_ahead() -> None:
    """prefetch=0 turns it off; a signer without an attrs ``clock`` field is left alone."""
    clock = ManualClock(T0)
    off = CachedSigner(presigner(clock), clock=clock, prefetch=0)
    off.sign("k")
    assert off.prefetch_next() == 0
    foreign = CachedSigner(Counting(), clock=clock)
    foreign.sign("k")
    assert foreign.prefetch_next() == 0


@pytest.mark.slow
def test_the_background_thread_signs_ahead_with_the_system_clock() -> None:
    """With the real clock a daemon thread signs ahead before the window ends, so the
    first call of the next window signs nothing (retried over a few windows: a loaded
    machine may run the thread late)."""
    from mediakit.presign import CdnSigner, CloudFrontKey
    from tests.presign.cdn_keys import KEY_ID, pem, rsa_key

    signatures: list[bytes] = []

    class CountingKey(CloudFrontKey):
        def sign(self, message: bytes) -> bytes:
            signatures.append(message)
            return super().sign(message)

    key = CountingKey(KEY_ID, CloudFrontKey.from_pem(KEY_ID, pem(rsa_key())).private_key)
    window = 2
    cached = CachedSigner(CdnSigner("https://cdn.example.com", key=key, ttl=4, window=window))
    for _ in range(5):
        # start right after a boundary, sign once, wait for the thread to sign ahead
        time.sleep(window - time.time() % window + 0.01)
        boundary = time.time() // window * window + window
        cached.sign("k")
        before = len(signatures)
        while len(signatures) == before and time.time() < boundary:
            time.sleep(0.01)
        if len(signatures) == before:
            continue  # the thread was late this window
        time.sleep(max(0.0, boundary - time.time()) + 0.01)
        ahead = len(signatures)
        got = cached.sign("k")
        if time.time() >= boundary + window:
            continue
        assert len(signatures) == ahead  # served from the entries signed ahead
        assert f"Expires={int(boundary) + 4}&" in got.url
        return
    pytest.fail("the prefetch thread never signed ahead in five windows")


def _ahead_threads() -> int:
    return sum(t.name == "mediakit-presign-ahead" for t in threading.enumerate())


def test_a_signer_that_cannot_sign_ahead_starts_no_thread() -> None:
    """A foreign signer (no attrs ``clock`` field) or prefetch=0: no background thread;
    a mediakit signer with the system clock: one, started by the first entry."""
    from mediakit.presign import CdnSigner

    class Foreign:
        def sign(
            self, key: str, *, content_type: str | None = None, disposition: str | None = None
        ) -> SignedUrl:
            now = time.time()
            return SignedUrl(
                key, datetime.fromtimestamp(now + 900, UTC), datetime.fromtimestamp(now + 60, UTC)
            )

    before = _ahead_threads()
    foreign = CachedSigner(Foreign())
    assert foreign.sign("k") is foreign.sign("k")  # cached, so a window was opened
    CachedSigner(CdnSigner("https://cdn.example.com"), prefetch=0).sign("k")
    assert _ahead_threads() == before
    cached = CachedSigner(CdnSigner("https://cdn.example.com"))
    assert _ahead_threads() == before
    cached.sign("k")
    assert _ahead_threads() == before + 1
