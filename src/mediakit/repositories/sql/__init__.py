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
    threads or processes, queue for the write lock instead of failing half way; a read
    of one statement opens no transaction (the statement reads one snapshot by itself).
    PostgreSQL runs at READ COMMITTED; writes that depend on what they read (track
    positions, reordering) first lock the set's row ``FOR UPDATE``. Reads of one row by
    id (the Range proxy makes one per request) run SQLAlchemy's compiled SQL on a pooled
    driver connection, with SQLAlchemy's result processing and error wrapping, unless
    the engine's statements are watched (``echo``, execute event listeners such as
    tracing): then through a ``Connection``, so the listeners see them.

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

from mediakit.repositories.sql._engine import create_engine
from mediakit.repositories.sql._images import SqlImageRepository
from mediakit.repositories.sql._migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    create_schema,
    migrate,
    schema_version,
)
from mediakit.repositories.sql._repositories import SqlRepositories
from mediakit.repositories.sql._sets import SqlMusicSetRepository
from mediakit.repositories.sql._tables import (
    images_table,
    metadata,
    music_sets_table,
    music_tracks_table,
)
from mediakit.repositories.sql._tracks import SqlTrackRepository

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
