"""The translation of database faults (issue 14, defect 6): a locked SQLite file or an
unreachable PostgreSQL is DatabaseUnavailable (503 + Retry-After) after the configured
wait, with the write rolled back; other database errors stay what they are."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediakit.errors import ConfigurationError, DatabaseUnavailable
from mediakit.repositories._unavailable import database_unavailable
from mediakit.repositories.sql import SqlRepositories
from mediakit.settings import Settings
from mediakit.testing import builders as b
from tests import servers


def test_locked_sqlite_write_is_database_unavailable_after_the_busy_timeout(
    tmp_path: Path,
) -> None:
    """Another connection's write transaction: add_many waits busy_timeout_s, then raises
    DatabaseUnavailable (503, Retry-After) and stores nothing; reads still work (WAL)."""
    path = tmp_path / "mk.db"
    repos = SqlRepositories.from_url(f"sqlite:///{path}", busy_timeout_s=0.3)
    try:
        before = b.image()
        repos.images.add_many([before])
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable) as info:
                repos.images.add_many([b.image()])
            assert 0.25 < time.monotonic() - started < 5
            assert info.value.http_status == 503
            assert int(info.value.headers["Retry-After"]) >= 1
            assert "MEDIAKIT_DATABASE_TIMEOUT_SECONDS" in info.value.message
            assert isinstance(info.value.__cause__, sa.exc.OperationalError)
            assert [i.id for i in repos.images.list(visible_only=False).items] == [before.id]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        repos.images.add_many([b.image()])
        assert len(repos.images.list(visible_only=False).items) == 2
    finally:
        repos.close()


def test_schema_errors_are_not_unavailability(tmp_path: Path) -> None:
    """A missing table is a bug or a misconfiguration: it stays an OperationalError (500)."""
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path / 'mk.db'}")
    try:
        with repos.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE images")
        with pytest.raises(sa.exc.OperationalError, match="no such table"):
            repos.images.get("x")
    finally:
        repos.close()


@pytest.mark.parametrize(
    ("vendor", "text", "busy"),
    [
        ("sqlite", "(sqlite3.OperationalError) database is locked", True),
        ("sqlite", "(sqlite3.OperationalError) unable to open database file", True),
        ("sqlite", "(sqlite3.OperationalError) no such table: images", False),
        ("sqlite", "(sqlite3.OperationalError) near 'SELEC': syntax error", False),
        ("postgresql", "connection failed: Connection refused", True),
        ("postgresql", "canceling statement due to lock timeout", True),
    ],
)
def test_which_errors_mean_unavailable(vendor: str, text: str, busy: bool) -> None:
    """Only busy/unreachable texts are translated, per backend."""
    found = database_unavailable(Exception(text), vendor=vendor)
    assert (found is not None) == busy


def test_the_setting_has_a_short_default_and_names_its_variable() -> None:
    """MEDIAKIT_DATABASE_TIMEOUT_SECONDS: 5 s by default, a bad value names the variable."""
    assert Settings().database_timeout == 5
    assert Settings.from_env({"MEDIAKIT_DATABASE_TIMEOUT_SECONDS": "2"}).database_timeout == 2
    with pytest.raises(Exception, match="MEDIAKIT_DATABASE_TIMEOUT_SECONDS"):
        Settings.from_env({"MEDIAKIT_DATABASE_TIMEOUT_SECONDS": "0"})


@pytest.mark.parametrize("raw", ["0", "0.0", "-1", "soon", "1e3", "0,5", "."])
def test_a_bad_database_timeout_names_its_variable(raw: str) -> None:
    """Zero, negative, non-numeric and exponent values are refused, naming the variable."""
    with pytest.raises(ConfigurationError, match="MEDIAKIT_DATABASE_TIMEOUT_SECONDS"):
        Settings.from_env({"MEDIAKIT_DATABASE_TIMEOUT_SECONDS": raw})


def test_a_fractional_database_timeout_reaches_sqlite_and_postgresql(tmp_path: Path) -> None:
    """MEDIAKIT_DATABASE_TIMEOUT_SECONDS=0.25 is a float setting; the service's repositories
    get SQLite's busy timeout of 250 ms (not rounded to 0 or 1 s), and PostgreSQL's connect
    timeout becomes whole seconds, at least 1 (libpq takes integers)."""
    from mediakit.service._wiring import _sql_repositories

    settings = Settings.from_env(
        {
            "MEDIAKIT_DATABASE_TIMEOUT_SECONDS": "0.25",
            "MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
        }
    )
    assert settings.database_timeout == 0.25
    repos = _sql_repositories(settings)
    try:
        with repos.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 250
    finally:
        repos.close()
    for seconds, whole in [(0.25, 1), (2.5, 2), (3.0, 3)]:
        pool_timeout, params = _postgres_engine_settings(seconds)
        assert pool_timeout == seconds
        assert params["connect_timeout"] == whole


def _postgres_engine_settings(seconds: float) -> tuple[float, dict[str, object]]:
    """The pool timeout and the connect parameters of a PostgreSQL engine made with
    ``busy_timeout_s=seconds`` (its do_connect hook records them; nothing connects)."""
    from mediakit.repositories.sql._engine import create_engine

    engine = create_engine("postgresql+psycopg://u@127.0.0.1:1/d", busy_timeout_s=seconds)
    seen: dict[str, object] = {}

    @sa.event.listens_for(engine, "do_connect")
    def _record(dialect: object, rec: object, cargs: object, cparams: dict[str, object]) -> None:
        seen.update(cparams)
        raise _Recorded

    try:
        with pytest.raises(Exception) as info:
            engine.connect()
        assert isinstance(info.value, _Recorded) or isinstance(
            info.value.__cause__ or info.value.__context__, _Recorded
        ), info.value
        return engine.pool.timeout(), seen
    finally:
        engine.dispose()


class _Recorded(Exception):
    """Raised by a test's do_connect hook: the parameters were seen, no connection made."""


@pytest.mark.postgres
def test_unreachable_postgres_is_database_unavailable() -> None:
    """A PostgreSQL that went away: reads and writes raise DatabaseUnavailable quickly."""
    cluster = servers.start_postgres()
    url = servers.create_pg_database(cluster, "mk_unavailable")
    repos = SqlRepositories.from_url(url, busy_timeout_s=2)
    try:
        repos.images.add_many([img := b.image()])
        cluster.stop()
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            repos.images.list(visible_only=False)
        with pytest.raises(DatabaseUnavailable):  # the point read, run on the driver
            repos.images.get(img.id)
        with pytest.raises(DatabaseUnavailable):
            repos.images.add_many([b.image()])
        assert time.monotonic() - started < 10
    finally:
        repos.close()
        cluster.stop()
