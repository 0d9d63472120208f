"""The repository implementations the contract suite runs against.

Every test that takes the ``repos`` fixture (and every test of the shipped contract,
:mod:`mediakit.testing`, in a class based on :class:`EveryImplementation`) runs once per
entry of :data:`REPOSITORY_FACTORIES`. To run the suite against a new implementation, add one
line: ``"name": factory`` where ``factory(request) -> Repositories`` returns fresh,
empty repositories (use ``request.getfixturevalue`` for other fixtures and
``request.addfinalizer`` for clean-up), plus marks in :data:`REPOSITORY_MARKS` if it
needs a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from mediakit.repositories import Repositories
from mediakit.repositories.memory import MemoryRepositories
from mediakit.repositories.sql import SqlRepositories, create_engine, migrate
from mediakit.testing import RepositoryFixtures
from tests import servers
from tests.servers import ServerHandle

RepositoryFactory = Callable[[pytest.FixtureRequest], Repositories]


def _memory(request: pytest.FixtureRequest) -> Repositories:
    return MemoryRepositories.create()


def _sqlite(request: pytest.FixtureRequest) -> Repositories:
    # a file database (WAL, several connections), not ":memory:": the real thing
    tmp = request.getfixturevalue("tmp_path")
    repos = SqlRepositories.from_url(f"sqlite:///{tmp}/db/mediakit.db")
    request.addfinalizer(repos.close)
    return repos


def _postgres(request: pytest.FixtureRequest) -> Repositories:
    engine: sa.Engine = request.getfixturevalue("pg_contract_engine")
    with engine.begin() as conn:  # a clean slate per test, cheaper than a new database
        conn.exec_driver_sql("TRUNCATE music_tracks, music_sets, images")
    return SqlRepositories.from_engine(engine, migrate_schema=False)


def _django(request: pytest.FixtureRequest) -> Repositories:
    # the Django ORM on a SQLite file (Django configured once per session, rows cleared)
    from tests.django.support import django_repositories

    repos: Repositories = django_repositories()
    return repos


REPOSITORY_FACTORIES: dict[str, RepositoryFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
    "django": _django,
}
"""name -> factory(request) returning fresh, empty repositories."""

REPOSITORY_MARKS: dict[str, tuple[pytest.MarkDecorator, ...]] = {
    "postgres": (pytest.mark.postgres,),
}
"""Marks for implementations that need a server (``-m 'not postgres'`` deselects)."""


IMPLEMENTATIONS = [pytest.param(n, marks=REPOSITORY_MARKS.get(n, ())) for n in REPOSITORY_FACTORIES]


@pytest.fixture(params=IMPLEMENTATIONS)
def repos(request: pytest.FixtureRequest) -> Repositories:
    """Fresh, empty repositories of each implementation in turn."""
    return REPOSITORY_FACTORIES[request.param](request)


class EveryImplementation(RepositoryFixtures):
    """Runs a shipped repository contract (:mod:`mediakit.testing`) against every
    implementation: ``class TestX(EveryImplementation, SomeContract)``."""

    @pytest.fixture(params=IMPLEMENTATIONS)
    def repos(self, request: pytest.FixtureRequest) -> Repositories:
        """Fresh, empty repositories of each implementation in turn."""
        return REPOSITORY_FACTORIES[request.param](request)


@pytest.fixture(scope="session")
def pg_contract_engine(postgres_server: ServerHandle) -> Iterator[sa.Engine]:
    """One migrated PostgreSQL database for the contract suite (truncated per test)."""
    url = servers.create_pg_database(postgres_server, "mediakit_repo_contract")
    engine = create_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


_db_counter = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        tmp = request.getfixturevalue("tmp_path")
        return f"sqlite:///{tmp}/fresh/mediakit.db"
    pg: ServerHandle = request.getfixturevalue("postgres_server")
    return servers.create_pg_database(pg, f"mediakit_fresh_{next(_db_counter)}")
