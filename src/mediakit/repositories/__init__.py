"""Repositories: protocols and implementations (memory, SQL).

- :class:`MemoryRepositories` (``MemoryRepositories.create()``): thread-safe in-memory
  repositories, a test double that passes the same contract suite as the SQL ones.
- :class:`SqlRepositories` (``SqlRepositories.from_url(url)``): SQLAlchemy Core on
  SQLite or PostgreSQL, schema migrated at start-up (see :mod:`mediakit.repositories.sql`).

The SQL names are imported lazily so that importing the protocols stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediakit.repositories._protocols import (
    ImageRepository,
    MusicSetRepository,
    Repositories,
    TrackRepository,
)
from mediakit.repositories.memory import MemoryRepositories

if TYPE_CHECKING:
    from mediakit.repositories.sql import SqlRepositories

__all__ = [
    # protocols
    "ImageRepository",
    "MusicSetRepository",
    "Repositories",
    "TrackRepository",
    # implementations
    "MemoryRepositories",
    "SqlRepositories",
]


def __getattr__(name: str) -> Any:
    if name == "SqlRepositories":
        from mediakit.repositories.sql import SqlRepositories

        return SqlRepositories
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
