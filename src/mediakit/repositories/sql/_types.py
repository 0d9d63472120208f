"""Column types: UTC datetimes, renditions as JSON text, the processing status, ids."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from mediakit.models import ProcessingStatus, Rendition
from mediakit.repositories._cursor import to_utc


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
