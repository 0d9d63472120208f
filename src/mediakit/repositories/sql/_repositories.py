"""The three SQL repositories over one engine."""

from __future__ import annotations

from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mediakit.repositories._protocols import Repositories
from mediakit.repositories.sql._engine import _Db, _is_memory_sqlite, create_engine
from mediakit.repositories.sql._images import SqlImageRepository
from mediakit.repositories.sql._migrations import migrate
from mediakit.repositories.sql._sets import SqlMusicSetRepository
from mediakit.repositories.sql._tracks import SqlTrackRepository


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
        """Create the engine for ``url`` (see :func:`create_engine`) and the repositories.

        Should the migration fail (a database unreachable, or newer than this mediakit),
        the engine is disposed of before the error propagates: no pooled connection stays.
        """
        engine = create_engine(url, **engine_kwargs)
        try:
            return cls.from_engine(engine, migrate_schema=migrate_schema)
        except BaseException:
            engine.dispose()
            raise

    @property
    def reads_in_process(self) -> bool:
        """True on a SQLite file (in-process, WAL: a read never waits for a writer); not
        on an in-memory SQLite database, whose one connection writers hold."""
        return self.engine.dialect.name == "sqlite" and not _is_memory_sqlite(self.engine.url)

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()
