"""Engines: SQLite and PostgreSQL set-up, and the read and write transactions on them.

See "Engines" in :mod:`mediakit.repositories.sql`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from mediakit.repositories._unavailable import database_unavailable

_SQLITE_BEGIN = "mediakit_sqlite_begin"
_STATEMENT = "STATEMENT"
"""``_SQLITE_BEGIN`` for a read of one statement: no ``BEGIN``, SQLite's own statement
transaction (one ``SELECT`` reads one snapshot by itself)."""


def _locked(conn: Connection) -> Connection:
    """Make ``conn``'s next transaction take the write lock at once (SQLite)."""
    if conn.dialect.name == "sqlite":
        return conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
    return conn


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
        if mode != _STATEMENT:
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@attrs.define
class _Db:
    """An engine plus how to open read and write transactions on it."""

    engine: Engine
    # an in-memory SQLite database is one shared connection: one transaction at a time
    _mutex: contextlib.AbstractContextManager[object] = attrs.field(factory=contextlib.nullcontext)
    _one_statement: Engine = attrs.field(init=False)

    @_one_statement.default
    def _one_statement_engine(self) -> Engine:
        # the same pool; on SQLite its connections issue no BEGIN (see read())
        return self.engine.execution_options(**{_SQLITE_BEGIN: _STATEMENT})

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
        """A connection for a read of **one** statement.

        On SQLite it opens no transaction: the statement is its own (a ``SELECT`` reads
        one consistent snapshot), which saves a ``BEGIN`` and most of a point read's
        cost (issue 15: 137 -> ~70 us for an image by id, the Range proxy's one read).
        Reads of several statements that must agree use :meth:`read_snapshot`.
        """
        with self._translated(), self._mutex, self._one_statement.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[Connection]:
        """A connection whose statements all read one snapshot (a ``BEGIN`` on SQLite)."""
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
