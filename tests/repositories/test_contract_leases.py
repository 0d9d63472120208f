"""Processing-lease contract (claim, renew, release, list_interrupted), shipped as :class:`mediakit.testing.LeasesContract`, run against every
repository implementation: memory, SQLite, PostgreSQL and the Django ORM."""

from __future__ import annotations

from mediakit.testing import LeasesContract
from tests.repositories.conftest import EveryImplementation


class TestLeases(EveryImplementation, LeasesContract):
    """The contract, once per implementation."""
