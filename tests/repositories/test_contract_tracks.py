"""Track repository contract (ordering within a set), shipped as :class:`mediakit.testing.TracksContract`, run against every
repository implementation: memory, SQLite, PostgreSQL and the Django ORM."""

from __future__ import annotations

from mediakit.testing import TracksContract
from tests.repositories.conftest import EveryImplementation


class TestTracks(EveryImplementation, TracksContract):
    """The contract, once per implementation."""
