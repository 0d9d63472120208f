"""Django under ASGI: each request's synchronous work runs on a lent, long-lived thread,
and the async service's ORM steps run there, so Django closes their connections with
the request.

Before, Django's handler started a thread per request (``ThreadSensitiveContext``) and
the async service ran its ORM steps in anyio's worker threads, where nothing ever closed
their connections: on PostgreSQL each such thread kept one open until the garbage
collector found it.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mediakit.models import ProcessingStatus
from mediakit.service import MediaKit, build_service
from mediakit.testing import builders as b
from tests import servers
from tests.django.support import ADMIN_TOKEN, USER_TOKEN, add_database, clear_tables, ensure_django
from tests.servers import ServerHandle, need

ensure_django()

from django.core.signals import request_finished, request_started  # noqa: E402

from mediakit_django import asgi  # noqa: E402
from mediakit_django.asgi import MediakitASGIHandler, RequestThreads  # noqa: E402


def _lending() -> None:
    need(
        asgi._LENDS_EXECUTORS,
        "this asgiref's ThreadSensitiveContext takes no executor: pip install 'asgiref>=3.13'",
    )


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


async def _get(
    handler: MediakitASGIHandler, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI handler: status, headers, body."""
    sent: list[dict[str, Any]] = []
    finished = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    await asyncio.wait_for(handler(_scope(path, headers), receive, send), 30)
    head = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], head, b"".join(m.get("body", b"") for m in sent[1:])


def _kit_on(alias: str) -> MediaKit:
    from mediakit_django.conf import mediakit_settings
    from mediakit_django.repositories import DjangoRepositories

    clear_tables(alias)
    return build_service(mediakit_settings(), repos=DjangoRepositories(alias), prefix="/async")


@pytest.fixture
def installed() -> Iterator[Callable[[MediaKit], None]]:
    """Install a kit as the project's for the test (the previous one is put back)."""
    from mediakit_django.kit import set_kit

    kits: list[MediaKit] = []
    old = set_kit(None)

    def install(kit: MediaKit) -> None:
        kits.append(kit)
        set_kit(kit)

    try:
        yield install
    finally:
        set_kit(old)
        for kit in kits:
            kit.close()


def _seed_image(kit: MediaKit, data: bytes) -> str:
    image = b.image(
        visible=True,
        status=ProcessingStatus.READY,
        size=len(data),
        content_type="image/jpeg",
    )
    kit.store.put_bytes(image.original_key, data, content_type="image/jpeg")
    kit.repos.images.add_many([image])
    return image.id


# --- the lent threads -----------------------------------------------------------------


def test_request_threads_lend_the_same_executors_and_retire_past_the_idle_count() -> None:
    threads = RequestThreads(idle=1)
    first = threads.acquire()
    second = threads.acquire()
    assert first is not second
    threads.release(first)
    threads.release(second)  # one idle already: this one is retired
    assert threads.acquire() is first
    with pytest.raises(RuntimeError):  # the retired one takes no more work
        second.submit(lambda: None)
    threads.release(first)
    threads.close()
    with pytest.raises(RuntimeError):
        first.submit(lambda: None)


def test_a_request_runs_its_signals_and_orm_steps_on_one_lent_thread(
    kit: MediaKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """request_started, the ORM step and request_finished share one thread, the same
    one request after request (no thread started per request)."""
    _lending()
    image_id = _seed_image(kit, b"x" * 1000)
    seen: list[tuple[str, int]] = []

    def started(**kwargs: Any) -> None:
        seen.append(("started", threading.get_ident()))

    def finished(**kwargs: Any) -> None:
        seen.append(("finished", threading.get_ident()))

    from mediakit_django.repositories import DjangoImageRepository

    get = DjangoImageRepository.get

    def recorded_get(self: DjangoImageRepository, image_id: str) -> Any:
        seen.append(("orm", threading.get_ident()))
        return get(self, image_id)

    handler = MediakitASGIHandler()
    request_started.connect(started)
    request_finished.connect(finished)
    monkeypatch.setattr(DjangoImageRepository, "get", recorded_get)
    try:

        async def two() -> list[int]:
            path = f"/async/api/v1/user/media/{image_id}/stream"
            statuses = []
            for _ in range(2):
                status, _, body = await _get(
                    handler, path, {"Authorization": f"Bearer {USER_TOKEN}", "Range": "bytes=0-9"}
                )
                assert body == b"x" * 10
                statuses.append(status)
            return statuses

        assert asyncio.run(two()) == [206, 206]
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
        handler.request_threads.close()
    assert [name for name, _ in seen] == ["started", "orm", "finished"] * 2
    assert len({ident for _, ident in seen}) == 1
    assert seen[0][1] != threading.get_ident()


def test_the_orm_step_and_the_close_go_to_the_lent_thread_without_asgiref(
    kit: MediaKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the request's own event loop, ``run_blocking`` submits the step to the lent
    thread itself, and the handler closes the response there the same way: asgiref's
    ``sync_to_async`` (about 100 us of CPU more per hop) is called for neither."""
    _lending()
    image_id = _seed_image(kit, b"x" * 1000)
    from mediakit_django import repositories

    def no_asgiref(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the step went through asgiref's sync_to_async")

    monkeypatch.setattr(repositories, "sync_to_async", no_asgiref)
    monkeypatch.setattr(asgi, "sync_to_async", no_asgiref)  # closing the response
    handler = MediakitASGIHandler()
    try:
        path = f"/async/api/v1/user/media/{image_id}/stream"
        status, _, body = asyncio.run(
            _get(handler, path, {"Authorization": f"Bearer {USER_TOKEN}", "Range": "bytes=0-9"})
        )
    finally:
        handler.request_threads.close()
    assert (status, body) == (206, b"x" * 10)


def test_a_step_from_async_to_sync_in_the_request_thread_runs_there(kit: MediaKit) -> None:
    """Sync code on the lent thread that calls the async service through
    ``async_to_sync`` (another event loop, while the lent thread waits) gets its steps
    run on that waiting thread, as asgiref does: submitting them to the lent thread's
    queue would wait for itself."""
    _lending()
    from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

    from mediakit_django._request_thread import Lent, lent

    repos = kit.repos

    async def request() -> tuple[int, int]:
        executor = asgi.LentThread()
        token = lent.set(Lent(executor, asyncio.get_running_loop()))
        try:
            async with ThreadSensitiveContext(executor=executor):

                def sync_part() -> tuple[int, int]:
                    ran: int = async_to_sync(repos.run_blocking)(threading.get_ident)
                    return threading.get_ident(), ran

                return await asyncio.wait_for(sync_to_async(sync_part, thread_sensitive=True)(), 10)
        finally:
            lent.reset(token)
            executor.shutdown(wait=False)

    waiting, ran = asyncio.run(request())
    assert ran == waiting
    assert waiting != threading.get_ident()


def test_sequential_requests_reuse_one_thread(kit: MediaKit) -> None:
    """40 seeks one after another: their synchronous work all ran on one thread (Django's
    handler alone starts 40)."""
    _lending()
    image_id = _seed_image(kit, b"y" * 5000)
    handler = MediakitASGIHandler()
    headers = {"Authorization": f"Bearer {USER_TOKEN}", "Range": "bytes=100-199"}
    threads: list[threading.Thread] = []  # the objects, kept: each thread is one object

    def started(**kwargs: Any) -> None:
        threads.append(threading.current_thread())

    async def many(n: int) -> None:
        for _ in range(n):
            status, _, body = await _get(
                handler, f"/async/api/v1/user/media/{image_id}/stream", headers
            )
            assert (status, body) == (206, b"y" * 100)

    request_started.connect(started)
    try:
        asyncio.run(many(40))
    finally:
        request_started.disconnect(started)
        handler.request_threads.close()
    assert len(threads) == 40
    assert len({id(t) for t in threads}) == 1
    assert threads[0].name.startswith("mediakit-request")


def _trips_of_a_seek(
    kit: MediaKit, monkeypatch: pytest.MonkeyPatch, thread_local: bool
) -> tuple[list[str], int]:
    """One seek with a recording request_started receiver (declared thread-local, or
    not): what ran in which order on the lent thread, and how many trips were made to it."""
    image_id = _seed_image(kit, b"w" * 1000)
    seen: list[str] = []
    trips = 0
    lent: set[int] = set()

    def started(**kwargs: Any) -> None:
        seen.append("started")
        lent.add(threading.get_ident())

    from mediakit_django.repositories import DjangoImageRepository

    get = DjangoImageRepository.get

    def recorded_get(self: DjangoImageRepository, image_id: str) -> Any:
        seen.append("orm")
        lent.add(threading.get_ident())
        return get(self, image_id)

    submit, hop = asgi.LentThread.submit, asgi.LentThread.hop

    def counted(self: asgi.LentThread, fn: Callable[..., Any], /, *a: Any, **kw: Any) -> Any:
        nonlocal trips
        trips += 1
        return submit(self, fn, *a, **kw)

    def counted_hop(self: asgi.LentThread, fn: Callable[[], Any]) -> Any:
        nonlocal trips
        trips += 1
        return hop(self, fn)

    monkeypatch.setattr(DjangoImageRepository, "get", recorded_get)
    monkeypatch.setattr(asgi.LentThread, "submit", counted)
    monkeypatch.setattr(asgi.LentThread, "hop", counted_hop)
    if thread_local:
        monkeypatch.setattr(asgi, "THREAD_LOCAL_RECEIVERS", {*asgi.THREAD_LOCAL_RECEIVERS, started})
    handler = MediakitASGIHandler()
    request_started.connect(started)
    try:
        status, _, body = asyncio.run(
            _get(
                handler,
                f"/async/api/v1/user/media/{image_id}/stream",
                {"Authorization": f"Bearer {USER_TOKEN}", "Range": "bytes=0-9"},
            )
        )
        assert (status, body) == (206, b"w" * 10)
    finally:
        request_started.disconnect(started)
        handler.request_threads.close()
    assert len(lent) == 1
    assert threading.get_ident() not in lent
    return seen, trips


def test_request_started_rides_with_the_first_trip_to_the_request_thread(
    kit: MediaKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only thread-local request_started receivers (Django's own), a seek goes to
    its thread once less: the receivers run there first, before the database read. A
    receiver mediakit knows nothing of runs in a trip of its own, as Django sends it."""
    _lending()
    seen, trips = _trips_of_a_seek(kit, monkeypatch, thread_local=True)
    assert seen == ["started", "orm"]
    seen, django_trips = _trips_of_a_seek(kit, monkeypatch, thread_local=False)
    assert seen == ["started", "orm"]
    # Django < 5.0 keeps Django's own handler: the same trips as Django's, none saved
    assert trips == django_trips - (1 if asgi._DEFERS_STARTED else 0)


def test_a_deferred_step_runs_before_the_next_call_or_at_shutdown() -> None:
    """LentThread: deferred steps run on its thread, in order, before the next call; an
    error in one is that call's error; shutting down runs what is left."""
    thread = asgi.LentThread()
    ran: list[tuple[str, int]] = []
    thread.defer(lambda: ran.append(("a", threading.get_ident())))
    thread.defer(lambda: ran.append(("b", threading.get_ident())))
    assert ran == []
    assert thread.submit(lambda: ran.append(("call", threading.get_ident()))).result() is None
    assert [name for name, _ in ran] == ["a", "b", "call"]
    assert len({ident for _, ident in ran}) == 1
    assert ran[0][1] != threading.get_ident()

    def boom() -> None:
        raise ValueError("deferred")

    thread.defer(boom)
    with pytest.raises(ValueError, match="deferred"):
        thread.submit(lambda: "never").result()
    thread.defer(lambda: ran.append(("left", threading.get_ident())))
    thread.shutdown(wait=True)
    assert ran[-1][0] == "left"


# --- PostgreSQL: no connection outlives its request -------------------------------------


@pytest.fixture(scope="module")
def pg_alias(postgres_server: ServerHandle) -> str:
    """A migrated PostgreSQL database registered as the Django alias ``asgi_pg``."""
    add_database("asgi_pg", servers.create_pg_database(postgres_server, "mk_django_asgi"))
    return "asgi_pg"


def _backend_pids(alias: str) -> set[int]:
    """Server process ids of every other open connection to ``alias``'s database."""
    from django.db import connections

    with connections[alias].cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return {int(row[0]) for row in cur.fetchall()}


def _wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(100):
        if condition():
            return
        time.sleep(0.1)
    assert condition()


@pytest.mark.postgres
def test_asgi_requests_on_postgresql_leave_no_connection_open(
    pg_alias: str, installed: Callable[[MediaKit], None]
) -> None:
    """60 requests, 20 at a time, each reading the database (a listing, a seek): with
    ``CONN_MAX_AGE = 0`` every connection is closed when its request ends, and no
    psycopg connection is left to the garbage collector."""
    from django.db import connections

    kit = _kit_on(pg_alias)
    installed(kit)
    image_id = _seed_image(kit, bytes(range(256)) * 40)
    handler = MediakitASGIHandler()
    user = {"Authorization": f"Bearer {USER_TOKEN}"}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def batch() -> None:
        calls = [
            _get(handler, "/async/api/v1/admin/images", admin),
            _get(handler, f"/async/api/v1/user/images/{image_id}", user),
            *(
                _get(
                    handler,
                    f"/async/api/v1/user/media/{image_id}/stream",
                    {**user, "Range": f"bytes={i}-{i + 99}"},
                )
                for i in range(18)
            ),
        ]
        results = await asyncio.gather(*calls)
        assert [status for status, _, _ in results] == [200, 200] + [206] * 18

    before = _backend_pids(pg_alias)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                asyncio.run(batch())
            _wait_for(lambda: _backend_pids(pg_alias) <= before)
            handler.request_threads.close()
            gc.collect()
    finally:
        connections[pg_alias].close()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


@pytest.mark.postgres
def test_with_a_max_age_connections_are_kept_per_lent_thread_and_closed_at_retirement(
    pg_alias: str, installed: Callable[[MediaKit], None]
) -> None:
    """With ``CONN_MAX_AGE`` set, a lent thread keeps its connection across requests
    (as a WSGI thread does): sequential requests hold one; retiring the threads at
    shutdown closes it."""
    from django.db import connections

    kit = _kit_on(pg_alias)
    installed(kit)
    image_id = _seed_image(kit, b"z" * 300)
    handler = MediakitASGIHandler()
    user = {"Authorization": f"Bearer {USER_TOKEN}", "Range": "bytes=0-9"}
    settings_dict = connections[pg_alias].settings_dict
    old_age = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 600

    async def sequential(n: int) -> None:
        for _ in range(n):
            status, _, _ = await _get(handler, f"/async/api/v1/user/media/{image_id}/stream", user)
            assert status == 206

    before = _backend_pids(pg_alias)
    try:
        asyncio.run(sequential(10))
        if asgi._LENDS_EXECUTORS:
            assert len(_backend_pids(pg_alias) - before) == 1
        handler.request_threads.close()
        _wait_for(lambda: _backend_pids(pg_alias) <= before)
    finally:
        settings_dict["CONN_MAX_AGE"] = old_age
        connections[pg_alias].close()


# --- LentThread itself ------------------------------------------------------------------


def test_hops_and_submitted_calls_run_on_the_one_thread_in_order() -> None:
    """``hop`` (from the event loop) and ``submit`` (asgiref's way) share the thread and
    its order; a hop's result and error reach the awaiting coroutine."""
    thread = asgi.LentThread()
    gate = threading.Event()
    ran: list[tuple[str, int]] = []

    def record(name: str) -> str:
        ran.append((name, threading.get_ident()))
        return name

    async def main() -> None:
        first = thread.submit(lambda: (gate.wait(5), record("submitted"))[1])
        second = thread.hop(lambda: record("hop"))
        assert not thread.idle
        gate.set()
        assert await second == "hop"
        assert first.result(5) == "submitted"

        def boom() -> None:
            raise KeyError("in the thread")

        with pytest.raises(KeyError, match="in the thread"):
            await thread.hop(boom)

    try:
        asyncio.run(main())
    finally:
        thread.shutdown(wait=True)
    assert [name for name, _ in ran] == ["submitted", "hop"]
    assert len({ident for _, ident in ran}) == 1
    assert ran[0][1] != threading.get_ident()


def test_the_thread_is_idle_again_when_a_hop_returns() -> None:
    """The call is counted out before its future is settled: code resuming after a hop
    sees the thread idle (its next step then goes straight to it, not through asgiref)."""
    thread = asgi.LentThread()

    async def main() -> list[bool]:
        seen = []
        for _ in range(300):
            await thread.hop(lambda: None)
            seen.append(thread.idle)
        return seen

    try:
        assert all(asyncio.run(main()))
    finally:
        thread.shutdown(wait=True)


def test_a_hop_cancelled_before_it_starts_does_not_run() -> None:
    """A request cancelled while its step waits for the thread: the step is skipped
    and the thread counts it out."""
    thread = asgi.LentThread()
    gate = threading.Event()
    ran: list[str] = []

    async def main() -> None:
        thread.submit(gate.wait, 5)
        waiting = asyncio.ensure_future(thread.hop(lambda: ran.append("step")))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.sleep(0)
        gate.set()
        await asyncio.wrap_future(thread.submit(lambda: None))

    try:
        asyncio.run(main())
        assert ran == []
        assert thread.idle
    finally:
        thread.shutdown(wait=True)


def test_shutdown_cancels_waiting_calls_when_asked_and_refuses_new_ones() -> None:
    """``shutdown(cancel_futures=True)`` cancels the calls not started; after a
    shutdown, ``submit`` raises as ``ThreadPoolExecutor.submit`` does."""
    thread = asgi.LentThread()
    started, gate = threading.Event(), threading.Event()
    running = thread.submit(lambda: (started.set(), gate.wait(5))[1])
    waiting = thread.submit(lambda: "never")
    assert started.wait(5)
    thread.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert running.result(5) is True
    assert waiting.cancelled()
    with pytest.raises(RuntimeError, match="after shutdown"):
        thread.submit(lambda: None)
    thread.shutdown(wait=True)
    assert thread.idle
