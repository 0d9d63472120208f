"""Image and music-set repository contract, shipped as :class:`mediakit.testing.ImagesContract`, run against every
repository implementation: memory, SQLite, PostgreSQL and the Django ORM."""

from __future__ import annotations

from mediakit.testing import ImagesContract
from tests.repositories.conftest import EveryImplementation


class TestImagesAndMusicSets(EveryImplementation, ImagesContract):
    """The contract, once per implementation."""
