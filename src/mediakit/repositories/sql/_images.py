"""The image repository on SQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import attrs

from mediakit.models import Image, Page
from mediakit.repositories._fields import IMAGE_UPDATABLE, normalize_changes
from mediakit.repositories.sql._engine import _Db
from mediakit.repositories.sql._leases import _claim, _interrupted, _release, _renew
from mediakit.repositories.sql._queries import (
    _delete,
    _get,
    _insert,
    _iter_keys,
    _list_page,
    _row_values,
    _update,
)
from mediakit.repositories.sql._tables import images_table


@attrs.define
class SqlImageRepository:
    """:class:`~mediakit.repositories.ImageRepository` on a SQL database."""

    _db: _Db

    def add_many(self, images: Sequence[Image]) -> None:
        """Insert all images in one transaction (all or none); ``Conflict`` on a duplicate id."""
        rows = [_row_values(i) for i in images]
        if not rows:
            return
        with self._db.write() as conn:
            _insert(conn, images_table, rows, "image")

    def get(self, image_id: str) -> Image | None:
        """The image, or ``None``."""
        return _get(self._db, images_table, Image, image_id)

    def update(self, image_id: str, changes: Mapping[str, object]) -> Image:
        """Set only the given columns, in one ``UPDATE ... RETURNING``; ``NotFound`` if absent."""
        values = normalize_changes("image", IMAGE_UPDATABLE, changes)
        return _update(self._db, images_table, Image, image_id, values, "image")

    def delete(self, image_id: str) -> bool:
        """Delete the row; ``False`` if there was none."""
        return _delete(self._db, images_table, image_id)

    def list(
        self,
        *,
        visible_only: bool,
        limit: int = 50,
        cursor: str | None = None,
        ready_only: bool = False,
    ) -> Page[Image]:
        """Newest first, ties broken by id; ``cursor`` from the previous page."""
        return _list_page(self._db, images_table, Image, visible_only, limit, cursor, ready_only)

    def iter_object_keys(self) -> Iterator[str]:
        """Every original and thumbnail key, read in batches."""
        return _iter_keys(self._db, images_table, images_table.c.thumbnails)

    def claim(
        self,
        item_id: str,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        unfinished_only: bool = False,
    ) -> Image | None:
        """Take the processing lease in one conditional ``UPDATE``; ``None`` if not free."""
        return _claim(self._db, images_table, Image, item_id, owner, now, until, unfinished_only)

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none."""
        return _renew(self._db, images_table, item_id, owner, until)

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease on the row, if it still holds it."""
        _release(self._db, images_table, item_id, owner)

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Rows left ``processing`` without a live lease, or ``pending`` since before."""
        return _interrupted(self._db, images_table, now, pending_before, limit)
