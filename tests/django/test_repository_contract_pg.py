"""The repository contract suite against the Django ORM on PostgreSQL.

(The ``django`` entry of tests/repositories runs it on SQLite.) The contract's test
functions are imported here and get this module's ``repos`` fixture.
"""

from __future__ import annotations

import pytest

from mediakit.repositories import Repositories
from tests import servers
from tests.django.support import add_database, django_repositories
from tests.repositories.test_contract_images import *  # noqa: F403
from tests.repositories.test_contract_tracks import *  # noqa: F403
from tests.servers import ServerHandle

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def django_pg_alias(postgres_server: ServerHandle) -> str:
    """A migrated PostgreSQL database registered as the Django alias ``contract_pg``."""
    add_database("contract_pg", servers.create_pg_database(postgres_server, "mk_django_contract"))
    return "contract_pg"


@pytest.fixture
def repos(django_pg_alias: str) -> Repositories:
    """Fresh, empty Django repositories on PostgreSQL."""
    out: Repositories = django_repositories(django_pg_alias)
    return out
