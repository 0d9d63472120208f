"""The repository contract suite against the Django ORM on PostgreSQL.

(The ``django`` entry of tests/repositories runs it on SQLite.) The shipped contract
classes (:mod:`mediakit.testing`) get this module's repositories.
"""

from __future__ import annotations

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
