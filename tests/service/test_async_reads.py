"""The async service reads a local database inline and everything else in a thread.

Behaviour, not timing: SQLAlchemy's ``before_cursor_execute`` event records on which
thread each statement ran, and ``Repositories.reads_in_process`` says which way a kit
goes (a SQLite file and memory: inline; an in-memory SQLite database, whose one shared
connection a writer holds, the Django ORM and any server database: a worker thread).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa

from mediakit.errors import NotFound
from mediakit.repositories import Repositories
from mediakit.repositories.memory import MemoryRepositories
from mediakit.repositories.sql import SqlRepositories
from mediakit.service import MediaKit, build_service
from mediakit.settings import Settings
from tests.service.kit import ADMIN, USER, seed_image, seed_set

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _kit(repos: SqlRepositories) -> MediaKit:
    settings = Settings(storage_backend="memory", job_runner="inline", signing_secret="s" * 32)
    return build_service(settings, repos=repos)


def _threads(engine: sa.Engine) -> list[tuple[str, int]]:
    """(statement kind, thread id) of every statement run on ``engine`` from now on."""
    seen: list[tuple[str, int]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((statement.split(None, 1)[0].upper(), threading.get_ident()))

    return seen


@pytest.fixture
def file_kit(tmp_path: Path) -> Iterator[MediaKit]:
    kit = _kit(SqlRepositories.from_url(f"sqlite:///{tmp_path / 'reads.db'}"))
    yield kit
    kit.close()


@pytest.fixture
def memory_sqlite_kit() -> Iterator[MediaKit]:
    kit = _kit(SqlRepositories.from_url("sqlite://"))
    yield kit
    kit.close()


def test_which_repositories_read_in_process(tmp_path: Path) -> None:
    file_repos = SqlRepositories.from_url(f"sqlite:///{tmp_path / 'a.db'}")
    memory_sqlite = SqlRepositories.from_url("sqlite://")
    try:
        assert file_repos.reads_in_process is True
        assert memory_sqlite.reads_in_process is False
    finally:
        file_repos.close()
        memory_sqlite.close()
    assert MemoryRepositories.create().reads_in_process is True
    plain = MemoryRepositories.create()
    assert Repositories(plain.images, plain.music_sets, plain.tracks).reads_in_process is False


async def test_reads_of_a_sqlite_file_run_on_the_event_loop_writes_in_a_thread(
    file_kit: MediaKit,
) -> None:
    image = seed_image(file_kit)
    assert isinstance(file_kit.repos, SqlRepositories)
    seen = _threads(file_kit.repos.engine)
    loop_thread = threading.get_ident()
    svc = file_kit.aservice

    page = await svc.list_images(USER, limit=10)
    assert [i["id"] for i in page["items"]] == [image.id]
    assert (await svc.get_image(USER, image.id))["id"] == image.id
    served = await svc.proxy(USER, image.id, method="GET", headers={"Range": "bytes=0-3"})
    assert served.status == 206
    await served.body.aclose()  # type: ignore[attr-defined]
    reads = [t for kind, t in seen if kind == "SELECT"]
    assert len(reads) >= 3
    assert set(reads) == {loop_thread}

    seen.clear()
    await svc.update_image(ADMIN, image.id, title="renamed")
    writes = [t for kind, t in seen if kind in ("UPDATE", "BEGIN")]
    assert writes
    assert loop_thread not in writes


async def test_reads_of_a_shared_connection_database_run_in_a_thread(
    memory_sqlite_kit: MediaKit,
) -> None:
    image = seed_image(memory_sqlite_kit)
    assert isinstance(memory_sqlite_kit.repos, SqlRepositories)
    seen = _threads(memory_sqlite_kit.repos.engine)
    loop_thread = threading.get_ident()
    page = await memory_sqlite_kit.aservice.list_images(USER, limit=10)
    assert [i["id"] for i in page["items"]] == [image.id]
    reads = [t for kind, t in seen if kind == "SELECT"]
    assert reads
    assert loop_thread not in reads


async def test_an_inline_read_still_yields_to_other_tasks_between_requests(
    file_kit: MediaKit,
) -> None:
    # inline reads are short and never wait for a writer: many concurrent requests
    # all complete, and a writer running meanwhile in a thread is not blocked
    image = seed_image(file_kit)
    results: list[str] = []

    async def read() -> None:
        results.append((await file_kit.aservice.get_image(USER, image.id))["id"])

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(read)
        tg.start_soon(lambda: file_kit.aservice.update_image(ADMIN, image.id, title="x"))
    assert results == [image.id] * 20
    assert (await file_kit.aservice.get_image(USER, image.id))["title"] == "x"


@pytest.mark.parametrize("twin", ["sync", "async"])
async def test_the_proxy_finds_its_media_in_one_read(file_kit: MediaKit, twin: str) -> None:
    # one SELECT per proxied request when the URL says the kind (a track's quality, an
    # image's size); the answers are those of get(): hidden sets stay hidden
    image = seed_image(file_kit)
    _, (track, _) = seed_set(file_kit, tracks=2)
    _, (hidden, _) = seed_set(file_kit, visible=False, tracks=2)
    assert isinstance(file_kit.repos, SqlRepositories)
    seen = _threads(file_kit.repos.engine)

    async def proxy(principal: Any, media_id: str, **kw: str) -> int:
        if twin == "sync":
            served = file_kit.service.proxy(principal, media_id, method="HEAD", headers={}, **kw)
        else:
            served = await file_kit.aservice.proxy(
                principal, media_id, method="HEAD", headers={}, **kw
            )
        return served.status

    for media_id, kw in ((track.id, {"quality": "low"}), (image.id, {"size": "w320"})):
        seen.clear()
        assert await proxy(USER, media_id, **kw) == 200
        assert [kind for kind, _ in seen if kind == "SELECT"] == ["SELECT"]
    seen.clear()
    with pytest.raises(NotFound):
        await proxy(USER, hidden.id, quality="low")
    selects = [kind for kind, _ in seen if kind == "SELECT"]
    assert selects == ["SELECT"]  # found, hidden: no second look in images
    assert await proxy(ADMIN, hidden.id, quality="low") == 200
    assert await proxy(USER, track.id) == 200  # no kind in the URL: images, then tracks


async def test_the_repositories_choose_where_blocking_steps_run(
    memory_sqlite_kit: MediaKit,
) -> None:
    """``Repositories.run_blocking`` runs every step the async service does not run
    inline: a subclass's own (the Django ORM's: the request's thread) is used for reads
    and writes alike; the default is a worker thread."""
    repos = memory_sqlite_kit.repos
    assert isinstance(repos, SqlRepositories)
    ran: list[str] = []

    class Recording(SqlRepositories):
        async def run_blocking(self, step: Any) -> Any:
            ran.append(getattr(step, "func", step).__name__)
            return step()

    recording = Recording(repos.images, repos.music_sets, repos.tracks, engine=repos.engine)
    settings = Settings(storage_backend="memory", job_runner="inline", signing_secret="s" * 32)
    kit = build_service(settings, repos=recording)
    try:
        image = seed_image(kit)
        seen = _threads(repos.engine)
        loop_thread = threading.get_ident()
        assert (await kit.aservice.get_image(USER, image.id))["id"] == image.id
        await kit.aservice.update_image(ADMIN, image.id, title="renamed")
        assert ran == ["load_image", "update_image"]
        assert {t for _, t in seen} == {loop_thread}  # where this run_blocking ran them
    finally:
        kit.close()
    default = await MemoryRepositories.create().run_blocking(threading.get_ident)
    assert default != threading.get_ident()
