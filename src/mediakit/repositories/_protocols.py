"""Repository protocols for images, music sets and tracks.

Implementations: in-memory (:mod:`mediakit.repositories.memory`), SQL via SQLAlchemy
Core on SQLite and PostgreSQL (:mod:`mediakit.repositories.sql`), and the Django ORM
(``mediakit_django``). One contract suite (``tests/repositories``) runs against all.

Updates are partial (a mapping of field -> new value) and atomic, so a processing job
that records renditions never overwrites an admin's concurrent title edit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from mediakit.models import Image, MusicSet, Page, Track

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
        self, *, visible_only: bool, limit: int = 50, cursor: str | None = None
    ) -> Page[Image]:
        """Newest first, ties broken by id; ``cursor`` from the previous page."""
        ...

    def iter_object_keys(self) -> Iterator[str]:
        """Every object key any image row references (for garbage collection)."""
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
        unique even under concurrent writers. Returns the stored tracks.
        ``NotFound`` if the set does not exist.
        """
        ...

    def get(self, track_id: str) -> Track | None:
        """The track, or ``None``."""
        ...

    def update(self, track_id: str, changes: Mapping[str, object]) -> Track:
        """Apply ``changes`` atomically; ``NotFound`` if absent. ``position`` cannot change here."""
        ...

    def delete(self, track_id: str) -> bool:
        """Delete the track; later tracks keep their relative order."""
        ...

    def list_for_set(self, set_id: str) -> list[Track]:
        """The set's tracks by position."""
        ...

    def reorder(self, set_id: str, track_ids: Sequence[str]) -> list[Track]:
        """Set the order of a set's tracks; ``track_ids`` must be exactly the set's tracks.

        ``UnprocessableEntity`` otherwise; ``NotFound`` if the set does not exist.
        """
        ...

    def iter_object_keys(self) -> Iterator[str]:
        """Every object key any track row references."""
        ...


@attrs.frozen
class Repositories:
    """The three repositories a service needs, usually sharing one database."""

    images: ImageRepository
    music_sets: MusicSetRepository
    tracks: TrackRepository
