"""Opaque keyset-pagination cursors and the shared rules every repository applies.

Listings are ordered newest first: ``created_at`` descending, ties broken by ``id``
descending. A cursor names the last item of a page, ``(created_at, id)``, so the next
page is "everything strictly after that key" whatever was inserted or deleted in
between (keyset pagination, not offsets: offsets skip or repeat items when rows move).

The cursor is URL-safe base64 (no padding) of ``"<created_at ISO-8601 UTC>|<id>"``.
Clients treat it as opaque; decoding is strict and canonical (``decode(s)`` succeeds
only when ``encode`` of the result gives back ``s``), so a tampered or truncated
cursor is a :class:`~mediakit.errors.BadRequest`, never a silently different page.

Hand-written rather than a library: it is twenty lines, and the strictness (canonical
form, aware UTC datetimes) is the point.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import attrs

from mediakit.errors import BadRequest

__all__ = ["CursorKey", "check_page_size", "decode_cursor", "encode_cursor", "to_utc"]

_SEP = "|"
_BAD = (
    "Invalid pagination cursor: pass back the next_cursor of the previous page unchanged, "
    "or omit it to start from the first page."
)


@attrs.frozen
class CursorKey:
    """The sort key of the last item of a page: ``(created_at, id)``."""

    created_at: datetime
    id: str

    def sort_key(self) -> tuple[datetime, str]:
        """The tuple listings sort by (descending)."""
        return (self.created_at, self.id)


def to_utc(value: object, field: str = "created_at") -> datetime:
    """``value`` converted to UTC; ``ValueError`` for a naive datetime.

    Repositories store and return timezone-aware UTC datetimes only: a naive value
    would be ambiguous and would not compare with the stored ones.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must be a timezone-aware datetime (UTC), got naive {value!r}")
    return value.astimezone(UTC)


def encode_cursor(created_at: datetime, item_id: str) -> str:
    """The opaque cursor naming the item ``(created_at, item_id)``."""
    raw = f"{to_utc(created_at).isoformat(timespec='microseconds')}{_SEP}{item_id}"
    return base64.urlsafe_b64encode(raw.encode("utf-8")).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> CursorKey:
    """The key a cursor names; :class:`BadRequest` if it is not one we issued."""
    if not cursor or len(cursor) > 512 or not cursor.isascii():
        raise BadRequest(_BAD, code="invalid_cursor")
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest(_BAD, code="invalid_cursor") from None
    stamp, sep, item_id = raw.partition(_SEP)
    if not sep or not item_id:
        raise BadRequest(_BAD, code="invalid_cursor")
    try:
        created_at = datetime.fromisoformat(stamp)
        key = CursorKey(to_utc(created_at), item_id)
    except (ValueError, TypeError):
        raise BadRequest(_BAD, code="invalid_cursor") from None
    if encode_cursor(key.created_at, key.id) != cursor:  # only canonical cursors
        raise BadRequest(_BAD, code="invalid_cursor")
    return key


def check_page_size(limit: object) -> int:
    """``limit`` if it is a positive int; :class:`BadRequest` (``invalid_limit``) otherwise.

    The repositories' own rule, applied to every caller of ``list_page``: any positive
    page size is accepted, since a repository used directly (a script, a job) may page
    through thousands at once. The HTTP API's narrower bounds (1 to
    :data:`~mediakit.contract.MAX_LIMIT`, a 422) are the service's
    :func:`mediakit.service._policy.check_listing_limit`, checked before a repository is
    asked; so over HTTP this 400 is reached only by a bug.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise BadRequest(f"limit must be a positive integer, got {limit!r}.", code="invalid_limit")
    return limit


check_limit = check_page_size
"""Former name of :func:`check_page_size`, kept for callers of this private module."""
