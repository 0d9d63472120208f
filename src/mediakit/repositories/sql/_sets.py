"""The music set repository on SQL."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from mediakit.models import MusicSet, Page
from mediakit.repositories._fields import MUSIC_SET_UPDATABLE, normalize_changes
from mediakit.repositories.sql._engine import _Db
from mediakit.repositories.sql._queries import (
    _delete,
    _get,
    _insert,
    _list_page,
    _row_values,
    _update,
)
from mediakit.repositories.sql._tables import music_sets_table


@attrs.define
class SqlMusicSetRepository:
    """:class:`~mediakit.repositories.MusicSetRepository` on a SQL database."""

    _db: _Db

    def add(self, music_set: MusicSet) -> None:
        """Insert; ``Conflict`` on a duplicate id."""
        with self._db.write() as conn:
            _insert(conn, music_sets_table, [_row_values(music_set)], "music set")

    def get(self, set_id: str) -> MusicSet | None:
        """The set, or ``None``."""
        return _get(self._db, music_sets_table, MusicSet, set_id)

    def update(self, set_id: str, changes: Mapping[str, object]) -> MusicSet:
        """Set only the given columns in one statement; ``NotFound`` if absent."""
        values = normalize_changes("music set", MUSIC_SET_UPDATABLE, changes)
        return _update(self._db, music_sets_table, MusicSet, set_id, values, "music set")

    def delete(self, set_id: str) -> bool:
        """Delete the set; its tracks go with it (``ON DELETE CASCADE``)."""
        return _delete(self._db, music_sets_table, set_id)

    def list(
        self, *, visible_only: bool, limit: int = 50, cursor: str | None = None
    ) -> Page[MusicSet]:
        """Newest first, ties broken by id."""
        return _list_page(self._db, music_sets_table, MusicSet, visible_only, limit, cursor)
