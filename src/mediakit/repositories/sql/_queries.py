"""Rows to models and back, and the statements every repository shares (pages, inserts, updates)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from mediakit.errors import Conflict, NotFound
from mediakit.models import Image, MusicSet, Page, ProcessingStatus, Track
from mediakit.repositories._cursor import check_page_size, decode_cursor, encode_cursor, to_utc
from mediakit.repositories.sql._engine import _Db
from mediakit.repositories.sql._tables import images_table, music_sets_table, music_tracks_table

_M = TypeVar("_M", Image, MusicSet, Track)


_LEASE_COLUMNS = frozenset({"lease_owner", "lease_until"})


_BATCH = 500


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


def _to_model(cls: type[_M], row: sa.Row[Any] | tuple[Any, ...]) -> _M:
    """The model of a row read with :func:`_select` (or ``RETURNING`` the same columns)."""
    build: Callable[..., _M] = cls  # positional: the columns come in field order
    return build(*row)


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


# One ``SELECT ... WHERE id = :row_id`` per table, built once: a read by id (every proxied
# request makes one) then skips building the statement and its cache key, about a quarter
# of the read's CPU; SQLAlchemy memoizes a statement object's cache key.
_BY_ID: dict[sa.Table, sa.Select[Any]] = {
    table: _select(table).where(table.c.id == sa.bindparam("row_id")) for table in _COLUMNS
}


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
            row = conn.execute(_BY_ID[table], {"row_id": row_id}).first()
        if row is None:
            raise NotFound(f"No {what} with id {row_id}.")
        return _to_model(cls, row)


def _get(db: _Db, table: sa.Table, cls: type[_M], row_id: str) -> _M | None:
    row = db.first(_BY_ID[table], {"row_id": row_id})
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
