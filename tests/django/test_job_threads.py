"""Job-runner threads on the Django ORM close their database connections.

Django opens one connection per thread and closes it only at the end of a request. A
job's worker thread has no request: before ``Repositories.release_thread`` its psycopg
connection stayed open while the thread idled, and was left to the garbage collector
(a ``ResourceWarning``) when the runner shut down.
"""

from __future__ import annotations

import gc
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import pytest

from mediakit.processing.jobs import ThreadPoolRunner
from mediakit.processing.tasks import ProcessingContext
from mediakit.settings import Settings
from mediakit.storage import MemoryObjectStore
from mediakit.testing import builders as b
from tests import servers
from tests.django.support import add_database, django_repositories
from tests.servers import ServerHandle

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_alias(postgres_server: ServerHandle) -> str:
    """A migrated PostgreSQL database registered as the Django alias ``jobs_pg``."""
    add_database("jobs_pg", servers.create_pg_database(postgres_server, "mk_django_jobs"))
    return "jobs_pg"


def _backend_pids(alias: str) -> set[int]:
    """The server process ids of every open connection to ``alias``'s database."""
    from django.db import connections

    conn = connections[alias]
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return {int(row[0]) for row in cur.fetchall()}


@pytest.fixture
def main_connection(pg_alias: str) -> Iterator[None]:
    """This thread's connection to the alias, closed after the test."""
    from django.db import connections

    yield
    connections[pg_alias].close()


def test_a_worker_thread_holds_no_connection_after_its_job(
    pg_alias: str, main_connection: None
) -> None:
    repos = django_repositories(pg_alias)
    image = b.image()
    repos.images.add_many([image])
    seen: list[bool] = []
    done = threading.Event()

    def read_image(ctx: ProcessingContext, image_id: str) -> None:
        seen.append(ctx.repos.images.get(image_id) is not None)
        done.set()

    ctx = ProcessingContext(store=MemoryObjectStore("b"), repos=repos, settings=Settings())
    runner = ThreadPoolRunner(ctx, workers=1, tasks={"read": read_image})
    before = _backend_pids(pg_alias)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            runner.submit("read", image_id=image.id)
            assert done.wait(30)
            # the worker thread is alive and idle now: its connection is closed
            _wait_for(lambda: _backend_pids(pg_alias) <= before)
        finally:
            runner.shutdown()
        gc.collect()
    assert seen == [True]
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


def test_the_sweep_thread_holds_no_connection_after_a_sweep(
    pg_alias: str, main_connection: None
) -> None:
    repos = django_repositories(pg_alias)
    ctx = ProcessingContext(store=MemoryObjectStore("b"), repos=repos, settings=Settings())
    swept = threading.Event()

    class Runner(ThreadPoolRunner):
        def sweep(self) -> int:
            try:
                return super().sweep()  # reads both tables on the sweep thread
            finally:
                swept.set()

    before = _backend_pids(pg_alias)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = Runner(ctx, workers=1, sweep_every=3600)  # one sweep, at start
        try:
            assert swept.wait(30)
            _wait_for(lambda: _backend_pids(pg_alias) <= before)
        finally:
            runner.shutdown()
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` for up to 10 s (the thread releases right after its work)."""
    for _ in range(100):
        if condition():
            return
        time.sleep(0.1)
    assert condition()
