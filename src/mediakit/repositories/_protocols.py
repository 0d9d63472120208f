"""Repository protocols for images, music sets and tracks.

Implementations: in-memory (:mod:`mediakit.repositories.memory`), SQL via SQLAlchemy
Core on SQLite and PostgreSQL (:mod:`mediakit.repositories.sql`), and the Django ORM
(``mediakit_django``). One contract suite (``tests/repositories``) runs against all.

Rules every implementation follows (the contract suite checks each):

- Updates are partial (a mapping of field -> new value) and atomic, so a processing job
  that records renditions never overwrites an admin's concurrent title edit. Only the
  fields in ``mediakit.repositories._fields`` (``IMAGE_UPDATABLE``...) may change; any
  other name (an id, ``created_at``, ``original_key``, a track's ``set_id`` or
  ``position``) is a ``ValueError``, a programming error. ``status`` may be given as
  its string value.
- Datetimes must be timezone-aware (a naive one is a ``ValueError``); they come back
  as aware UTC datetimes equal to what was stored, to the microsecond.
- ``list`` is newest first (``created_at`` descending, ties by ``id`` descending,
  compared byte-wise) with keyset pagination: ``next_cursor`` is opaque and stable, so
  rows added or removed between pages never make a page skip or repeat an item. A
  cursor that was not issued by ``list`` is a ``BadRequest`` (code ``invalid_cursor``),
  a ``limit`` below 1 a ``BadRequest`` (code ``invalid_limit``).
- Track positions are 0-based and unique within a set: ``add_many`` appends after the
  set's last position, ``delete`` leaves the others where they are (a gap, same
  order), ``reorder`` renumbers ``0..n-1``.
- Processing leases (images and tracks): ``claim`` is one atomic compare-and-set, so of
  several workers (threads, processes, replicas) claiming one row at once exactly one
  wins while its lease lives; ``renew`` and ``release`` act only for the lease's owner;
  ``list_interrupted`` finds the rows a crash left behind. The lease is bookkeeping of
  the job runners, not part of the domain models (no model field carries it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

import attrs

from mediakit.models import Image, MusicSet, Page, Track

_T = TypeVar("_T")

__all__ = ["ImageRepository", "MusicSetRepository", "Repositories", "TrackRepository"]


@runtime_checkable
class ImageRepository(Protocol):
    """Stores :class:`~mediakit.models.Image` rows."""

    def add_many(self, images: Sequence[Image]) -> None:
        """Insert all images in one transaction (all or none); ``Conflict`` on a duplicate id."""
        ...

    def get(self, image_id: str) -> Image | None:
        """The image, or ``None``."""
        ...

    def update(self, image_id: str, changes: Mapping[str, object]) -> Image:
        """Apply ``changes`` atomically and return the new row; ``NotFound`` if absent.

        ``updated_at`` is set by the caller inside ``changes`` when it should move.
        """
        ...

    def delete(self, image_id: str) -> bool:
        """Delete the row; ``False`` if there was none."""
        ...

    def list(
        self,
        *,
        visible_only: bool,
        limit: int = 50,
        cursor: str | None = None,
        ready_only: bool = False,
    ) -> Page[Image]:
        """Newest first, ties broken by id; ``cursor`` from the previous page.

        ``visible_only`` leaves out rows whose ``visible`` is false, ``ready_only`` rows
        whose ``status`` is not ``ready``; both filter in the query, so pages stay full.
        """
        ...

    def iter_object_keys(self) -> Iterator[str]:
        """Every object key any image row references: originals and thumbnails (for GC)."""
        ...

    def claim(
        self,
        item_id: str,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        unfinished_only: bool = False,
    ) -> Image | None:
        """Take the processing lease of a row, atomically; the claimed row or ``None``.

        Succeeds when nobody holds a live lease (none, or one that expired at or before
        ``now``) and, with ``unfinished_only``, the row is ``pending`` or ``processing``.
        The row becomes ``processing`` (``failure_reason`` cleared, ``updated_at=now``)
        and its lease ``(owner, until)``. ``None``: no such row, a live lease held by
        another owner, or (``unfinished_only``) a row already ``ready`` or ``failed``.
        """
        ...

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none on the row."""
        ...

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease (nothing happens if another owner holds it now)."""
        ...

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Ids of rows a job should take up again, oldest ``updated_at`` first.

        ``processing`` rows whose lease expired (or that have none: a crash, or a row
        from before leases existed), and ``pending`` rows not updated since
        ``pending_before`` that hold no live lease (an upload whose job never ran).
        """
        ...


@runtime_checkable
class MusicSetRepository(Protocol):
    """Stores :class:`~mediakit.models.MusicSet` rows."""

    def add(self, music_set: MusicSet) -> None:
        """Insert; ``Conflict`` on a duplicate id."""
        ...

    def get(self, set_id: str) -> MusicSet | None:
        """The set, or ``None``."""
        ...

    def update(self, set_id: str, changes: Mapping[str, object]) -> MusicSet:
        """Apply ``changes`` atomically; ``NotFound`` if absent."""
        ...

    def delete(self, set_id: str) -> bool:
        """Delete the set and all its tracks; ``False`` if there was none."""
        ...

    def list(
        self, *, visible_only: bool, limit: int = 50, cursor: str | None = None
    ) -> Page[MusicSet]:
        """Newest first, ties broken by id."""
        ...


@runtime_checkable
class TrackRepository(Protocol):
    """Stores :class:`~mediakit.models.Track` rows, ordered within their set."""

    def add_many(self, tracks: Sequence[Track]) -> list[Track]:
        """Append tracks at the end of their set, in order, in one transaction.

        Positions are assigned here (the given ``position`` is ignored) and are
        unique and contiguous even under concurrent writers (threads or processes).
        Returns the stored tracks, in the given order. ``NotFound`` if a set does not
        exist and ``Conflict`` on a duplicate id; either way nothing is stored.
        """
        ...

    def get(self, track_id: str) -> Track | None:
        """The track, or ``None``."""
        ...

    def get_with_set_visibility(self, track_id: str) -> tuple[Track, bool] | None:
        """The track and whether its set is visible, in one read (one round trip: the
        Range proxy's lookup); ``None`` if there is no such track."""
        ...

    def update(self, track_id: str, changes: Mapping[str, object]) -> Track:
        """Apply ``changes`` atomically; ``NotFound`` if absent. ``position`` cannot change here."""
        ...

    def delete(self, track_id: str) -> bool:
        """Delete the track; later tracks keep their relative order."""
        ...

    def list_for_set(self, set_id: str, *, ready_only: bool = False) -> list[Track]:
        """The set's tracks by position (only ``ready`` ones with ``ready_only``)."""
        ...

    def count_for_sets(self, set_ids: Sequence[str], *, ready_only: bool = False) -> dict[str, int]:
        """How many tracks (``ready`` ones with ``ready_only``) each of ``set_ids`` holds,
        in one query.

        Every given id is a key of the result (``0`` for a set without tracks or
        with no row at all); repeated ids are counted once. Listings use this
        instead of one :meth:`list_for_set` per set.
        """
        ...

    def reorder(self, set_id: str, track_ids: Sequence[str]) -> list[Track]:
        """Set the order of a set's tracks; ``track_ids`` must be exactly the set's tracks.

        Positions become ``0..n-1`` in the given order, atomically; returns the tracks
        in their new order. ``UnprocessableEntity`` (naming missing, foreign or repeated
        ids) otherwise, changing nothing; ``NotFound`` if the set does not exist.
        """
        ...

    def iter_object_keys(self) -> Iterator[str]:
        """Every object key any track row references: originals and renditions."""
        ...

    def claim(
        self,
        item_id: str,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        unfinished_only: bool = False,
    ) -> Track | None:
        """Take the processing lease of a row, atomically; the claimed row or ``None``.

        Succeeds when nobody holds a live lease (none, or one that expired at or before
        ``now``) and, with ``unfinished_only``, the row is ``pending`` or ``processing``.
        The row becomes ``processing`` (``failure_reason`` cleared, ``updated_at=now``)
        and its lease ``(owner, until)``. ``None``: no such row, a live lease held by
        another owner, or (``unfinished_only``) a row already ``ready`` or ``failed``.
        """
        ...

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none on the row."""
        ...

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease (nothing happens if another owner holds it now)."""
        ...

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Ids of rows a job should take up again, oldest ``updated_at`` first.

        ``processing`` rows whose lease expired (or that have none: a crash, or a row
        from before leases existed), and ``pending`` rows not updated since
        ``pending_before`` that hold no live lease (an upload whose job never ran).
        """
        ...


@attrs.frozen
class Repositories:
    """The three repositories a service needs, usually sharing one database."""

    images: ImageRepository
    music_sets: MusicSetRepository
    tracks: TrackRepository

    @property
    def reads_in_process(self) -> bool:
        """Whether a read is done in this process without waiting for a server or a
        lock held by a writer (memory; SQLite in WAL mode, where readers never wait).

        The async service then runs its read-only steps inline on the event loop: a
        worker-thread hop costs more than such a read. ``False`` here, the safe default
        for a database over the network (and required for Django's ORM, which refuses
        synchronous queries on the event loop)."""
        return False

    def release_thread(self) -> None:
        """Release what the calling thread holds open (its own database connection).

        Job runners call it on their worker threads after each job (and sweep), so a
        thread that goes idle or ends holds no connection. Nothing to do here: the
        memory and SQL repositories share one pool across threads. The Django ORM keeps
        a connection per thread and closes it only at the end of a request, so
        ``DjangoRepositories`` closes this thread's one.
        """

    async def run_blocking(self, step: Callable[[], _T]) -> _T:
        """Run one blocking database step of the async service off the event loop.

        A worker thread of anyio's pool by default. An implementation whose connections
        belong to threads it manages (the Django ORM: one per thread, closed at the end
        of a request) runs the step where those are looked after instead.
        """
        import anyio.to_thread

        return await anyio.to_thread.run_sync(step)
