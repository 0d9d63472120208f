"""Conditional requests per RFC 9110 §13: entity tags, HTTP dates and precondition order.

Pure: no I/O, no clock. Malformed validators are ignored, as if the header were absent
(RFC 9110 §13.1.3/§13.1.4 for dates; the same rule is applied to malformed entity-tag
lists, so a broken client gets the full response rather than an error).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import attrs

from mediakit.errors import BadRequest

__all__ = [
    "ETag",
    "ETagList",
    "Precondition",
    "evaluate_preconditions",
    "format_http_date",
    "if_range_matches",
    "parse_http_date",
]

_OWS = " \t"
# etagc = %x21 / %x23-7E / obs-text (a str decoded as latin-1 carries obs-text as \x80-\xff)
_ETAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_SAFE_OPAQUE = re.compile(r"[^\x21\x23-\x7e]")


def _bad(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_header")


@attrs.frozen
class ETag:
    """An entity tag: the opaque text between the quotes, and whether it is weak."""

    opaque: str
    weak: bool = False

    @classmethod
    def from_header(cls, value: str) -> ETag:
        """Parse one entity-tag (``"abc"`` or ``W/"abc"``); raises BadRequest if malformed."""
        match = _ETAG.fullmatch(value.strip(_OWS))
        if match is None:
            raise _bad(f"{value[:60]!r} is not an entity tag.")
        return cls(match[2], weak=match[1] is not None)

    @classmethod
    def from_store(cls, value: str) -> ETag:
        """The strong ETag of a stored object, tolerating a store that forgot the quotes."""
        try:
            tag = cls.from_header(value)
        except BadRequest:
            return cls(_SAFE_OPAQUE.sub("", value))
        return tag

    def to_header(self) -> str:
        """``"abc"`` or ``W/"abc"``."""
        return f'{"W/" if self.weak else ""}"{self.opaque}"'

    def strong_match(self, other: ETag) -> bool:
        """Strong comparison: both strong and the same opaque tag."""
        return not self.weak and not other.weak and self.opaque == other.opaque

    def weak_match(self, other: ETag) -> bool:
        """Weak comparison: the same opaque tag, weakness ignored."""
        return self.opaque == other.opaque


@attrs.frozen
class ETagList:
    """The value of ``If-Match`` / ``If-None-Match``: ``*`` or a list of entity tags."""

    tags: tuple[ETag, ...] = ()
    star: bool = False

    @classmethod
    def from_header(cls, value: str) -> ETagList:
        """Parse ``*`` or ``1#entity-tag`` in linear time; raises BadRequest if malformed."""
        stripped = value.strip(_OWS)
        if stripped == "*":
            return cls(star=True)
        tags: list[ETag] = []
        pos, end = 0, len(stripped)
        while pos < end:
            # skip OWS and empty list elements
            while pos < end and stripped[pos] in " \t,":
                pos += 1
            if pos >= end:
                break
            match = _ETAG.match(stripped, pos)
            if match is None:
                raise _bad(f"{stripped[pos : pos + 60]!r} is not an entity tag.")
            tags.append(ETag(match[2], weak=match[1] is not None))
            pos = match.end()
            while pos < end and stripped[pos] in _OWS:
                pos += 1
            if pos < end and stripped[pos] != ",":
                raise _bad("Entity tags must be separated by commas.")
        if not tags:
            raise _bad("The header names no entity tag.")
        return cls(tuple(tags))

    def to_header(self) -> str:
        """``*`` or ``"a", W/"b"``."""
        return "*" if self.star else ", ".join(tag.to_header() for tag in self.tags)

    def matches_strong(self, etag: ETag) -> bool:
        """If-Match semantics: ``*`` or any strong match."""
        return self.star or any(tag.strong_match(etag) for tag in self.tags)

    def matches_weak(self, etag: ETag) -> bool:
        """If-None-Match semantics: ``*`` or any weak match."""
        return self.star or any(tag.weak_match(etag) for tag in self.tags)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_D = "|".join(_DAYS)
_M = "|".join(_MONTHS)
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
# The three formats of RFC 9110 §5.6.7, case-sensitive as the grammar says. Hand-written
# because email.utils.parsedate* accepts far more than HTTP-date (and no rfc850 years rule).
_IMF = re.compile(rf"(?:{_D}), ([0-9]{{2}}) ({_M}) ([0-9]{{4}}) {_TIME} GMT", re.ASCII)
_RFC850 = re.compile(
    rf"(?:{'|'.join(_LONG_DAYS)}), ([0-9]{{2}})-({_M})-([0-9]{{2}}) {_TIME} GMT", re.ASCII
)
_ASCTIME = re.compile(rf"(?:{_D}) ({_M}) ([0-9]{{2}}| [0-9]) {_TIME} ([0-9]{{4}})", re.ASCII)


def _build(year: int, month: str, day: str, hh: str, mm: str, ss: str) -> datetime:
    try:
        # a leap second (60) is valid HTTP-date syntax; datetime cannot hold it
        return datetime(
            year, _MONTHS.index(month) + 1, int(day), int(hh), int(mm), min(int(ss), 59), tzinfo=UTC
        )
    except ValueError as exc:
        raise _bad(f"Not a calendar date: {exc}.") from None


def parse_http_date(value: str, *, now: datetime | None = None) -> datetime:
    """Parse an HTTP-date (IMF-fixdate, rfc850-date or asctime-date) as aware UTC.

    Raises BadRequest when ``value`` is none of the three. An rfc850 two-digit year more
    than 50 years after ``now`` means the previous century (RFC 9110 §5.6.7). Without ``now``
    (the core reads no clock) the reference year is 2000: 00-50 -> 20xx, 51-99 -> 19xx.
    """
    value = value.strip(_OWS)
    if m := _IMF.fullmatch(value):
        return _build(int(m[3]), m[2], m[1], m[4], m[5], m[6])
    if m := _ASCTIME.fullmatch(value):
        return _build(int(m[6]), m[1], m[2].strip(), m[3], m[4], m[5])
    if m := _RFC850.fullmatch(value):
        current = now.year if now is not None else 2000
        year = current - current % 100 + int(m[3])
        if year > current + 50:
            year -= 100
        return _build(year, m[2], m[1], m[4], m[5], m[6])
    raise _bad(f"{value[:60]!r} is not an HTTP date.")


@functools.lru_cache(maxsize=4096)  # an object's Last-Modified, formatted per response
def format_http_date(moment: datetime) -> str:
    """IMF-fixdate of ``moment`` (naive means UTC), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def to_second(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to whole seconds (the precision of Last-Modified)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


class Precondition(enum.Enum):
    """The outcome of evaluating the preconditions of a request."""

    PROCEED = "proceed"
    NOT_MODIFIED = "not_modified"  # 304
    FAILED = "failed"  # 412


def _etags(value: str | None) -> ETagList | None:
    if value is None:
        return None
    try:
        return ETagList.from_header(value)
    except BadRequest:
        return None


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_http_date(value)
    except BadRequest:
        return None


def evaluate_preconditions(
    method: str, headers: Mapping[str, str], *, etag: ETag, last_modified: datetime
) -> Precondition:
    """Evaluate If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since.

    Follows the order of RFC 9110 §13.2.2. ``headers`` must have lower-case names.
    A malformed header counts as absent. A matching If-None-Match gives 304 for GET/HEAD and 412 otherwise; If-Modified-Since
    only applies to GET/HEAD and only without If-None-Match.
    """
    safe = method.upper() in ("GET", "HEAD")
    modified = to_second(last_modified)
    if_match = _etags(headers.get("if-match"))
    if if_match is not None:
        if not if_match.matches_strong(etag):
            return Precondition.FAILED
    else:
        since = _date(headers.get("if-unmodified-since"))
        if since is not None and modified > since:
            return Precondition.FAILED
    if_none_match = _etags(headers.get("if-none-match"))
    if if_none_match is not None:
        if if_none_match.matches_weak(etag):
            return Precondition.NOT_MODIFIED if safe else Precondition.FAILED
    elif safe:
        since = _date(headers.get("if-modified-since"))
        if since is not None and modified <= since:
            return Precondition.NOT_MODIFIED
    return Precondition.PROCEED


def if_range_matches(value: str, *, etag: ETag, last_modified: datetime) -> bool:
    """Whether an ``If-Range`` validator lets the Range apply (RFC 9110 §13.1.5).

    An entity tag must match strongly (a weak tag never does); a date must equal the
    Last-Modified second exactly. Anything else, malformed included, means "send it all".
    """
    stripped = value.strip(_OWS)
    if stripped.startswith(('"', "W/")):
        try:
            return ETag.from_header(stripped).strong_match(etag)
        except BadRequest:
            return False
    try:
        return parse_http_date(stripped) == to_second(last_modified)
    except BadRequest:
        return False
