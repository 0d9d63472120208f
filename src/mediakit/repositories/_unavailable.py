"""Which database errors mean "busy or unreachable, retry later", shared by every
repository implementation (SQLAlchemy and the Django ORM translate at one point each).

Pure: it looks at the driver error's class name and text only, so it imports neither
SQLAlchemy nor Django. A locked SQLite file, a PostgreSQL server that refuses or drops
connections, a lock or statement timeout: :class:`~mediakit.errors.DatabaseUnavailable`
(503 with ``Retry-After``). Anything else (a missing table, a constraint, a syntax
error) is a bug or a misconfiguration and stays a 500.
"""

from __future__ import annotations

from mediakit.errors import DatabaseUnavailable

__all__ = ["RETRY_AFTER", "database_unavailable"]

RETRY_AFTER = 2
"""Seconds suggested to clients in ``Retry-After``."""

# sqlite3 raises OperationalError for these and for schema errors alike ("no such
# table"): only these texts mean "another process has the database, try again".
_SQLITE_BUSY = (
    "database is locked",
    "database is busy",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
)


def database_unavailable(
    exc: BaseException, *, vendor: str, timeout_s: float | None = None
) -> DatabaseUnavailable | None:
    """The :class:`DatabaseUnavailable` that ``exc`` (a driver's operational error) means,
    or ``None`` when it means something else.

    ``vendor`` is the backend's name (``"sqlite"``, ``"postgresql"``...); ``exc`` is the
    wrapper's error (SQLAlchemy's or Django's ``OperationalError``) or the driver's own.
    """
    text = str(exc).lower()
    if vendor == "sqlite":
        if not any(marker in text for marker in _SQLITE_BUSY):
            return None
        waited = f" after waiting {timeout_s:g} s" if timeout_s else ""
        return DatabaseUnavailable(
            f"The SQLite database is locked by another writer{waited} "
            f"(MEDIAKIT_DATABASE_TIMEOUT_SECONDS); the request changed nothing. "
            f"Driver error: {str(exc)[:300]}",
            retry_after=RETRY_AFTER,
        )
    # PostgreSQL (psycopg) and the rest: an OperationalError is a connection failure, a
    # server shutting down, or a lock/statement timeout, all worth a retry.
    return DatabaseUnavailable(
        f"The {vendor} database is unreachable or busy; the request changed nothing. "
        f"Driver error: {str(exc)[:300]}",
        retry_after=RETRY_AFTER,
    )
