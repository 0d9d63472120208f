"""Byte ranges per RFC 9110 §14: parse a ``Range`` header and resolve it against a size.

Pure: no I/O. The parser is hand-written rather than borrowed because the usual ones are
lenient in ways that matter here (Starlette's ``findall`` reads ``bytes=garbage0-9garbage``
as a range; ``int()`` accepts ``+1``, ``1_0`` and non-ASCII digits). It is strict, runs in
time linear in the header's length, and :meth:`RangeRequest.to_header` round-trips.

Multi-range policy (documented choice): ranges that overlap or lie within
:data:`COALESCE_GAP` bytes of each other are coalesced. If one span remains, the answer is
a normal single-part 206. If several remain, the response plan answers a plain 200 with the
whole object: media clients (audio/video elements, download managers) never send
multi-range requests, and ``multipart/byteranges`` would complicate every adapter for no
user. More than :data:`MAX_PARTS` parts, or more than two ranges overlapping, are treated
as abusive (RFC 9110 §14.2 allows ignoring them) and also get the plain 200.
"""

from __future__ import annotations

import re

import attrs

from mediakit.errors import BadRequest, RangeNotSatisfiable
from mediakit.values import ByteSpan

__all__ = [
    "COALESCE_GAP",
    "MAX_PARTS",
    "ByteRangeSpec",
    "RangeRequest",
    "content_range",
    "unsatisfied_content_range",
]

MAX_PARTS = 100
"""More range-specs than this in one header: the header is ignored (plain 200)."""

MAX_DIGITS = 32
"""A position with more digits than this is refused (no object is 10**32 bytes)."""

COALESCE_GAP = 80
"""Ranges separated by at most this many bytes are merged (about one multipart header)."""

_MAX_OVERLAPPING = 2
_MAX_ELEMENTS = 2 * MAX_PARTS  # parts plus a reasonable number of empty list elements
_OWS = " \t"
# ASCII digits only: re.ASCII plus an explicit [0-9] class, never \d or str.isdigit().
_SPEC = re.compile(r"([0-9]*)-([0-9]*)", re.ASCII)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", re.ASCII)


def _non_negative(
    instance: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


@attrs.frozen
class ByteRangeSpec:
    """One range-spec of a ``Range`` header.

    * ``first=a, last=b``: bytes ``a..b`` (``a-b``);
    * ``first=a, last=None``: from ``a`` to the end (``a-``);
    * ``first=None, last=n``: the final ``n`` bytes (suffix range ``-n``).
    """

    first: int | None = attrs.field(validator=_non_negative)
    last: int | None = attrs.field(validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.first is None and self.last is None:
            raise ValueError("a range-spec needs a first position or a suffix length")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError(f"last ({self.last}) is before first ({self.first})")

    @classmethod
    def suffix(cls, length: int) -> ByteRangeSpec:
        """The final ``length`` bytes."""
        return cls(None, length)

    @property
    def is_suffix(self) -> bool:
        """True for a suffix range (``-n``)."""
        return self.first is None

    def to_header(self) -> str:
        """The spec as it appears in a header: ``a-b``, ``a-`` or ``-n``."""
        first = "" if self.first is None else str(self.first)
        last = "" if self.last is None else str(self.last)
        return f"{first}-{last}"

    def span(self, size: int) -> ByteSpan | None:
        """The absolute span inside an object of ``size`` bytes, clamped; None if unsatisfiable."""
        if size <= 0:
            return None
        if self.first is None:
            assert self.last is not None
            if self.last == 0:
                return None
            return ByteSpan(max(0, size - self.last), size - 1)
        if self.first >= size:
            return None
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return ByteSpan(self.first, last)


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_range")


def _position(digits: str) -> int | None:
    if not digits:
        return None
    if len(digits) > MAX_DIGITS:
        raise _invalid(f"A byte position has more than {MAX_DIGITS} digits.")
    return int(digits)


@attrs.frozen
class RangeRequest:
    """A parsed ``Range: bytes=...`` header (the only unit mediakit serves)."""

    specs: tuple[ByteRangeSpec, ...]

    def __attrs_post_init__(self) -> None:
        if not self.specs:
            raise ValueError("a range request needs at least one range-spec")

    @classmethod
    def single(cls, first: int, last: int | None = None) -> RangeRequest:
        """``bytes=first-last`` (``last=None``: to the end)."""
        return cls((ByteRangeSpec(first, last),))

    @classmethod
    def from_header(cls, value: str) -> RangeRequest:
        """Parse a ``Range`` field value strictly.

        Raises :class:`~mediakit.errors.BadRequest` (code ``invalid_range``) for a value
        that is not a valid ``bytes`` ranges-specifier, for another range unit, and for
        more than :data:`MAX_PARTS` parts. A server answers all of those by ignoring the
        header, i.e. with the full 200 (RFC 9110 §14.2).
        """
        value = value.strip(_OWS)
        unit, sep, range_set = value.partition("=")
        if not sep or not _TOKEN.fullmatch(unit):
            raise _invalid("The Range header is not of the form 'bytes=first-last'.")
        if unit.lower() != "bytes":
            raise _invalid(f"Range unit {unit[:20]!r} is not supported; only 'bytes' is.")
        # Count before splitting so a huge header costs one linear scan, not a big list.
        if range_set.count(",") >= _MAX_ELEMENTS:
            raise _invalid(f"The Range header has more than {MAX_PARTS} parts.")
        elements = range_set.split(",")
        if elements[0][:1] in (" ", "\t"):
            raise _invalid("Whitespace is not allowed after 'bytes='.")
        specs: list[ByteRangeSpec] = []
        for raw in elements:
            element = raw.strip(_OWS)
            if not element:
                continue  # empty list elements are allowed (RFC 9110 §5.6.1.2)
            match = _SPEC.fullmatch(element)
            if match is None:
                raise _invalid(f"{element[:40]!r} is not a byte range.")
            first, last = _position(match[1]), _position(match[2])
            if first is None and last is None:
                raise _invalid("A byte range needs a first position or a suffix length.")
            if first is not None and last is not None and last < first:
                raise _invalid(f"Byte range {element!r} ends before it starts.")
            specs.append(ByteRangeSpec(first, last))
        if not specs:
            raise _invalid("The Range header names no byte range.")
        if len(specs) > MAX_PARTS:
            raise _invalid(f"The Range header has more than {MAX_PARTS} parts.")
        return cls(tuple(specs))

    def to_header(self) -> str:
        """The field value: ``bytes=a-b,c-,-n``."""
        return "bytes=" + ",".join(spec.to_header() for spec in self.specs)

    def _satisfiable(self, size: int) -> list[ByteSpan]:
        spans = (spec.span(size) for spec in self.specs)
        return sorted((s for s in spans if s is not None), key=lambda s: (s.first, s.last))

    def is_egregious(self, size: int) -> bool:
        """True when more than two ranges overlap (RFC 9110 §14.2 allows ignoring it).

        Counted as: in start order, how many ranges start inside an earlier one; one such
        range is an overlapping pair (allowed), two or more are egregious.
        """
        reach = -1
        overlapping = 0
        for span in self._satisfiable(size):
            if span.first <= reach:
                overlapping += 1
            reach = max(reach, span.last)
        return overlapping >= _MAX_OVERLAPPING

    def resolve(self, size: int) -> list[ByteSpan]:
        """The spans to send for an object of ``size`` bytes, sorted and coalesced.

        Ranges past the end are clamped; a suffix longer than the object means the whole
        object. Raises :class:`~mediakit.errors.RangeNotSatisfiable` when no range
        overlaps the object (always for an empty object).
        """
        spans = self._satisfiable(size)
        if not spans:
            raise RangeNotSatisfiable(size)
        merged = [spans[0]]
        for span in spans[1:]:
            current = merged[-1]
            if span.first <= current.last + 1 + COALESCE_GAP:
                merged[-1] = ByteSpan(current.first, max(current.last, span.last))
            else:
                merged.append(span)
        return merged


def content_range(span: ByteSpan, size: int) -> str:
    """``Content-Range`` of a 206: ``bytes first-last/size``."""
    return f"bytes {span.first}-{span.last}/{size}"


def unsatisfied_content_range(size: int) -> str:
    """``Content-Range`` of a 416: ``bytes */size``."""
    return f"bytes */{size}"
