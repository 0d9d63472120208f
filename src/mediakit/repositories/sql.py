"""SQL repositories on SQLAlchemy Core: SQLite (the embedded default) and PostgreSQL.

Start-up::

    repos = SqlRepositories.from_url("sqlite:///mediakit-data/mediakit.db")
    # or "postgresql+psycopg://user:pass@host/db" (pip install 'mediakit[sql]')
    repos.images.add_many([image])
    ...
    repos.close()

:meth:`SqlRepositories.from_url` creates the engine (and the parent directory of a
SQLite file), brings the schema up to date with :func:`migrate`, and returns the
three repositories sharing that engine.

Engines
    SQLite connections run with ``journal_mode=WAL`` (readers never block the writer),
    ``foreign_keys=ON`` (a set's tracks go with it) and a ``busy_timeout``; every
    write transaction starts with ``BEGIN IMMEDIATE``, so concurrent writers, in
    threads or processes, queue for the write lock instead of failing half way.
    PostgreSQL runs at READ COMMITTED; writes that depend on what they read (track
    positions, reordering) first lock the set's row ``FOR UPDATE``.

Tables
    ``images``, ``music_sets`` and ``music_tracks`` (``set_id`` references
    ``music_sets`` ``ON DELETE CASCADE``; ``(set_id, position)`` is unique). Column
    names are the model's field names. Renditions and thumbnails are JSON text;
    datetimes are stored in UTC and always come back timezone-aware; ids compare
    byte-wise (``COLLATE "C"`` on PostgreSQL) so every backend pages in the same order.

Migrations
    The table ``mediakit_schema_version`` records every step applied (version,
    description, time). :data:`MIGRATIONS` is the ordered list of steps in code;
    :func:`migrate` applies the ones a database has not seen yet, each recorded in the
    same transaction as its DDL, under a lock (``BEGIN IMMEDIATE`` on SQLite, a
    transaction-level advisory lock on PostgreSQL) so that several processes starting
    together apply each step exactly once. Running it again is a no-op, which is why
    :meth:`SqlRepositories.from_url` runs it at every start-up. To change the schema,
    append a ``Migration(version=N + 1, ...)`` whose ``apply`` issues the DDL (and data
    fixes) from version ``N``, and update the table definitions below to match; never
    edit a step that has shipped. A database newer than this code is refused with a
    clear error rather than used.

Pagination is keyset (``created_at`` desc, ``id`` desc) with the opaque cursors of
:mod:`mediakit.repositories._cursor`; the contract is in
:mod:`mediakit.repositories._protocols`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from mediakit.errors import ConfigurationError, Conflict, NotFound
from mediakit.models import Image, MusicSet, Page, ProcessingStatus, Rendition, Track
from mediakit.repositories._cursor import check_page_size, decode_cursor, encode_cursor, to_utc
from mediakit.repositories._fields import (
    IMAGE_UPDATABLE,
    MUSIC_SET_UPDATABLE,
    TRACK_UPDATABLE,
    check_track_order,
    normalize_changes,
)
from mediakit.repositories._protocols import Repositories
from mediakit.repositories._unavailable import database_unavailable

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "SqlImageRepository",
    "SqlMusicSetRepository",
    "SqlRepositories",
    "SqlTrackRepository",
    "create_engine",
    "create_schema",
    "images_table",
    "metadata",
    "migrate",
    "music_sets_table",
    "music_tracks_table",
    "schema_version",
]

_M = TypeVar("_M", Image, MusicSet, Track)
_Item = TypeVar("_Item", Image, Track)
_LEASE_COLUMNS = frozenset({"lease_owner", "lease_until"})
_BATCH = 500
_SQLITE_BEGIN = "mediakit_sqlite_begin"
_PG_MIGRATION_LOCK = 0x6D6B5F6D6967  # "mk_mig": pg_advisory_xact_lock key for migrate()


# --------------------------------------------------------------------------- column types


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes stored in UTC; naive ones are refused, results are aware UTC.

    SQLite has no time zones: values are stored as naive UTC text of fixed width, so
    text order is time order and keyset comparisons work.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """To UTC (naive for SQLite)."""
        if value is None:
            return None
        utc = to_utc(value, "datetime")
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Back to an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, parse the stored text straight to an aware datetime.

        Why: SQLAlchemy's SQLite processor gives a naive datetime, and making it aware
        with ``replace(tzinfo=...)`` costs several times the parse itself (about 2 µs
        on CPython 3.11), paid twice per row of every listing. ``fromisoformat`` on the
        text plus ``+00:00`` does both at once for the form SQLAlchemy writes; any
        other text goes the general way.
        """
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        fromisoformat = datetime.fromisoformat

        def process(value: Any) -> Any:
            # only the form SQLAlchemy writes ("2026-01-02 03:04:05.000007"): on other
            # forms fromisoformat and SQLAlchemy disagree ("2026-01-02+00:00" is naive)
            if value.__class__ is str and len(value) == 26 and value[10] == " ":
                try:
                    return fromisoformat(value + "+00:00")
                except ValueError:
                    pass
            return general(value)

        return process


class RenditionsJSON(sa.types.TypeDecorator[tuple[Rendition, ...]]):
    """A tuple of :class:`Rendition` stored as JSON text."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[Rendition] | None, dialect: Dialect) -> str | None:
        """Rendition objects to a JSON array of objects."""
        if value is None:
            return None
        return json.dumps([attrs.asdict(r) for r in value], separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[Rendition, ...]:
        """A JSON array back to Rendition objects."""
        if not value:
            return ()
        return _decode_renditions(value)


@functools.lru_cache(maxsize=4096)
def _decode_renditions(text: str) -> tuple[Rendition, ...]:
    """Renditions from their JSON text, remembered by that text.

    Why a cache: decoding is most of the cost of reading a row (about 10 µs for three
    thumbnails, against well under 1 µs for every other column together), and listings
    read the same rows again and again. The result is a pure function of the text and
    immutable (a tuple of frozen values), so sharing it is safe.
    """
    return tuple(Rendition(**item) for item in json.loads(text))


class StatusType(sa.types.TypeDecorator[ProcessingStatus]):
    """:class:`ProcessingStatus` stored as its string value."""

    impl = sa.String(16)
    cache_ok = True

    def process_bind_param(self, value: ProcessingStatus | None, dialect: Dialect) -> str | None:
        """The enum's value."""
        return None if value is None else ProcessingStatus(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> ProcessingStatus | None:
        """The enum member (a dict lookup: calling the enum class costs ~20x more)."""
        if value is None:
            return None
        return _STATUS_BY_VALUE.get(value) or ProcessingStatus(value)


_STATUS_BY_VALUE: dict[str, ProcessingStatus] = {s.value: s for s in ProcessingStatus}


def _id_type() -> sa.types.TypeEngine[str]:
    # byte-wise order everywhere (SQLite's default BINARY collation; "C" on PostgreSQL),
    # the same order Python's str comparison gives, so pages agree across backends.
    return sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql")


# --------------------------------------------------------------------------- tables

metadata = sa.MetaData()
"""The current schema (the state :data:`MIGRATIONS` leads to)."""


def _lease_columns(version: int) -> list[sa.Column[Any]]:
    """The processing lease (schema version 2): who holds a row's job, and until when."""
    if version < 2:
        return []
    return [
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
    ]


def _images_table(meta: sa.MetaData, version: int) -> sa.Table:
    return sa.Table(
        "images",
        meta,
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("original_key", sa.String(1024), nullable=False),
        sa.Column("filename", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("visible", sa.Boolean, nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("status", StatusType, nullable=False),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("thumbnails", RenditionsJSON, nullable=False),
        *_lease_columns(version),
        sa.Index("ix_images_created_id", "created_at", "id"),
        sa.Index("ix_images_visible_created_id", "visible", "created_at", "id"),
        *([sa.Index("ix_images_status_updated", "status", "updated_at")] if version >= 2 else []),
    )


def _music_sets_table(meta: sa.MetaData, version: int) -> sa.Table:
    return sa.Table(
        "music_sets",
        meta,
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("visible", sa.Boolean, nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Index("ix_music_sets_created_id", "created_at", "id"),
        sa.Index("ix_music_sets_visible_created_id", "visible", "created_at", "id"),
    )


def _music_tracks_table(meta: sa.MetaData, version: int) -> sa.Table:
    return sa.Table(
        "music_tracks",
        meta,
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column(
            "set_id",
            _id_type(),
            sa.ForeignKey("music_sets.id", ondelete="CASCADE", name="fk_music_tracks_set"),
            nullable=False,
        ),
        sa.Column("original_key", sa.String(1024), nullable=False),
        sa.Column("filename", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("bitrate_kbps", sa.Integer, nullable=True),
        sa.Column("status", StatusType, nullable=False),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("renditions", RenditionsJSON, nullable=False),
        *_lease_columns(version),
        sa.UniqueConstraint("set_id", "position", name="uq_music_tracks_set_position"),
        *(
            [sa.Index("ix_music_tracks_status_updated", "status", "updated_at")]
            if version >= 2
            else []
        ),
    )


_LATEST = 2
images_table = _images_table(metadata, _LATEST)
"""Table ``images``: one row per :class:`~mediakit.models.Image` (plus its lease)."""
music_sets_table = _music_sets_table(metadata, _LATEST)
"""Table ``music_sets``: one row per :class:`~mediakit.models.MusicSet`."""
music_tracks_table = _music_tracks_table(metadata, _LATEST)
"""Table ``music_tracks``: one row per :class:`~mediakit.models.Track` (plus its lease)."""

_version_metadata = sa.MetaData()
schema_version_table = sa.Table(
    "mediakit_schema_version",
    _version_metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)


# --------------------------------------------------------------------------- migrations


@attrs.frozen
class Migration:
    """One schema step: ``apply`` moves a database from ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    # the tables as version 1 shipped them (later steps add to them)
    v1 = sa.MetaData()
    tables = [_images_table(v1, 1), _music_sets_table(v1, 1), _music_tracks_table(v1, 1)]
    v1.create_all(conn, tables=tables, checkfirst=False)


def _v2_leases(conn: Connection) -> None:
    # ALTER TABLE ... ADD COLUMN of nullable columns: instant on SQLite and PostgreSQL
    for table in (images_table, music_tracks_table):
        for name in ("lease_owner", "lease_until"):
            column = table.c[name]
            ddl_type = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {ddl_type}")
        for index in table.indexes:
            if index.name and index.name.endswith("_status_updated"):
                index.create(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "images, music_sets and music_tracks", _v1_initial),
    Migration(2, "processing leases (lease_owner, lease_until) and status indexes", _v2_leases),
)
"""Every schema step, in order. Append only; never edit a step that has shipped."""

SCHEMA_VERSION: int = MIGRATIONS[-1].version
"""The version :func:`migrate` brings a database to."""


def _locked(conn: Connection) -> Connection:
    """Make ``conn``'s next transaction take the write lock at once (SQLite)."""
    if conn.dialect.name == "sqlite":
        return conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
    return conn


def schema_version(engine: Engine) -> int:
    """The last migration applied to the database (0 for a database never migrated)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(schema_version_table.name):
            return 0
        found = conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar()
        return int(found or 0)


def migrate(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the steps of ``migrations`` the database lacks; return its version.

    Idempotent and safe to run from several processes at once (see the module
    docstring). :class:`~mediakit.errors.ConfigurationError` if the database was
    migrated by a newer mediakit.
    """
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3... in order, got {versions}")
    latest = versions[-1] if versions else 0
    with engine.connect() as conn, _locked(conn).begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        schema_version_table.create(conn, checkfirst=True)
        current = int(
            conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar() or 0
        )
        if current > latest:
            raise ConfigurationError(
                "MEDIAKIT_DATABASE_URL",
                f"the database schema is at version {current}, newer than this mediakit "
                f"knows ({latest}); upgrade mediakit or point it at another database.",
            )
        for step in migrations[current:]:
            step.apply(conn)
            conn.execute(
                schema_version_table.insert().values(
                    version=step.version,
                    description=step.description,
                    applied_at=datetime.now(UTC),
                )
            )
    return latest


def create_schema(engine: Engine) -> int:
    """Create (or bring up to date) the schema: the same as :func:`migrate`."""
    return migrate(engine)


# --------------------------------------------------------------------------- engines


def _is_memory_sqlite(url: sa.URL) -> bool:
    db = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        db in {"", ":memory:"}
        or db.startswith("file::memory:")
        or url.query.get("mode") == "memory"
    )


def create_engine(url: str | sa.URL, *, busy_timeout_s: float = 5.0, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine for ``url``, configured as the module docstring describes.

    ``busy_timeout_s`` (``MEDIAKIT_DATABASE_TIMEOUT_SECONDS``) bounds how long a request
    waits for the database: SQLite's busy timeout, PostgreSQL's connect timeout and the
    wait for a pooled connection. For a SQLite file, its parent directory is created. An
    in-memory SQLite database (``sqlite://``) lives in one shared connection; use it for
    tests. Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    u = sa.make_url(url)
    if u.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_timeout", busy_timeout_s)
        if u.get_backend_name() == "postgresql":
            connect_args = dict(kwargs.pop("connect_args", {}))
            connect_args.setdefault("connect_timeout", max(1, round(busy_timeout_s)))
            kwargs["connect_args"] = connect_args
        return sa.create_engine(u, **kwargs)
    memory = _is_memory_sqlite(u)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", busy_timeout_s)
    connect_args.setdefault("check_same_thread", False)
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
    elif u.database:
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(u, connect_args=connect_args, **kwargs)
    busy_ms = int(busy_timeout_s * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (which would BEGIN
        # lazily and DEFERRED); the "begin" hook below issues our own BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cur.execute("PRAGMA foreign_keys = ON")
            if not memory:
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@attrs.define
class _Db:
    """An engine plus how to open read and write transactions on it."""

    engine: Engine
    # an in-memory SQLite database is one shared connection: one transaction at a time
    _mutex: contextlib.AbstractContextManager[object] = attrs.field(factory=contextlib.nullcontext)

    @classmethod
    def of(cls, engine: Engine) -> _Db:
        if _is_memory_sqlite(engine.url):
            return cls(engine, threading.RLock())
        return cls(engine)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self._mutex, self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with self._translated(), self._mutex, self.engine.connect() as conn, _locked(conn).begin():
            yield conn

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """The one translation point of database faults: a busy or unreachable database
        (after the transaction was rolled back) becomes ``DatabaseUnavailable`` (503)."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.TimeoutError) as exc:
            busy = database_unavailable(exc, vendor=self.engine.dialect.name)
            if busy is None:
                raise
            raise busy from exc


# --------------------------------------------------------------------------- helpers


def _row_values(model: Image | MusicSet | Track) -> dict[str, object]:
    values = attrs.asdict(model, recurse=False)
    values["created_at"] = to_utc(values["created_at"], "created_at")
    values["updated_at"] = to_utc(values["updated_at"], "updated_at")
    return values


def _model_columns(table: sa.Table, cls: type[_M]) -> tuple[sa.Column[Any], ...]:
    """``table``'s columns in the order of ``cls``'s fields, so ``cls(*row)`` builds a model.

    Why positional: ``cls(**row._mapping)`` spent more time building the mapping and
    matching keywords than everything else in reading a row.
    """
    names = [f.name for f in attrs.fields(cls)]
    if sorted(names) != sorted(c.name for c in table.columns if c.name not in _LEASE_COLUMNS):
        raise AssertionError(f"table {table.name} does not match the fields of {cls.__name__}")
    return tuple(table.c[name] for name in names)


_COLUMNS: dict[sa.Table, tuple[sa.Column[Any], ...]] = {
    images_table: _model_columns(images_table, Image),
    music_sets_table: _model_columns(music_sets_table, MusicSet),
    music_tracks_table: _model_columns(music_tracks_table, Track),
}


def _select(table: sa.Table) -> sa.Select[Any]:
    """``SELECT`` every column of ``table``, in its model's field order (see :func:`_to_model`)."""
    return sa.select(*_COLUMNS[table])


def _to_model(cls: type[_M], row: sa.Row[Any]) -> _M:
    """The model of a row read with :func:`_select` (or ``RETURNING`` the same columns)."""
    build: Callable[..., _M] = cls  # positional: the columns come in field order
    return build(*row)


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
def _page_query(
    table: sa.Table, visible_only: bool, after_cursor: bool, ready_only: bool = False
) -> sa.Select[Any]:
    """The listing statement, built once: the limit and the cursor key are bound
    parameters, so a request neither rebuilds the statement nor its cache key."""
    c = table.c
    q = _select(table).order_by(c.created_at.desc(), c.id.desc()).limit(sa.bindparam("mk_limit"))
    if visible_only:
        q = q.where(c.visible.is_(True))
    if ready_only:  # in the query, before LIMIT: a page is full whatever is filtered out
        q = q.where(c.status == ProcessingStatus.READY)
    if after_cursor:
        at = sa.bindparam("mk_created_at", type_=c.created_at.type)
        q = q.where(
            sa.or_(c.created_at < at, sa.and_(c.created_at == at, c.id < sa.bindparam("mk_id")))
        )
    return q


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


def _list_page(
    db: _Db,
    table: sa.Table,
    cls: type[_M],
    visible_only: bool,
    limit: int,
    cursor: str | None,
    ready_only: bool = False,
) -> Page[_M]:
    limit = check_page_size(limit)
    params: dict[str, object] = {"mk_limit": limit + 1}
    if cursor is not None:
        key = decode_cursor(cursor)
        params.update(mk_created_at=key.created_at, mk_id=key.id)
    q = _page_query(table, visible_only, cursor is not None, ready_only)
    with db.read() as conn:
        rows = conn.execute(q, params).all()
    items = [_to_model(cls, r) for r in rows[:limit]]
    if len(rows) > limit:
        last = items[-1]
        return Page(items=items, next_cursor=encode_cursor(last.created_at, last.id))
    return Page(items=items, next_cursor=None)


def _existing_ids(conn: Connection, table: sa.Table, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), _BATCH):
        chunk = ids[i : i + _BATCH]
        found.update(conn.execute(sa.select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    return found


def _clashes(conn: Connection, table: sa.Table, ids: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    dupes = set()
    for i in ids:
        if i in seen:
            dupes.add(i)
        seen.add(i)
    return sorted(dupes | _existing_ids(conn, table, list(seen)))


def _insert(conn: Connection, table: sa.Table, rows: list[dict[str, object]], what: str) -> None:
    clash = _clashes(conn, table, [str(r["id"]) for r in rows])
    if clash:
        raise Conflict(f"A {what} with id {', '.join(clash)} already exists.")
    try:
        conn.execute(table.insert(), rows)
    except IntegrityError:  # a concurrent insert won the race
        raise Conflict(
            f"A {what} with one of these ids was just created by another writer."
        ) from None


def _update(
    db: _Db, table: sa.Table, cls: type[_M], row_id: str, values: dict[str, object], what: str
) -> _M:
    with db.write() as conn:
        if values:
            stmt = (
                table.update()
                .where(table.c.id == row_id)
                .values(**values)
                .returning(*_COLUMNS[table])
            )
            row = conn.execute(stmt).first()
        else:
            row = conn.execute(_select(table).where(table.c.id == row_id)).first()
        if row is None:
            raise NotFound(f"No {what} with id {row_id}.")
        return _to_model(cls, row)


def _get(db: _Db, table: sa.Table, cls: type[_M], row_id: str) -> _M | None:
    with db.read() as conn:
        row = conn.execute(_select(table).where(table.c.id == row_id)).first()
    return None if row is None else _to_model(cls, row)


def _delete(db: _Db, table: sa.Table, row_id: str) -> bool:
    with db.write() as conn:
        return conn.execute(table.delete().where(table.c.id == row_id)).rowcount > 0


def _iter_keys(db: _Db, table: sa.Table, renditions: sa.Column[Any]) -> Iterator[str]:
    # id-ordered batches, each read in its own short transaction: never holds a
    # connection (or a SQLite read snapshot) open while the caller works.
    last: str | None = None
    while True:
        q = sa.select(table.c.id, table.c.original_key, renditions).order_by(table.c.id)
        if last is not None:
            q = q.where(table.c.id > last)
        with db.read() as conn:
            rows = conn.execute(q.limit(_BATCH)).all()
        for row in rows:
            yield row[1]
            for r in row[2]:
                yield r.key
        if len(rows) < _BATCH:
            return
        last = rows[-1][0]


_UNFINISHED = (ProcessingStatus.PENDING, ProcessingStatus.PROCESSING)


def _claim(
    db: _Db,
    table: sa.Table,
    cls: type[_Item],
    item_id: str,
    owner: str,
    now: datetime,
    until: datetime,
    unfinished_only: bool,
) -> _Item | None:
    """One conditional ``UPDATE ... RETURNING``: the compare-and-set of a lease.

    PostgreSQL re-checks the ``WHERE`` of a row another transaction just changed
    (READ COMMITTED), SQLite runs one writer at a time: either way of several
    concurrent claims exactly one matches.
    """
    c = table.c
    now = to_utc(now, "now")
    conditions = [c.id == item_id, sa.or_(c.lease_until.is_(None), c.lease_until <= now)]
    if unfinished_only:
        conditions.append(c.status.in_(_UNFINISHED))
    stmt = (
        table.update()
        .where(*conditions)
        .values(
            status=ProcessingStatus.PROCESSING,
            failure_reason=None,
            updated_at=now,
            lease_owner=owner,
            lease_until=to_utc(until, "until"),
        )
        .returning(*_COLUMNS[table])
    )
    with db.write() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else _to_model(cls, row)


def _renew(db: _Db, table: sa.Table, item_id: str, owner: str, until: datetime) -> bool:
    c = table.c
    stmt = (
        table.update()
        .where(c.id == item_id, c.lease_owner == owner)
        .values(lease_until=to_utc(until, "until"))
    )
    with db.write() as conn:
        return conn.execute(stmt).rowcount > 0


def _release(db: _Db, table: sa.Table, item_id: str, owner: str) -> None:
    c = table.c
    stmt = (
        table.update()
        .where(c.id == item_id, c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
    with db.write() as conn:
        conn.execute(stmt)


def _interrupted(
    db: _Db, table: sa.Table, now: datetime, pending_before: datetime, limit: int
) -> list[str]:
    c = table.c
    now = to_utc(now, "now")
    q = (
        sa.select(c.id)
        .where(
            sa.or_(c.lease_until.is_(None), c.lease_until <= now),
            sa.or_(
                c.status == ProcessingStatus.PROCESSING,
                sa.and_(
                    c.status == ProcessingStatus.PENDING,
                    c.updated_at < to_utc(pending_before, "pending_before"),
                ),
            ),
        )
        .order_by(c.updated_at, c.id)
        .limit(check_page_size(limit))
    )
    with db.read() as conn:
        return list(conn.execute(q).scalars())


def _lock_sets(db: _Db, conn: Connection, set_ids: Sequence[str]) -> set[str]:
    """The existing ones of ``set_ids``, row-locked on PostgreSQL (SQLite: BEGIN IMMEDIATE)."""
    t = music_sets_table
    q = sa.select(t.c.id).where(t.c.id.in_(sorted(set_ids))).order_by(t.c.id)
    if db.is_postgres:
        q = q.with_for_update()
    return set(conn.execute(q).scalars())


# --------------------------------------------------------------------------- repositories


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
        with self._db.read() as conn:
            row = conn.execute(_track_with_visibility(), {"track_id": track_id}).first()
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
        with self._db.read() as conn:
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


@attrs.frozen
class SqlRepositories(Repositories):
    """The three SQL repositories over one engine; a :class:`Repositories`."""

    engine: Engine

    @classmethod
    def from_engine(cls, engine: Engine, *, migrate_schema: bool = True) -> SqlRepositories:
        """Repositories over ``engine`` (made by :func:`create_engine`), migrating it first."""
        if migrate_schema:
            migrate(engine)
        db = _Db.of(engine)
        return cls(
            images=SqlImageRepository(db),
            music_sets=SqlMusicSetRepository(db),
            tracks=SqlTrackRepository(db),
            engine=engine,
        )

    @classmethod
    def from_url(
        cls, url: str | sa.URL, *, migrate_schema: bool = True, **engine_kwargs: Any
    ) -> SqlRepositories:
        """Create the engine for ``url`` (see :func:`create_engine`) and the repositories."""
        return cls.from_engine(create_engine(url, **engine_kwargs), migrate_schema=migrate_schema)

    @property
    def reads_in_process(self) -> bool:
        """True on a SQLite file (in-process, WAL: a read never waits for a writer); not
        on an in-memory SQLite database, whose one connection writers hold."""
        return self.engine.dialect.name == "sqlite" and not _is_memory_sqlite(self.engine.url)

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()
