"""The repository protocols over the Django ORM: :class:`DjangoRepositories`.

Behaviour is the one the contract suite checks for every implementation
(:class:`mediakit.repositories.Repositories`), sharing the cursor and field rules with the
SQL repositories (the shared rules exported by :mod:`mediakit.repositories`):

- writes run in ``transaction.atomic``; an update is one ``UPDATE`` of the given
  columns only, so a processing job and an admin edit never overwrite each other;
- ``add_many`` of tracks and ``reorder`` first lock the set's row
  (``select_for_update``: ``FOR UPDATE`` on PostgreSQL; on SQLite use
  ``OPTIONS={"transaction_mode": "IMMEDIATE"}`` so writers queue for the lock);
- listings are keyset-paged newest first; ids compare byte-wise on every backend.

Works under ``USE_TZ = True`` (recommended) and ``False`` (values are then stored as
naive UTC); either way the repositories return aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sqlite3
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import attrs
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import IntegrityError, OperationalError, connections, models, transaction
from django.db.models import Case, Count, F, Max, Q, Value, When

from mediakit.errors import Conflict, NotFound
from mediakit.models import Image, MusicSet, Page, ProcessingStatus, Rendition, Track
from mediakit.repositories import (
    IMAGE_UPDATABLE,
    MUSIC_SET_UPDATABLE,
    TRACK_UPDATABLE,
    Repositories,
    check_page_size,
    check_track_order,
    database_unavailable,
    decode_cursor,
    encode_cursor,
    normalize_changes,
    to_utc,
)
from mediakit_django import _request_thread
from mediakit_django.models import MediaImage, MediaMusicSet, MediaTrack

__all__ = [
    "DjangoImageRepository",
    "DjangoMusicSetRepository",
    "DjangoRepositories",
    "DjangoTrackRepository",
]

_BATCH = 500
_M = TypeVar("_M", bound=models.Model)
_T = TypeVar("_T")


# --------------------------------------------------------------------------- conversions


def _to_db_time(value: object, field: str) -> datetime:
    utc = to_utc(value, field)
    return utc if django_settings.USE_TZ else utc.replace(tzinfo=None)


def _from_db_time(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _renditions_to_db(value: Sequence[Rendition]) -> list[dict[str, Any]]:
    return [attrs.asdict(r) for r in value]


def _renditions_from_db(value: Any) -> tuple[Rendition, ...]:
    return tuple(Rendition(**item) for item in value or ())


def _db_values(changes: Mapping[str, object]) -> dict[str, object]:
    """Normalised domain values (see ``normalize_changes``) as column values."""
    out: dict[str, object] = {}
    for name, value in changes.items():
        if name in ("created_at", "updated_at"):
            value = _to_db_time(value, name)
        elif name in ("thumbnails", "renditions"):
            value = _renditions_to_db(value)  # type: ignore[arg-type]
        elif name == "status":
            value = ProcessingStatus(str(value)).value
        out[name] = value
    return out


def _image(row: MediaImage | SimpleNamespace) -> Image:
    return Image(
        id=row.id,
        original_key=row.original_key,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        created_at=_from_db_time(row.created_at),
        updated_at=_from_db_time(row.updated_at),
        title=row.title,
        description=row.description,
        visible=row.visible,
        owner_id=row.owner_id,
        width=row.width,
        height=row.height,
        status=ProcessingStatus(row.status),
        failure_reason=row.failure_reason,
        thumbnails=_renditions_from_db(row.thumbnails),
    )


def _music_set(row: MediaMusicSet | SimpleNamespace) -> MusicSet:
    return MusicSet(
        id=row.id,
        title=row.title,
        created_at=_from_db_time(row.created_at),
        updated_at=_from_db_time(row.updated_at),
        description=row.description,
        visible=row.visible,
        owner_id=row.owner_id,
    )


def _track(row: MediaTrack | SimpleNamespace) -> Track:
    return Track(
        id=row.id,
        set_id=row.music_set_id,
        original_key=row.original_key,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        created_at=_from_db_time(row.created_at),
        updated_at=_from_db_time(row.updated_at),
        position=row.position,
        title=row.title,
        duration_s=row.duration_s,
        bitrate_kbps=row.bitrate_kbps,
        status=ProcessingStatus(row.status),
        failure_reason=row.failure_reason,
        renditions=_renditions_from_db(row.renditions),
    )


def _row_fields(model: Image | MusicSet | Track) -> dict[str, object]:
    values = attrs.asdict(model, recurse=False)
    return _db_values(values)


# --------------------------------------------------------------------------- lookups by id

_PK_PLACEHOLDER = "\x00mediakit-pk\x00"


def _django_sqlite_cursor() -> type | None:
    """Django's SQLite cursor class (it subclasses the driver's), once its backend is
    loaded: not imported here, its import registers adapters on the ``sqlite3`` module."""
    module = sys.modules.get("django.db.backends.sqlite3.base")
    found: type | None = getattr(module, "SQLiteCursorWrapper", None)
    return found


@attrs.define
class _Statement:
    """A compiled lookup on one connection: its SQL, the compiler (bound to that
    connection: its converters are), the converters and the selected names."""

    sql: str
    compiler: Any
    converters: dict[int, Any]
    names: tuple[str, ...]
    driver_sql: str | None = None
    """On SQLite, the SQL as Django's cursor hands it to the driver (``?`` for ``%s``),
    converted once by that cursor (see :meth:`_PkLookup._direct`)."""


class _PkLookup:
    """``Model.objects.filter(pk=...).values(*names)`` compiled once per connection.

    Why: the Range proxy reads one row by id per request, and building and compiling
    that queryset is most of the cost of the read: about 0.5 ms of CPU per lookup on the
    benchmark machine, where running the compiled statement costs 30-50 us
    (``python -m benchmarks.routes --only seek``). The SQL comes from Django's own
    compiler for the connection's backend, and the row goes through the same database
    converters (dates, JSON, booleans) as the ORM's, so values are those of the queryset;
    queries still go through the connection's cursor (execute wrappers, ``DEBUG``
    logging, when something watches them: see :meth:`get`). A queryset Django compiles
    with parameters other than the id is run as a queryset.
    """

    def __init__(self, model: type[models.Model], names: Sequence[str]) -> None:
        self.model = model
        self.names = tuple(names)
        self._statements: weakref.WeakKeyDictionary[Any, _Statement | None] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _queryset(self, alias: str, pk: object) -> models.QuerySet[Any, dict[str, Any]]:
        return self.model._default_manager.using(alias).filter(pk=pk).values(*self.names)

    def _compile(self, alias: str) -> _Statement | None:
        compiler = self._queryset(alias, _PK_PLACEHOLDER).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if list(params) != [_PK_PLACEHOLDER] or len(compiler.select) != len(self.names):
            return None
        columns = [col for col, _sql, _alias in compiler.select]
        return _Statement(sql, compiler, compiler.get_converters(columns), self.names)

    @staticmethod
    def _direct(conn: Any, statement: _Statement, pk: str) -> Any:
        """Run the lookup on the backend's own cursor, with the checks Django's cursor
        makes first (health, thread, broken transaction) and its error wrapping, but
        without the wrapper object and its execute chain built per query (about 100 us
        of a seek on the benchmark machine).

        On SQLite, Django's cursor rewrites the SQL's ``%s`` into ``?`` with a regular
        expression on every ``execute`` (3-4 % of a seek's CPU on Django): the rewritten SQL
        is kept from the first time, by the cursor's own ``convert_query``, and given to
        the driver's ``execute``."""
        conn.close_if_health_check_failed()
        conn.ensure_connection()
        conn.validate_thread_sharing()
        conn.validate_no_broken_transaction()
        with conn.wrap_database_errors:
            cursor = conn.create_cursor()
            try:
                on_sqlite = type(cursor) is _django_sqlite_cursor()  # (no narrowing of Any)
                if on_sqlite:
                    driver_sql = statement.driver_sql
                    if driver_sql is None:
                        driver_sql = statement.driver_sql = cursor.convert_query(statement.sql)
                    sqlite3.Cursor.execute(cursor, driver_sql, [pk])
                else:
                    cursor.execute(statement.sql, [pk])
                return cursor.fetchone()
            finally:
                cursor.close()

    def get(self, alias: str, pk: str) -> dict[str, Any] | None:
        """The named values of the row with id ``pk``, or ``None``.

        Run on the backend's cursor straight (:meth:`_direct`) unless something watches
        the connection's queries (``DEBUG`` or ``force_debug_cursor`` logging them,
        ``execute_wrapper`` instrumentation): then through Django's cursor, so they see
        it as every other query."""
        conn = connections[alias]
        try:
            statement = self._statements[conn]
        except KeyError:
            statement = self._compile(alias)
            with self._lock:  # the dictionary is shared by every thread's connection
                self._statements[conn] = statement
        if statement is None:
            return self._queryset(alias, pk).first()
        if conn.queries_logged or conn.execute_wrappers:  # watched: through its cursor
            with conn.cursor() as cursor:
                cursor.execute(statement.sql, [pk])
                row = cursor.fetchone()
        else:
            row = self._direct(conn, statement, pk)
        if row is None:
            return None
        if statement.converters:
            (row,) = statement.compiler.apply_converters([row], statement.converters)
        return dict(zip(statement.names, row, strict=True))


def _fields(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


_IMAGE_BY_ID = _PkLookup(MediaImage, _fields(MediaImage))
_SET_BY_ID = _PkLookup(MediaMusicSet, _fields(MediaMusicSet))
_TRACK_BY_ID = _PkLookup(MediaTrack, _fields(MediaTrack))
_TRACK_AND_SET_BY_ID = _PkLookup(MediaTrack, [*_fields(MediaTrack), "music_set__visible"])


# --------------------------------------------------------------------------- shared steps


def _clashes(qs: models.QuerySet[Any], ids: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    dupes: set[str] = set()
    for item in ids:
        if item in seen:
            dupes.add(item)
        seen.add(item)
    unique = sorted(seen)
    found: set[str] = set()
    for i in range(0, len(unique), _BATCH):
        found.update(qs.filter(pk__in=unique[i : i + _BATCH]).values_list("pk", flat=True))
    return sorted(dupes | found)


def _insert(alias: str, model: type[_M], rows: list[_M], what: str) -> None:
    """Insert ``rows`` inside the caller's transaction; ``Conflict`` on a taken id."""
    clash = _clashes(model._default_manager.using(alias), [str(r.pk) for r in rows])
    if clash:
        raise Conflict(f"A {what} with id {', '.join(clash)} already exists.")
    try:
        with transaction.atomic(using=alias):  # a savepoint: the error stays recoverable
            model._default_manager.using(alias).bulk_create(rows, batch_size=_BATCH)
    except IntegrityError:  # a concurrent insert won the race
        raise Conflict(
            f"A {what} with one of these ids was just created by another writer."
        ) from None


def _update(alias: str, model: type[_M], row_id: str, values: dict[str, object], what: str) -> _M:
    qs = model._default_manager.using(alias).filter(pk=row_id)
    with transaction.atomic(using=alias):
        if values and qs.update(**values) == 0:
            raise NotFound(f"No {what} with id {row_id}.")
        row = qs.first()
    if row is None:
        raise NotFound(f"No {what} with id {row_id}.")
    return row


def _list_page(
    alias: str,
    model: type[_M],
    convert: Any,
    visible_only: bool,
    limit: int,
    cursor: str | None,
    ready_only: bool = False,
) -> Page[Any]:
    limit = check_page_size(limit)
    qs = model._default_manager.using(alias).order_by("-created_at", "-id")
    if visible_only:
        qs = qs.filter(visible=True)
    if ready_only:  # in the query, before the slice: a page is full whatever is left out
        qs = qs.filter(status=ProcessingStatus.READY.value)
    if cursor is not None:
        key = decode_cursor(cursor)
        at = _to_db_time(key.created_at, "cursor")
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=key.id))
    rows = list(qs[: limit + 1])
    items = [convert(r) for r in rows[:limit]]
    if len(rows) > limit:
        last = items[-1]
        return Page(items=items, next_cursor=encode_cursor(last.created_at, last.id))
    return Page(items=items, next_cursor=None)


def _iter_keys(alias: str, model: type[models.Model], renditions: str) -> Iterator[str]:
    # id-ordered batches, each its own query: no cursor held open while the caller works
    last: str | None = None
    while True:
        qs = model._default_manager.using(alias).order_by("id")
        if last is not None:
            qs = qs.filter(id__gt=last)
        rows = list(qs.values_list("id", "original_key", renditions)[:_BATCH])
        for _id, original, rends in rows:
            yield original
            for r in rends or ():
                yield r["key"]
        if len(rows) < _BATCH:
            return
        last = rows[-1][0]


_UNFINISHED = (ProcessingStatus.PENDING.value, ProcessingStatus.PROCESSING.value)


def _claim(
    alias: str,
    model: type[_M],
    item_id: str,
    owner: str,
    now: datetime,
    until: datetime,
    unfinished_only: bool,
) -> _M | None:
    """One conditional ``UPDATE`` (the compare-and-set of a lease), then the row."""
    at = _to_db_time(now, "now")
    qs = model._default_manager.using(alias).filter(pk=item_id)
    free = qs.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=at))
    if unfinished_only:
        free = free.filter(status__in=_UNFINISHED)
    with transaction.atomic(using=alias):
        won = free.update(
            status=ProcessingStatus.PROCESSING.value,
            failure_reason=None,
            updated_at=at,
            lease_owner=owner,
            lease_until=_to_db_time(until, "until"),
        )
        return qs.first() if won else None


def _renew(
    alias: str, model: type[models.Model], item_id: str, owner: str, until: datetime
) -> bool:
    qs = model._default_manager.using(alias).filter(pk=item_id, lease_owner=owner)
    return qs.update(lease_until=_to_db_time(until, "until")) > 0


def _release(alias: str, model: type[models.Model], item_id: str, owner: str) -> None:
    qs = model._default_manager.using(alias).filter(pk=item_id, lease_owner=owner)
    qs.update(lease_owner=None, lease_until=None)


def _interrupted(
    alias: str, model: type[models.Model], now: datetime, pending_before: datetime, limit: int
) -> list[str]:
    at = _to_db_time(now, "now")
    qs = (
        model._default_manager.using(alias)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=at))
        .filter(
            Q(status=ProcessingStatus.PROCESSING.value)
            | Q(
                status=ProcessingStatus.PENDING.value,
                updated_at__lt=_to_db_time(pending_before, "pending_before"),
            )
        )
        .order_by("updated_at", "id")
    )
    return [str(pk) for pk in qs.values_list("pk", flat=True)[: check_page_size(limit)]]


def _lock_sets(alias: str, set_ids: Sequence[str]) -> set[str]:
    """The existing ones of ``set_ids``, row-locked (``FOR UPDATE``) where supported."""
    qs = (
        MediaMusicSet.objects.using(alias)
        .select_for_update()
        .filter(pk__in=sorted(set_ids))
        .order_by("id")
    )
    return set(qs.values_list("id", flat=True))


# --------------------------------------------------------------------------- database faults

_F = TypeVar("_F", bound=Callable[..., Any])
_C = TypeVar("_C", bound=type)


def _translated(method: _F) -> _F:
    """``method`` with a busy or unreachable database (Django's ``OperationalError``:
    SQLite "database is locked", PostgreSQL refusing connections) raised as
    ``DatabaseUnavailable`` (503 + Retry-After). ``transaction.atomic`` has rolled the
    write back by the time the error gets here."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OperationalError as exc:
            busy = database_unavailable(exc, vendor=connections[self.alias].vendor)
            if busy is None:
                raise
            raise busy from exc

    return cast(_F, wrapper)


def _translating(cls: _C) -> _C:
    """The one translation point of database faults: every public method of a repository
    class goes through :func:`_translated`."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value) and name != "iter_object_keys":
            setattr(cls, name, _translated(value))
    return cls


# --------------------------------------------------------------------------- repositories


@_translating
@attrs.define
class DjangoImageRepository:
    """:class:`~mediakit.repositories.ImageRepository` over :class:`MediaImage`."""

    alias: str = "default"

    def add_many(self, images: Sequence[Image]) -> None:
        """Insert all images in one transaction (all or none); ``Conflict`` on a duplicate id."""
        rows = [MediaImage(**_row_fields(i)) for i in images]
        if rows:
            with transaction.atomic(using=self.alias):
                _insert(self.alias, MediaImage, rows, "image")

    def get(self, image_id: str) -> Image | None:
        """The image, or ``None``."""
        values = _IMAGE_BY_ID.get(self.alias, image_id)
        return None if values is None else _image(SimpleNamespace(**values))

    def update(self, image_id: str, changes: Mapping[str, object]) -> Image:
        """One ``UPDATE`` of the given columns; ``NotFound`` if absent."""
        values = _db_values(normalize_changes("image", IMAGE_UPDATABLE, changes))
        return _image(_update(self.alias, MediaImage, image_id, values, "image"))

    def delete(self, image_id: str) -> bool:
        """Delete the row; ``False`` if there was none."""
        deleted, _ = MediaImage.objects.using(self.alias).filter(pk=image_id).delete()
        return deleted > 0

    def list(
        self,
        *,
        visible_only: bool,
        limit: int = 50,
        cursor: str | None = None,
        ready_only: bool = False,
    ) -> Page[Image]:
        """Newest first, ties broken by id; ``cursor`` from the previous page."""
        return _list_page(self.alias, MediaImage, _image, visible_only, limit, cursor, ready_only)

    def iter_object_keys(self) -> Iterator[str]:
        """Every original and thumbnail key, read in batches."""
        return _iter_keys(self.alias, MediaImage, "thumbnails")

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
        row = _claim(self.alias, MediaImage, item_id, owner, now, until, unfinished_only)
        return None if row is None else _image(row)

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none."""
        return _renew(self.alias, MediaImage, item_id, owner, until)

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease on the row, if it still holds it."""
        _release(self.alias, MediaImage, item_id, owner)

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Rows left ``processing`` without a live lease, or ``pending`` since before."""
        return _interrupted(self.alias, MediaImage, now, pending_before, limit)


@_translating
@attrs.define
class DjangoMusicSetRepository:
    """:class:`~mediakit.repositories.MusicSetRepository` over :class:`MediaMusicSet`."""

    alias: str = "default"

    def add(self, music_set: MusicSet) -> None:
        """Insert; ``Conflict`` on a duplicate id."""
        with transaction.atomic(using=self.alias):
            _insert(
                self.alias, MediaMusicSet, [MediaMusicSet(**_row_fields(music_set))], "music set"
            )

    def get(self, set_id: str) -> MusicSet | None:
        """The set, or ``None``."""
        values = _SET_BY_ID.get(self.alias, set_id)
        return None if values is None else _music_set(SimpleNamespace(**values))

    def update(self, set_id: str, changes: Mapping[str, object]) -> MusicSet:
        """One ``UPDATE`` of the given columns; ``NotFound`` if absent."""
        values = _db_values(normalize_changes("music set", MUSIC_SET_UPDATABLE, changes))
        return _music_set(_update(self.alias, MediaMusicSet, set_id, values, "music set"))

    def delete(self, set_id: str) -> bool:
        """Delete the set and its tracks, after locking the set against concurrent appends."""
        with transaction.atomic(using=self.alias):
            if not _lock_sets(self.alias, [set_id]):
                return False
            MediaMusicSet.objects.using(self.alias).filter(pk=set_id).delete()
        return True

    def list(
        self, *, visible_only: bool, limit: int = 50, cursor: str | None = None
    ) -> Page[MusicSet]:
        """Newest first, ties broken by id."""
        return _list_page(self.alias, MediaMusicSet, _music_set, visible_only, limit, cursor)


@_translating
@attrs.define
class DjangoTrackRepository:
    """:class:`~mediakit.repositories.TrackRepository` over :class:`MediaTrack`."""

    alias: str = "default"

    def add_many(self, tracks: Sequence[Track]) -> list[Track]:
        """Append the tracks after the last position of their sets, in one transaction.

        The sets are locked first, so concurrent calls queue and positions stay unique
        and contiguous.
        """
        if not tracks:
            return []
        set_ids = sorted({t.set_id for t in tracks})
        with transaction.atomic(using=self.alias):
            missing = sorted(set(set_ids) - _lock_sets(self.alias, set_ids))
            if missing:
                raise NotFound(f"No music set with id {', '.join(missing)}.")
            tops = (
                MediaTrack.objects.using(self.alias)
                .filter(music_set_id__in=set_ids)
                .order_by()
                .values("music_set_id")
                .annotate(top=Max("position"))
            )
            next_pos = {t["music_set_id"]: int(t["top"]) + 1 for t in tops}
            stored: list[Track] = []
            rows: list[MediaTrack] = []
            for track in tracks:
                pos = next_pos.get(track.set_id, 0)
                next_pos[track.set_id] = pos + 1
                placed = attrs.evolve(track, position=pos)
                fields = _row_fields(placed)
                fields["music_set_id"] = fields.pop("set_id")
                rows.append(MediaTrack(**fields))
                stored.append(placed)
            _insert(self.alias, MediaTrack, rows, "track")
        return [
            attrs.evolve(
                t,
                created_at=to_utc(t.created_at),
                updated_at=to_utc(t.updated_at),
                renditions=tuple(t.renditions),
            )
            for t in stored
        ]

    def get(self, track_id: str) -> Track | None:
        """The track, or ``None``."""
        values = _TRACK_BY_ID.get(self.alias, track_id)
        return None if values is None else _track(SimpleNamespace(**values))

    def get_with_set_visibility(self, track_id: str) -> tuple[Track, bool] | None:
        """The track and its set's ``visible``, in one query (a join)."""
        values = _TRACK_AND_SET_BY_ID.get(self.alias, track_id)
        if values is None:
            return None
        return _track(SimpleNamespace(**values)), bool(values["music_set__visible"])

    def update(self, track_id: str, changes: Mapping[str, object]) -> Track:
        """One ``UPDATE`` of the given columns; ``NotFound`` if absent."""
        values = _db_values(normalize_changes("track", TRACK_UPDATABLE, changes))
        return _track(_update(self.alias, MediaTrack, track_id, values, "track"))

    def delete(self, track_id: str) -> bool:
        """Delete the track; the others keep their positions (and so their order)."""
        deleted, _ = MediaTrack.objects.using(self.alias).filter(pk=track_id).delete()
        return deleted > 0

    def list_for_set(self, set_id: str, *, ready_only: bool = False) -> list[Track]:
        """The set's tracks by position (only ``ready`` ones with ``ready_only``)."""
        qs = MediaTrack.objects.using(self.alias).filter(music_set_id=set_id).order_by("position")
        if ready_only:
            qs = qs.filter(status=ProcessingStatus.READY.value)
        return [_track(r) for r in qs]

    def count_for_sets(self, set_ids: Sequence[str], *, ready_only: bool = False) -> dict[str, int]:
        """How many tracks each given set holds (``0`` when none).

        One ``GROUP BY`` query (``values`` + ``Count``) per :data:`_BATCH` distinct ids.
        """
        counts = dict.fromkeys(set_ids, 0)
        ids = list(counts)
        base = MediaTrack.objects.using(self.alias).order_by()
        if ready_only:
            base = base.filter(status=ProcessingStatus.READY.value)
        for i in range(0, len(ids), _BATCH):
            rows = (
                base.filter(music_set_id__in=ids[i : i + _BATCH])
                .values("music_set_id")
                .annotate(n=Count("id"))
                .values_list("music_set_id", "n")
            )
            counts.update((str(sid), int(n)) for sid, n in rows)
        return counts

    def reorder(self, set_id: str, track_ids: Sequence[str]) -> list[Track]:
        """Give the set's tracks positions ``0..n-1`` in the order of ``track_ids``.

        Two statements in one transaction, so ``(set, position)`` stays unique after
        each: every position becomes negative (``-1 - position``), then a ``CASE``
        gives each track its new place.
        """
        with transaction.atomic(using=self.alias):
            if not _lock_sets(self.alias, [set_id]):
                raise NotFound(f"No music set with id {set_id}.")
            qs = MediaTrack.objects.using(self.alias).filter(music_set_id=set_id)
            current = list(qs.values_list("id", flat=True))
            check_track_order(set_id, current, track_ids)
            if current:
                qs.update(position=Value(-1) - F("position"))
                qs.update(
                    position=Case(
                        *(When(id=tid, then=Value(pos)) for pos, tid in enumerate(track_ids)),
                        default=F("position"),
                        output_field=models.IntegerField(),
                    )
                )
            return self.list_for_set(set_id)

    def iter_object_keys(self) -> Iterator[str]:
        """Every original and rendition key, read in batches."""
        return _iter_keys(self.alias, MediaTrack, "renditions")

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
        row = _claim(self.alias, MediaTrack, item_id, owner, now, until, unfinished_only)
        return None if row is None else _track(row)

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool:
        """Move ``owner``'s lease to ``until``; ``False`` if ``owner`` holds none."""
        return _renew(self.alias, MediaTrack, item_id, owner, until)

    def release(self, item_id: str, *, owner: str) -> None:
        """Drop ``owner``'s lease on the row, if it still holds it."""
        _release(self.alias, MediaTrack, item_id, owner)

    def list_interrupted(
        self, *, now: datetime, pending_before: datetime, limit: int = 100
    ) -> Sequence[str]:
        """Rows left ``processing`` without a live lease, or ``pending`` since before."""
        return _interrupted(self.alias, MediaTrack, now, pending_before, limit)


@attrs.frozen(init=False)
class DjangoRepositories(Repositories):
    """The three ORM repositories on one Django database; a :class:`Repositories`.

    ``DjangoRepositories()`` uses the ``default`` database, ``DjangoRepositories("x")``
    another alias of ``settings.DATABASES``. The schema comes from the app's migrations
    (``manage.py migrate``).
    """

    alias: str

    def __init__(self, alias: str = "default") -> None:
        self.__attrs_init__(
            images=DjangoImageRepository(alias),
            music_sets=DjangoMusicSetRepository(alias),
            tracks=DjangoTrackRepository(alias),
            alias=alias,
        )

    async def run_blocking(self, step: Callable[[], _T]) -> _T:
        """Run a database step of the async service in the request's thread.

        asgiref's thread-sensitive mode, as Django's own async ORM calls run: under
        Django's ASGI handler each request has one thread for its synchronous work, and
        Django closes that thread's connections at the end of the request as
        ``CONN_MAX_AGE`` says. (In anyio's worker threads, the default, nothing ever
        closed them: each thread kept a connection until the garbage collector found it.)
        :class:`~mediakit_django.asgi.MediakitASGIHandler` lends each request a
        long-lived thread, so no request starts one, and the step goes to that thread
        straight (``LentThread.hop``): asgiref's ``sync_to_async`` costs about 100 us of
        CPU more per hop (context copies, its thread-sensitive bookkeeping), and a step
        needs none of it (Django's connections are per thread, not per context). While
        the thread is busy, asgiref's way is kept: the busy thread may be the one
        waiting for this step (the request's sync code calling the async service through
        ``async_to_sync``), and asgiref then runs the step on it.
        """
        here = _request_thread.lent.get()
        if here is not None and here.executor.idle and here.loop is asyncio.get_running_loop():
            context = contextvars.copy_context()  # as asgiref hands the caller's context over
            return await here.executor.hop(functools.partial(context.run, step))
        result: _T = await sync_to_async(step, thread_sensitive=True)()
        return result

    def release_thread(self) -> None:
        """Close this thread's connection to the alias, unless a transaction is open.

        Django opens a connection per thread and closes it at the end of a request; a job
        runner's worker thread has no request, so its connection would stay open until
        the thread ended and the garbage collector found it (psycopg warns then)."""
        conn = connections[self.alias]
        if not conn.in_atomic_block:
            conn.close()
