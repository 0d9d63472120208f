"""``ready_only`` listings, shipped as :class:`mediakit.testing.ReadyOnlyContract`, run against every
repository implementation: memory, SQLite, PostgreSQL and the Django ORM."""

from __future__ import annotations

from mediakit.testing import ReadyOnlyContract
from tests.repositories.conftest import EveryImplementation


class TestReadyOnly(EveryImplementation, ReadyOnlyContract):
    """The contract, once per implementation."""
