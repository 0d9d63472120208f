"""Per-admin upload concurrency caps: rejected with 429 + Retry-After when full, released
on exit and on exceptions; the Redis limiter shares the cap between processes and frees
the slot of a crashed process when its lease runs out."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import anyio
import pytest

from mediakit.errors import StorageUnavailable, TooManyRequests
from mediakit.settings import Settings
from mediakit.uploads.limiter import (
    ConcurrencyLimiter,
    InProcessLimiter,
    RedisLimiter,
    limiter_from_settings,
)
from tests.servers import ServerHandle


def test_in_process_limiter_rejects_beyond_the_cap_with_retry_after() -> None:
    lim = InProcessLimiter(2, retry_after=7)
    with lim.hold("alice"), lim.hold("alice"):
        with pytest.raises(TooManyRequests) as info, lim.hold("alice"):
            pass
        assert info.value.http_status == 429
        assert info.value.headers["Retry-After"] == "7"
        assert "'alice'" in info.value.message
        with lim.hold("bob"):  # other admins are not affected
            assert lim.held("bob") == 1
    assert lim.held("alice") == 0


def test_in_process_limiter_releases_on_exceptions() -> None:
    lim = InProcessLimiter(1)
    with pytest.raises(ZeroDivisionError), lim.hold("a"):
        1 / 0  # noqa: B018
    with lim.hold("a"):
        assert lim.held("a") == 1


def test_in_process_limiter_async_twin() -> None:
    lim = InProcessLimiter(1)

    async def main() -> None:
        async with lim.ahold("a"):
            with pytest.raises(TooManyRequests):
                async with lim.ahold("a"):
                    pass
        async with lim.ahold("a"):
            pass

    anyio.run(main)
    assert lim.held("a") == 0


def test_limiters_satisfy_the_protocol() -> None:
    assert isinstance(InProcessLimiter(1), ConcurrencyLimiter)
    assert isinstance(RedisLimiter("redis://127.0.0.1:1/0", 1), ConcurrencyLimiter)


def test_limiter_from_settings_picks_redis_when_configured() -> None:
    assert isinstance(limiter_from_settings(Settings(max_concurrent_uploads=3)), InProcessLimiter)
    lim = limiter_from_settings(
        Settings(redis_url="redis://127.0.0.1:6379/0", max_concurrent_uploads=3)
    )
    assert isinstance(lim, RedisLimiter)
    assert lim.max_per_admin == 3


def _prefix() -> str:
    return f"mk-test:{uuid.uuid4().hex}:"


@pytest.mark.redis
def test_two_redis_limiters_share_one_cap(redis_server: ServerHandle) -> None:
    """Two limiter instances stand for two processes: together they hold at most the cap."""
    prefix = _prefix()
    a = RedisLimiter(redis_server.url, 2, key_prefix=prefix)
    b = RedisLimiter(redis_server.url, 2, key_prefix=prefix)
    try:
        with a.hold("admin"), b.hold("admin"):
            for lim in (a, b):
                with pytest.raises(TooManyRequests) as info, lim.hold("admin"):
                    pass
                assert info.value.headers["Retry-After"] == "5"
            assert a.held("admin") == 2
            with a.hold("other"):
                pass
        assert b.held("admin") == 0
        with a.hold("admin"), b.hold("admin"):
            pass
    finally:
        a.close()
        b.close()


@pytest.mark.redis
def test_redis_limiter_releases_on_exceptions(redis_server: ServerHandle) -> None:
    lim = RedisLimiter(redis_server.url, 1, key_prefix=_prefix())
    try:
        with pytest.raises(RuntimeError), lim.hold("x"):
            raise RuntimeError("upload failed")
        assert lim.held("x") == 0
        with lim.hold("x"):
            pass
    finally:
        lim.close()


_HOLDER = """
import sys, time
from mediakit.uploads.limiter import RedisLimiter
lim = RedisLimiter(sys.argv[1], 1, lease_seconds=float(sys.argv[3]), key_prefix=sys.argv[2])
with lim.hold("admin"):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.mark.redis
@pytest.mark.slow
def test_slot_of_a_killed_process_frees_itself_when_its_lease_expires(
    redis_server: ServerHandle,
) -> None:
    prefix, lease = _prefix(), 1.0
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, redis_server.url, prefix, str(lease)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    lim = RedisLimiter(redis_server.url, 1, key_prefix=prefix)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"held"
        # The holder renews its lease: the slot stays taken past one lease length.
        time.sleep(lease * 1.5)
        with pytest.raises(TooManyRequests), lim.hold("admin"):
            pass
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with pytest.raises(TooManyRequests), lim.hold("admin"):
            pass  # the lease has not run out yet
        deadline = time.monotonic() + lease * 3
        while True:
            try:
                with lim.hold("admin"):
                    break
            except TooManyRequests:
                assert time.monotonic() < deadline, "the dead process's slot was never freed"
                time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        lim.close()


@pytest.mark.redis
def test_redis_limiter_async_twin_shares_the_cap_with_sync(redis_server: ServerHandle) -> None:
    prefix = _prefix()
    lim = RedisLimiter(redis_server.url, 1, lease_seconds=0.3, key_prefix=prefix)
    other = RedisLimiter(redis_server.url, 1, key_prefix=prefix)

    async def main() -> None:
        async with lim.ahold("a"):
            with pytest.raises(TooManyRequests), other.hold("a"):
                pass
            await anyio.sleep(0.5)  # longer than the lease: renewed in the background
            assert other.held("a") == 1
        assert other.held("a") == 0
        with pytest.raises(KeyError):
            async with lim.ahold("a"):
                raise KeyError("boom")
        assert other.held("a") == 0

        await lim.aclose()

    try:
        anyio.run(main)
    finally:
        lim.close()
        other.close()


@pytest.mark.redis
@pytest.mark.parametrize(
    "ticks",
    [
        pytest.param(0, id="while-stopping-the-renewer"),  # the window the old code had
        pytest.param(1, id="one-loop-tick-later"),
        pytest.param(3, id="three-loop-ticks-later"),
    ],
)
def test_cancelling_the_caller_while_it_leaves_ahold_propagates(
    redis_server: ServerHandle, ticks: int
) -> None:
    """A cancel of the task that is leaving ``ahold`` (stopping the lease renewer, or
    releasing) reaches it as ``CancelledError`` rather than being mistaken for the
    renewer's own, and the slot is released all the same."""
    prefix = _prefix()
    lim = RedisLimiter(redis_server.url, 1, key_prefix=prefix)
    other = RedisLimiter(redis_server.url, 1, key_prefix=prefix)
    carried_on: list[bool] = []

    async def main() -> None:
        leaving = asyncio.Event()

        async def upload() -> None:
            async with lim.ahold("a"):
                assert other.held("a") == 1
                leaving.set()  # this task runs on into ahold's exit before main wakes
            carried_on.append(True)  # a cancelled task never gets here

        task = asyncio.create_task(upload())
        await leaving.wait()
        for _ in range(ticks):
            await asyncio.sleep(0)
        assert task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        assert carried_on == []
        # a shielded release may still be running after the task ended: let it finish
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        if pending:
            await asyncio.wait(pending, timeout=5)
        assert other.held("a") == 0
        await lim.aclose()

    try:
        asyncio.run(main())
    finally:
        lim.close()
        other.close()


def test_unreachable_redis_fails_closed_with_503() -> None:
    from tests.servers import free_port

    lim = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", 1)
    with pytest.raises(StorageUnavailable) as info, lim.hold("a"):
        pass
    assert info.value.http_status == 503
    assert info.value.code == "limiter_unavailable"

    async def main() -> None:
        async with lim.ahold("a"):
            pass

    with pytest.raises(StorageUnavailable):
        anyio.run(main)
