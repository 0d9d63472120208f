"""Repositories: protocols and implementations (memory, SQL).

- :class:`MemoryRepositories` (``MemoryRepositories.create()``): thread-safe in-memory
  repositories, a test double that passes the same contract suite as the SQL ones.
- :class:`SqlRepositories` (``SqlRepositories.from_url(url)``): SQLAlchemy Core on
  SQLite or PostgreSQL, schema migrated at start-up (see :mod:`mediakit.repositories.sql`).

For another implementation (the Django ORM one in ``mediakit_django``, a third-party
one), the rules every repository shares are public here too, so that it accepts and
refuses exactly what the others do (the contract suite checks it):

- pagination: :func:`encode_cursor` / :func:`decode_cursor` (opaque keyset cursors,
  :class:`CursorKey`), :func:`check_page_size`, :func:`to_utc`;
- updates: :data:`IMAGE_UPDATABLE`, :data:`MUSIC_SET_UPDATABLE`, :data:`TRACK_UPDATABLE`,
  :func:`normalize_changes`, :func:`check_track_order`;
- errors: :func:`database_unavailable` (which driver errors mean "retry later").

The SQL names are imported lazily so that importing the protocols stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediakit.repositories._cursor import (
    CursorKey,
    check_page_size,
    decode_cursor,
    encode_cursor,
    to_utc,
)
from mediakit.repositories._fields import (
    IMAGE_UPDATABLE,
    MUSIC_SET_UPDATABLE,
    TRACK_UPDATABLE,
    check_track_order,
    normalize_changes,
)
from mediakit.repositories._protocols import (
    ImageRepository,
    MusicSetRepository,
    Repositories,
    TrackRepository,
)
from mediakit.repositories._unavailable import database_unavailable
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
    # shared rules, for repository implementations
    "IMAGE_UPDATABLE",
    "MUSIC_SET_UPDATABLE",
    "TRACK_UPDATABLE",
    "CursorKey",
    "check_page_size",
    "check_track_order",
    "database_unavailable",
    "decode_cursor",
    "encode_cursor",
    "normalize_changes",
    "to_utc",
]


def __getattr__(name: str) -> Any:
    if name == "SqlRepositories":
        from mediakit.repositories.sql import SqlRepositories

        return SqlRepositories
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
