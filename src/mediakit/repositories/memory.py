"""In-memory repositories: a thread-safe test double shipped as API.

They pass the same contract suite as the SQL repositories (``tests/repositories``), so
tests of services and adapters can use them in place of a database::

    repos = MemoryRepositories.create()
    repos.images.add_many([image])

All three repositories of one :class:`MemoryRepositories` share one store and one
lock: deleting a set deletes its tracks, and every call is atomic with respect to
every other (a reentrant lock around plain dicts; values are frozen attrs objects,
so nothing handed out can be mutated behind the store's back).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import attrs

from mediakit.errors import Conflict, NotFound
from mediakit.models import Image, MusicSet, Page, ProcessingStatus, Track
from mediakit.repositories._cursor import check_page_size, decode_cursor, encode_cursor, to_utc
from mediakit.repositories._fields import (
    IMAGE_UPDATABLE,
    MUSIC_SET_UPDATABLE,
    TRACK_UPDATABLE,
    check_track_order,
    normalize_changes,
)
from mediakit.repositories._protocols import Repositories

__all__ = [
    "MemoryImageRepository",
    "MemoryMusicSetRepository",
    "MemoryRepositories",
    "MemoryStore",
    "MemoryTrackRepository",
]

T = TypeVar("T")
_Row = TypeVar("_Row", Image, MusicSet, Track)


@attrs.define
class MemoryStore:
    """The rows of one in-memory "database", guarded by one reentrant lock."""

    images: dict[str, Image] = attrs.field(factory=dict)
    music_sets: dict[str, MusicSet] = attrs.field(factory=dict)
    tracks: dict[str, Track] = attrs.field(factory=dict)
    leases: dict[tuple[str, str], tuple[str, datetime]] = attrs.field(factory=dict)
    """``(table, id)`` -> ``(owner, until)``: processing leases (see ``claim``)."""
    lock: threading.RLock = attrs.field(factory=threading.RLock, repr=False)


def _page(
    rows: Iterable[T], key: Callable[[T], tuple[datetime, str]], limit: int, cursor: str | None
) -> Page[T]:
    """Newest-first keyset page over ``rows`` (the same rule as the SQL ``list``)."""
    limit = check_page_size(limit)
    after = decode_cursor(cursor).sort_key() if cursor is not None else None
    ordered = sorted(rows, key=key, reverse=True)
    if after is not None:
        ordered = [r for r in ordered if key(r) < after]
    items = ordered[:limit]
    if len(ordered) > limit:
        last = key(items[-1])
        return Page(items=items, next_cursor=encode_cursor(last[0], last[1]))
    return Page(items=items, next_cursor=None)


def _ready(row: Image | Track) -> bool:
    return row.status is ProcessingStatus.READY


def _image_key(i: Image) -> tuple[datetime, str]:
    return (i.created_at, i.id)


def _set_key(s: MusicSet) -> tuple[datetime, str]:
    return (s.created_at, s.id)


def _with_utc_stamps(row: _Row) -> _Row:
    return attrs.evolve(
        row,
        created_at=to_utc(row.created_at, "created_at"),
        updated_at=to_utc(row.updated_at, "updated_at"),
    )


def _clashes(ids: Sequence[str], existing: Mapping[str, object]) -> list[str]:
    """Ids already stored or given twice."""
    counts = Counter(ids)
    return sorted(i for i, n in counts.items() if n > 1 or i in existing)


_UNFINISHED = (ProcessingStatus.PENDING, ProcessingStatus.PROCESSING)
_Item = TypeVar("_Item", Image, Track)


def _claim(
    store: MemoryStore,
    table: str,
    rows: dict[str, _Item],
    item_id: str,
    owner: str,
    now: datetime,
    until: datetime,
    unfinished_only: bool,
) -> _Item | None:
    now = to_utc(now, "now")
    until = to_utc(until, "until")
    with store.lock:
        row = rows.get(item_id)
        if row is None or (unfinished_only and row.status not in _UNFINISHED):
            return None
        held = store.leases.get((table, item_id))
        if held is not None and held[1] > now:
            return None
        new = attrs.evolve(
            row, status=ProcessingStatus.PROCESSING, failure_reason=None, updated_at=now
        )
        rows[item_id] = new
        store.leases[(table, item_id)] = (owner, until)
        return new


def _renew(store: MemoryStore, table: str, item_id: str, owner: str, until: datetime) -> bool:
    until = to_utc(until, "until")
    with store.lock:
        held = store.leases.get((table, item_id))
        if held is None or held[0] != owner:
            return False
        store.leases[(table, item_id)] = (owner, until)
        return True


def _release(store: MemoryStore, table: str, item_id: str, owner: str) -> None:
    with store.lock:
        held = store.leases.get((table, item_id))
        if held is not None and held[0] == owner:
            del store.leases[(table, item_id)]


def _interrupted(
    store: MemoryStore,
    table: str,
    rows: Mapping[str, Image] | Mapping[str, Track],
    now: datetime,
    pending_before: datetime,
    limit: int,
) -> list[str]:
    now = to_utc(now, "now")
    pending_before = to_utc(pending_before, "pending_before")
    check_page_size(limit)
    with store.lock:
        found: list[tuple[datetime, str]] = []
        for row in rows.values():
            held = store.leases.get((table, row.id))
            if held is not None and held[1] > now:
                continue
            if row.status is ProcessingStatus.PROCESSING or (
                row.status is ProcessingStatus.PENDING and row.updated_at < pending_before
            ):
                found.append((row.updated_at, row.id))
    return [item_id for _, item_id in sorted(found)[:limit]]


@attrs.define
class MemoryImageRepository:
    """:class:`~mediakit.repositories.ImageRepository` over a :class:`MemoryStore`."""

    _store: MemoryStore = attrs.field(factory=MemoryStore)

    def add_many(self, images: Sequence[Image]) -> None:
        """Insert all images or none; ``Conflict`` on a duplicate id."""
        rows = [_with_utc_stamps(i) for i in images]
        with self._store.lock:
            clash = _clashes([i.id for i in rows], self._store.images)
            if clash:
                raise Conflict(f"An image with id {', '.join(clash)} already exists.")
            for row in rows:
                self._store.images[row.id] = row

    def get(self, image_id: str) -> Image | None:
        """The image, or ``None``."""
        with self._store.lock:
            return self._store.images.get(image_id)

    def update(self, image_id: str, changes: Mapping[str, object]) -> Image:
        """Apply ``changes`` atomically and return the new row; ``NotFound`` if absent."""
        values = normalize_changes("image", IMAGE_UPDATABLE, changes)
        with self._store.lock:
            current = self._store.images.get(image_id)
            if current is None:
                raise NotFound(f"No image with id {image_id}.")
            new = attrs.evolve(current, **values)  # type: ignore[arg-type]
            self._store.images[image_id] = new
            return new

    def delete(self, image_id: str) -> bool:
        """Delete the row; ``False`` if there was none."""
        with self._store.lock:
            self._store.leases.pop(("images", image_id), None)
            return self._store.images.pop(image_id, None) is not None

    def list(
        self,
        *,
        visible_only: bool,
        limit: int = 50,
        cursor: str | None = None,
        ready_only: bool = False,
    ) -> Page[Image]:
        """Newest first, ties broken by id; ``cursor`` from the previous page."""
        with self._store.lock:
            rows = [
                i
                for i in self._store.images.values()
                if (i.visible or not visible_only) and (_ready(i) or not ready_only)
            ]
        return _page(rows, _image_key, limit, cursor)

    def iter_object_keys(self) -> Iterator[str]:
        """Every object key any image row references (a snapshot)."""
        with self._store.lock:
            rows = list(self._store.images.values())
        for row in rows:
            yield from row.object_keys()

    def claim(
        self,
        item_id: str,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        unfinished_only: bool = False,
    ) -> Image | None:
        """Take the processing lease of a row (see the protocol); ``None`` if not free."""
        return _claim(
            self._store, "images", self._store.images, item_id, owner, now, until, unfinished_only
        )

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none."""
        return _renew(self._store, "images", item_id, owner, until)

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease on the row, if it still holds it."""
        _release(self._store, "images", item_id, owner)

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Rows left ``processing`` without a live lease, or ``pending`` since before."""
        return _interrupted(self._store, "images", self._store.images, now, pending_before, limit)


@attrs.define
class MemoryMusicSetRepository:
    """:class:`~mediakit.repositories.MusicSetRepository` over a :class:`MemoryStore`."""

    _store: MemoryStore = attrs.field(factory=MemoryStore)

    def add(self, music_set: MusicSet) -> None:
        """Insert; ``Conflict`` on a duplicate id."""
        row = _with_utc_stamps(music_set)
        with self._store.lock:
            if row.id in self._store.music_sets:
                raise Conflict(f"A music set with id {row.id} already exists.")
            self._store.music_sets[row.id] = row

    def get(self, set_id: str) -> MusicSet | None:
        """The set, or ``None``."""
        with self._store.lock:
            return self._store.music_sets.get(set_id)

    def update(self, set_id: str, changes: Mapping[str, object]) -> MusicSet:
        """Apply ``changes`` atomically; ``NotFound`` if absent."""
        values = normalize_changes("music set", MUSIC_SET_UPDATABLE, changes)
        with self._store.lock:
            current = self._store.music_sets.get(set_id)
            if current is None:
                raise NotFound(f"No music set with id {set_id}.")
            new = attrs.evolve(current, **values)  # type: ignore[arg-type]
            self._store.music_sets[set_id] = new
            return new

    def delete(self, set_id: str) -> bool:
        """Delete the set and all its tracks; ``False`` if there was none."""
        with self._store.lock:
            if self._store.music_sets.pop(set_id, None) is None:
                return False
            for track_id in [t.id for t in self._store.tracks.values() if t.set_id == set_id]:
                del self._store.tracks[track_id]
                self._store.leases.pop(("tracks", track_id), None)
            return True

    def list(
        self, *, visible_only: bool, limit: int = 50, cursor: str | None = None
    ) -> Page[MusicSet]:
        """Newest first, ties broken by id."""
        with self._store.lock:
            rows = [s for s in self._store.music_sets.values() if s.visible or not visible_only]
        return _page(rows, _set_key, limit, cursor)


@attrs.define
class MemoryTrackRepository:
    """:class:`~mediakit.repositories.TrackRepository` over a :class:`MemoryStore`."""

    _store: MemoryStore = attrs.field(factory=MemoryStore)

    def add_many(self, tracks: Sequence[Track]) -> list[Track]:
        """Append tracks at the end of their sets, in order, all or none."""
        rows = [_with_utc_stamps(t) for t in tracks]
        with self._store.lock:
            missing = sorted({t.set_id for t in rows} - set(self._store.music_sets))
            if missing:
                raise NotFound(f"No music set with id {', '.join(missing)}.")
            clash = _clashes([t.id for t in rows], self._store.tracks)
            if clash:
                raise Conflict(f"A track with id {', '.join(clash)} already exists.")
            next_pos: dict[str, int] = {}
            for t in self._store.tracks.values():
                next_pos[t.set_id] = max(next_pos.get(t.set_id, 0), t.position + 1)
            stored: list[Track] = []
            for row in rows:
                pos = next_pos.get(row.set_id, 0)
                next_pos[row.set_id] = pos + 1
                new = attrs.evolve(row, position=pos)
                self._store.tracks[new.id] = new
                stored.append(new)
            return stored

    def get(self, track_id: str) -> Track | None:
        """The track, or ``None``."""
        with self._store.lock:
            return self._store.tracks.get(track_id)

    def get_with_set_visibility(self, track_id: str) -> tuple[Track, bool] | None:
        """The track and whether its set is visible, under one lock."""
        with self._store.lock:
            track = self._store.tracks.get(track_id)
            music_set = None if track is None else self._store.music_sets.get(track.set_id)
            return None if track is None or music_set is None else (track, music_set.visible)

    def update(self, track_id: str, changes: Mapping[str, object]) -> Track:
        """Apply ``changes`` atomically; ``NotFound`` if absent."""
        values = normalize_changes("track", TRACK_UPDATABLE, changes)
        with self._store.lock:
            current = self._store.tracks.get(track_id)
            if current is None:
                raise NotFound(f"No track with id {track_id}.")
            new = attrs.evolve(current, **values)  # type: ignore[arg-type]
            self._store.tracks[track_id] = new
            return new

    def delete(self, track_id: str) -> bool:
        """Delete the track; the others keep their positions (and so their order)."""
        with self._store.lock:
            self._store.leases.pop(("tracks", track_id), None)
            return self._store.tracks.pop(track_id, None) is not None

    def list_for_set(self, set_id: str, *, ready_only: bool = False) -> list[Track]:
        """The set's tracks by position (only ``ready`` ones with ``ready_only``)."""
        with self._store.lock:
            rows = [
                t
                for t in self._store.tracks.values()
                if t.set_id == set_id and (_ready(t) or not ready_only)
            ]
        return sorted(rows, key=lambda t: t.position)

    def count_for_sets(self, set_ids: Sequence[str], *, ready_only: bool = False) -> dict[str, int]:
        """How many tracks each given set holds (``0`` when none), in one pass."""
        counts = dict.fromkeys(set_ids, 0)
        with self._store.lock:
            for t in self._store.tracks.values():
                if t.set_id in counts and (_ready(t) or not ready_only):
                    counts[t.set_id] += 1
        return counts

    def reorder(self, set_id: str, track_ids: Sequence[str]) -> list[Track]:
        """Give the set's tracks positions ``0..n-1`` in the order of ``track_ids``."""
        with self._store.lock:
            if set_id not in self._store.music_sets:
                raise NotFound(f"No music set with id {set_id}.")
            current = [t.id for t in self._store.tracks.values() if t.set_id == set_id]
            check_track_order(set_id, current, track_ids)
            for pos, track_id in enumerate(track_ids):
                self._store.tracks[track_id] = attrs.evolve(
                    self._store.tracks[track_id], position=pos
                )
            return self.list_for_set(set_id)

    def iter_object_keys(self) -> Iterator[str]:
        """Every object key any track row references (a snapshot)."""
        with self._store.lock:
            rows = list(self._store.tracks.values())
        for row in rows:
            yield from row.object_keys()

    def claim(
        self,
        item_id: str,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        unfinished_only: bool = False,
    ) -> Track | None:
        """Take the processing lease of a row (see the protocol); ``None`` if not free."""
        return _claim(
            self._store, "tracks", self._store.tracks, item_id, owner, now, until, unfinished_only
        )

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none."""
        return _renew(self._store, "tracks", item_id, owner, until)

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease on the row, if it still holds it."""
        _release(self._store, "tracks", item_id, owner)

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Rows left ``processing`` without a live lease, or ``pending`` since before."""
        return _interrupted(self._store, "tracks", self._store.tracks, now, pending_before, limit)


@attrs.frozen
class MemoryRepositories(Repositories):
    """The three in-memory repositories over one shared :class:`MemoryStore`."""

    store: MemoryStore = attrs.field(factory=MemoryStore)

    @property
    def reads_in_process(self) -> bool:
        """True: the rows are in this process's memory."""
        return True

    @classmethod
    def create(cls, store: MemoryStore | None = None) -> MemoryRepositories:
        """Fresh, empty repositories (or ones over ``store``)."""
        store = store if store is not None else MemoryStore()
        return cls(
            images=MemoryImageRepository(store),
            music_sets=MemoryMusicSetRepository(store),
            tracks=MemoryTrackRepository(store),
            store=store,
        )
