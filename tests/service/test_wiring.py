"""The composition root: settings in, working parts out (SQL repositories migrated at
start, the filesystem store, signer base paths, limiter and job-runner choice)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediakit.errors import ConfigurationError
from mediakit.repositories.sql import SqlRepositories
from mediakit.service import build_service
from mediakit.settings import Settings
from mediakit.storage import ensure_bucket
from mediakit.uploads import InProcessLimiter, RedisLimiter
from tests import servers
from tests.fixtures_media import jpeg_bytes
from tests.servers import ServerHandle
from tests.service.kit import ADMIN, USER, Twin, multipart


def _flow(settings: Settings) -> None:
    """Upload an image through the sync service, read it back through both twins."""

    kit = build_service(settings)
    try:
        ensure_bucket(kit.store)
        body, ct = multipart([("a.jpg", jpeg_bytes())], {"visible": "true"})
        [item] = Twin(kit, "sync").upload_images(ADMIN, body=body, content_type=ct)["items"]
        assert item["status"] == "ready"
        for mode in ("sync", "async"):
            assert [i["id"] for i in Twin(kit, mode).list_images(USER)["items"]] == [item["id"]]
        Twin(kit, "async").delete_image(ADMIN, item["id"])
        assert list(kit.store.list_keys("images/")) == []
    finally:
        kit.close()


def test_embedded_defaults_sqlite_file_and_filesystem_store(tmp_path: Path) -> None:
    """SQLite in a directory that does not exist yet (created, migrated) + the filesystem store."""
    db = tmp_path / "new" / "dir" / "mediakit.db"
    settings = Settings(
        database_url=f"sqlite:///{db}",
        storage_root=str(tmp_path / "objects"),
        job_runner="inline",
        signing_secret="x" * 32,
    )
    _flow(settings)
    assert db.exists()
    _flow(settings)  # a second start migrates nothing and works on the same database


@pytest.mark.postgres
def test_postgresql_from_database_url(postgres_server: ServerHandle, tmp_path: Path) -> None:
    """MEDIAKIT_DATABASE_URL=postgresql+psycopg://... gets migrated SQL repositories."""
    url = servers.create_pg_database(postgres_server, "mk_service_wiring")
    _flow(
        Settings(
            database_url=url,
            storage_root=str(tmp_path / "objects"),
            job_runner="inline",
            signing_secret="x" * 32,
        )
    )


def test_local_urls_follow_the_router_prefix(tmp_path: Path) -> None:
    """Filesystem-store URLs point at the local-file route under the adapter's prefix."""

    kit = build_service(
        Settings(storage_backend="memory", job_runner="inline", database_url="sqlite://"),
        prefix="/media/",
    )
    try:
        assert kit.signer.sign("images/x/original").url.startswith("/media/api/v1/media/local/")
        assert kit.aservice.proxy_base == "/media/api/v1/user/media"
        assert isinstance(kit.limiter, InProcessLimiter)
    finally:
        kit.close()


@pytest.mark.redis
def test_redis_url_selects_the_redis_limiter(redis_server: ServerHandle) -> None:
    """With MEDIAKIT_REDIS_URL the per-admin upload limit is shared through Redis."""

    kit = build_service(
        Settings(
            storage_backend="memory",
            job_runner="inline",
            database_url="sqlite://",
            redis_url=redis_server.url,
        )
    )
    try:
        assert isinstance(kit.limiter, RedisLimiter)
    finally:
        kit.close()


def test_dramatiq_runner_without_redis_names_the_variable() -> None:
    """A job runner that needs Redis fails at start-up naming MEDIAKIT_REDIS_URL."""

    with pytest.raises(ConfigurationError, match="MEDIAKIT_REDIS_URL"):
        build_service(
            Settings(storage_backend="memory", job_runner="dramatiq", database_url="sqlite://")
        )


@contextlib.contextmanager
def _pool_connections() -> Iterator[dict[str, int]]:
    """Counts the DBAPI connections every SQLAlchemy pool opens and closes meanwhile."""
    counts = {"opened": 0, "closed": 0}

    def opened(*_: object) -> None:
        counts["opened"] += 1

    def closed(*_: object) -> None:
        counts["closed"] += 1

    sa.event.listen(sa.pool.Pool, "connect", opened)
    sa.event.listen(sa.pool.Pool, "close", closed)
    try:
        yield counts
    finally:
        sa.event.remove(sa.pool.Pool, "connect", opened)
        sa.event.remove(sa.pool.Pool, "close", closed)


def test_a_start_that_fails_after_the_database_closes_its_connections(tmp_path: Path) -> None:
    """The SQL repositories built (and migrated) before a later part fails are closed:
    a failed start leaves no pooled connection to the garbage collector."""
    settings = Settings(
        storage_backend="memory",
        job_runner="dramatiq",  # fails after the repositories: no Redis URL
        database_url=f"sqlite:///{tmp_path / 'mediakit.db'}",
    )
    with _pool_connections() as counts, pytest.raises(ConfigurationError, match="REDIS_URL"):
        build_service(settings)
    assert counts["opened"] >= 1  # the migration ran
    assert counts["closed"] == counts["opened"]


def test_a_failed_start_leaves_passed_in_repositories_open(tmp_path: Path) -> None:
    """Repositories passed in are their caller's: a failed start does not close them."""
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path / 'mediakit.db'}")
    try:
        with pytest.raises(ConfigurationError, match="REDIS_URL"):
            build_service(Settings(storage_backend="memory", job_runner="dramatiq"), repos=repos)
        assert repos.images.get("none") is None
        assert repos.engine.pool.checkedin() == 1  # still pooled, not disposed
    finally:
        repos.close()


def test_a_kit_closes_everything_it_opened_and_closes_twice(tmp_path: Path) -> None:
    """``close()`` stops the job threads and closes every pooled database connection;
    a second ``close()`` (a shutdown hook plus ``atexit``) is harmless."""
    settings = Settings(
        storage_backend="memory",
        job_runner="thread",  # a pool and a sweep thread that reads the database
        database_url=f"sqlite:///{tmp_path / 'mediakit.db'}",
        signing_secret="x" * 32,
    )
    with _pool_connections() as counts:
        kit = build_service(settings)
        assert kit.repos.images.get("none") is None
        kit.close()
        kit.close()
    assert counts["opened"] >= 1
    assert counts["closed"] == counts["opened"]
