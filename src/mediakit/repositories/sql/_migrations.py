"""Migrations: the ordered schema steps and :func:`migrate`, which applies them once.

See "Migrations" in :mod:`mediakit.repositories.sql`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mediakit.errors import ConfigurationError
from mediakit.repositories.sql._engine import _locked
from mediakit.repositories.sql._tables import (
    _images_table,
    _music_sets_table,
    _music_tracks_table,
    images_table,
    music_tracks_table,
    schema_version_table,
)

_PG_MIGRATION_LOCK = 0x6D6B5F6D6967  # "mk_mig": pg_advisory_xact_lock key for migrate()


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
