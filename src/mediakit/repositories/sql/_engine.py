"""Engines: SQLite and PostgreSQL set-up, and the read and write transactions on them.

See "Engines" in :mod:`mediakit.repositories.sql`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
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
class _Prepared:
    """A ``SELECT`` compiled once for a dialect, for :meth:`_Db.first`."""

    sql: str
    order: tuple[str, ...] | None
    """The bound parameters' names in order, for a positional paramstyle."""
    direct: bool
    """Whether it can run on the driver as it is (no bound value needs processing)."""
    columns: tuple[Any, ...]
    """The selected columns' types, in order."""
    processors: tuple[Callable[[Any], Any] | None, ...] | None = None
    """Their result processors, from the first answer's column types (as SQLAlchemy
    does: some depend on the type the driver reports)."""

    def process(
        self, dialect: sa.Dialect, row: Sequence[Any], description: Sequence[Any]
    ) -> tuple[Any, ...]:
        processors = self.processors
        if processors is None:
            processors = self.processors = tuple(
                kind.dialect_impl(dialect).result_processor(dialect, column[1])
                for kind, column in zip(self.columns, description, strict=True)
            )
        return tuple(
            value if process is None else process(value)
            for process, value in zip(processors, row, strict=True)
        )

    @classmethod
    def of(cls, stmt: sa.Select[Any], dialect: sa.Dialect) -> _Prepared:
        compiled = stmt.compile(dialect=dialect)
        direct = all(
            bind.type.dialect_impl(dialect).bind_processor(dialect) is None
            for bind in compiled.binds.values()
        ) and not any(bind.expanding for bind in compiled.binds.values())
        order = (
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        )
        columns = tuple(column.type for column in stmt.selected_columns)
        return cls(compiled.string, order, direct, columns)


@attrs.define
class _Db:
    """An engine plus how to open read and write transactions on it."""

    engine: Engine
    # an in-memory SQLite database is one shared connection: one transaction at a time
    _mutex: contextlib.AbstractContextManager[object] = attrs.field(factory=contextlib.nullcontext)
    _one_statement: Engine = attrs.field(init=False)
    _prepared: dict[sa.Select[Any], _Prepared] = attrs.field(init=False, factory=dict)

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
        cost (issue 15: 137 -> 119 us for an image by id). Reads of several statements
        that must agree use :meth:`read_snapshot`; the first row of a hot statement,
        :meth:`first`.
        """
        with self._translated(), self._mutex, self._one_statement.connect() as conn:
            yield conn

    def first(self, stmt: sa.Select[Any], params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of the one-statement read ``stmt``, or ``None``: what
        ``conn.execute(stmt, params).first()`` returns, values included.

        Why not through a ``Connection``: the Range proxy reads one row by id per request,
        and SQLAlchemy's connection, transaction and event machinery around it cost
        several times the query (an image by id: 119 us, against 48 us here). The
        SQL is SQLAlchemy's, compiled once for the engine's dialect; the values go through
        the same result processors (dates, enums, JSON); the connection comes from the
        engine's pool and goes back to it (which rolls back whatever the driver began);
        driver errors are wrapped as SQLAlchemy wraps them, so a busy or unreachable
        database is ``DatabaseUnavailable`` as on every other path. A statement with
        bound values SQLAlchemy would process first, or an engine whose statements are
        watched (:meth:`_observed`), runs through a ``Connection``.
        """
        prepared = self._prepared.get(stmt)
        if prepared is None:
            prepared = self._prepared[stmt] = _Prepared.of(stmt, self.engine.dialect)
        if not prepared.direct or self._observed():
            with self.read() as conn:
                row = conn.execute(stmt, params).first()
            return None if row is None else tuple(row)
        args = (
            tuple(params[name] for name in prepared.order) if prepared.order is not None else params
        )
        with self._translated(), self._mutex:
            found, description = self._run_first(prepared.sql, args)
        if found is None:
            return None
        return prepared.process(self.engine.dialect, found, description)

    def _observed(self) -> bool:
        """Whether something watches this engine's statements (``echo``, tracing such as
        OpenTelemetry's, the app's own listeners): then :meth:`first` runs through a
        ``Connection``, so that they see it as every other statement."""
        d = self.engine.dispatch
        return bool(
            self.engine.echo
            or d.before_execute
            or d.after_execute
            or d.before_cursor_execute
            or d.after_cursor_execute
            or self.engine.dialect.dispatch.handle_error
        )

    def _run_first(self, sql: str, args: Any) -> tuple[Sequence[Any] | None, Sequence[Any]]:
        dialect = self.engine.dialect
        error: type[Exception] = dialect.loaded_dbapi.Error
        try:
            conn = self.engine.raw_connection()
        except error as exc:  # connecting: wrapped as Engine.connect() wraps it
            raise sa.exc.DBAPIError.instance(None, None, exc, error, dialect=dialect) from exc
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, args)
                row: Sequence[Any] | None = cursor.fetchone()
                description: Sequence[Any] = cursor.description
            finally:
                cursor.close()
        except error as exc:
            dbapi_error: Any = exc  # the driver's own Error class
            if dialect.is_disconnect(dbapi_error, conn.dbapi_connection, None):
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(sql, args, exc, error, dialect=dialect) from exc
        finally:
            conn.close()  # back to the pool
        return row, description

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
