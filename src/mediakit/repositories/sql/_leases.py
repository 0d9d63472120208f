"""Processing leases: claim, renew and release a row's job; rows whose job was interrupted."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa

from mediakit.models import Image, ProcessingStatus, Track
from mediakit.repositories._cursor import check_page_size, to_utc
from mediakit.repositories.sql._engine import _Db
from mediakit.repositories.sql._queries import _COLUMNS, _to_model

_Item = TypeVar("_Item", Image, Track)


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
