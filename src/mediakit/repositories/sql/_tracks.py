"""The track repository on SQL: positions within a set, reordering, the one-read lookup."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mediakit.errors import NotFound
from mediakit.models import ProcessingStatus, Track
from mediakit.repositories._fields import TRACK_UPDATABLE, check_track_order, normalize_changes
from mediakit.repositories.sql._engine import _Db
from mediakit.repositories.sql._leases import _claim, _interrupted, _release, _renew
from mediakit.repositories.sql._queries import (
    _BATCH,
    _COLUMNS,
    _delete,
    _get,
    _insert,
    _iter_keys,
    _row_values,
    _select,
    _to_model,
    _update,
)
from mediakit.repositories.sql._tables import music_sets_table, music_tracks_table


@functools.cache
def _track_with_visibility() -> sa.Select[Any]:
    """A track's columns (in :class:`Track`'s field order) and its set's ``visible``,
    built once (the id is a bound parameter)."""
    t, m = music_tracks_table, music_sets_table
    return (
        sa.select(*_COLUMNS[t], m.c.visible)
        .join_from(t, m, t.c.set_id == m.c.id)
        .where(t.c.id == sa.bindparam("track_id"))
    )


@functools.cache
def _count_query(ready_only: bool = False) -> sa.Select[Any]:
    """Tracks per set for an expanding list of set ids, built once."""
    t = music_tracks_table
    q = sa.select(t.c.set_id, sa.func.count()).where(
        t.c.set_id.in_(sa.bindparam("mk_set_ids", expanding=True))
    )
    if ready_only:
        q = q.where(t.c.status == ProcessingStatus.READY)
    return q.group_by(t.c.set_id)


def _lock_sets(db: _Db, conn: Connection, set_ids: Sequence[str]) -> set[str]:
    """The existing ones of ``set_ids``, row-locked on PostgreSQL (SQLite: BEGIN IMMEDIATE)."""
    t = music_sets_table
    q = sa.select(t.c.id).where(t.c.id.in_(sorted(set_ids))).order_by(t.c.id)
    if db.is_postgres:
        q = q.with_for_update()
    return set(conn.execute(q).scalars())


@attrs.define
class SqlTrackRepository:
    """:class:`~mediakit.repositories.TrackRepository` on a SQL database."""

    _db: _Db

    def add_many(self, tracks: Sequence[Track]) -> list[Track]:
        """Append the tracks after the last position of their sets, in one transaction.

        The sets are locked first (``FOR UPDATE`` on PostgreSQL; SQLite's
        ``BEGIN IMMEDIATE`` already excludes other writers), so concurrent calls
        queue and positions stay unique and contiguous.
        """
        rows = [_row_values(t) for t in tracks]
        if not rows:
            return []
        t = music_tracks_table
        set_ids = sorted({str(r["set_id"]) for r in rows})
        with self._db.write() as conn:
            missing = sorted(set(set_ids) - _lock_sets(self._db, conn, set_ids))
            if missing:
                raise NotFound(f"No music set with id {', '.join(missing)}.")
            q = (
                sa.select(t.c.set_id, sa.func.max(t.c.position))
                .where(t.c.set_id.in_(set_ids))
                .group_by(t.c.set_id)
            )
            next_pos = {sid: int(top) + 1 for sid, top in conn.execute(q).all()}
            for row in rows:
                sid = str(row["set_id"])
                row["position"] = pos = next_pos.get(sid, 0)
                next_pos[sid] = pos + 1
            _insert(conn, t, rows, "track")
        return [Track(**row) for row in rows]  # type: ignore[arg-type]

    def get(self, track_id: str) -> Track | None:
        """The track, or ``None``."""
        return _get(self._db, music_tracks_table, Track, track_id)

    def get_with_set_visibility(self, track_id: str) -> tuple[Track, bool] | None:
        """The track and its set's ``visible``, in one ``SELECT ... JOIN``."""
        row = self._db.first(_track_with_visibility(), {"track_id": track_id})
        return None if row is None else (Track(*row[:-1]), bool(row[-1]))

    def update(self, track_id: str, changes: Mapping[str, object]) -> Track:
        """Set only the given columns in one statement; ``NotFound`` if absent."""
        values = normalize_changes("track", TRACK_UPDATABLE, changes)
        return _update(self._db, music_tracks_table, Track, track_id, values, "track")

    def delete(self, track_id: str) -> bool:
        """Delete the track; the others keep their positions (and so their order)."""
        return _delete(self._db, music_tracks_table, track_id)

    def list_for_set(self, set_id: str, *, ready_only: bool = False) -> list[Track]:
        """The set's tracks by position (only ``ready`` ones with ``ready_only``)."""
        with self._db.read() as conn:
            return self._list(conn, set_id, ready_only)

    def count_for_sets(self, set_ids: Sequence[str], *, ready_only: bool = False) -> dict[str, int]:
        """How many tracks each given set holds (``0`` when none).

        One ``GROUP BY`` statement per :data:`_BATCH` distinct ids (a listing page
        is one statement), all in one read transaction.
        """
        counts = dict.fromkeys(set_ids, 0)
        ids = list(counts)
        if not ids:
            return counts
        q = _count_query(ready_only)
        with self._db.read_snapshot() as conn:
            for i in range(0, len(ids), _BATCH):
                rows = conn.execute(q, {"mk_set_ids": ids[i : i + _BATCH]}).all()
                counts.update((sid, int(n)) for sid, n in rows)
        return counts

    @staticmethod
    def _list(conn: Connection, set_id: str, ready_only: bool = False) -> list[Track]:
        t = music_tracks_table
        q = _select(t).where(t.c.set_id == set_id).order_by(t.c.position)
        if ready_only:
            q = q.where(t.c.status == ProcessingStatus.READY)
        return [_to_model(Track, r) for r in conn.execute(q).all()]

    def reorder(self, set_id: str, track_ids: Sequence[str]) -> list[Track]:
        """Give the set's tracks positions ``0..n-1`` in the order of ``track_ids``.

        Two phases in one transaction, so ``(set_id, position)`` stays unique after
        every statement: first every position becomes negative (``-1 - position``),
        then each track gets its new position.
        """
        t = music_tracks_table
        with self._db.write() as conn:
            if not _lock_sets(self._db, conn, [set_id]):
                raise NotFound(f"No music set with id {set_id}.")
            current = list(conn.execute(sa.select(t.c.id).where(t.c.set_id == set_id)).scalars())
            check_track_order(set_id, current, track_ids)
            if current:
                conn.execute(
                    t.update().where(t.c.set_id == set_id).values(position=-1 - t.c.position)
                )
                conn.execute(
                    t.update()
                    .where(t.c.set_id == set_id, t.c.id == sa.bindparam("b_id"))
                    .values(position=sa.bindparam("b_position")),
                    [{"b_id": tid, "b_position": pos} for pos, tid in enumerate(track_ids)],
                )
            return self._list(conn, set_id)

    def iter_object_keys(self) -> Iterator[str]:
        """Every original and rendition key, read in batches."""
        return _iter_keys(self._db, music_tracks_table, music_tracks_table.c.renditions)

    def claim(
        self,
        item_id: str,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        unfinished_only: bool = False,
    ) -> Track | None:
        """Take the processing lease in one conditional ``UPDATE``; ``None`` if not free."""
        return _claim(
            self._db, music_tracks_table, Track, item_id, owner, now, until, unfinished_only
        )

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none."""
        return _renew(self._db, music_tracks_table, item_id, owner, until)

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease on the row, if it still holds it."""
        _release(self._db, music_tracks_table, item_id, owner)

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Rows left ``processing`` without a live lease, or ``pending`` since before."""
        return _interrupted(self._db, music_tracks_table, now, pending_before, limit)
