"""The repository contract suite against the Django ORM on PostgreSQL.

(The ``django`` entry of tests/repositories runs it on SQLite.) The shipped contract
classes (:mod:`mediakit.testing`) get this module's repositories.
"""

from __future__ import annotations

import threading

import pytest

from mediakit.repositories import Repositories
from mediakit.testing import ImagesContract, TracksContract
from tests import servers
from tests.django.support import add_database, django_repositories
from tests.servers import ServerHandle

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def django_pg_alias(postgres_server: ServerHandle) -> str:
    """A migrated PostgreSQL database registered as the Django alias ``contract_pg``."""
    add_database("contract_pg", servers.create_pg_database(postgres_server, "mk_django_contract"))
    return "contract_pg"


@pytest.fixture(autouse=True)
def _threads_close_their_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads the contract starts close their Django connections when they end.

    Django keeps one connection per thread and closes it only at the end of a request;
    code on a thread of its own must close it itself (Django's docs: ``close_old_connections``
    / ``connections.close_all`` outside the request cycle). Without this, each of the
    contract's short-lived threads left an open psycopg connection to the garbage collector.
    """
    from django.db import connections

    run = threading.Thread.run

    def run_then_close(self: threading.Thread) -> None:
        try:
            run(self)
        finally:
            connections.close_all()

    monkeypatch.setattr(threading.Thread, "run", run_then_close)


class DjangoOnPostgres:
    """Fresh, empty Django repositories on PostgreSQL for each test."""

    @pytest.fixture
    def repos(self, django_pg_alias: str) -> Repositories:
        out: Repositories = django_repositories(django_pg_alias)
        return out


class TestImages(DjangoOnPostgres, ImagesContract):
    """The image repository contract on the Django ORM and PostgreSQL."""


class TestTracks(DjangoOnPostgres, TracksContract):
    """The track repository contract on the Django ORM and PostgreSQL."""
