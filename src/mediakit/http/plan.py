"""Response planning: from a request's method and headers and an object's metadata to the
status, headers and byte span of the response. Adapters render a :class:`ResponsePlan`.

Pure (werkzeug-sansio style): no I/O, no framework. Every plan carries ``Accept-Ranges``,
``ETag``, ``Last-Modified``, ``Cache-Control``, ``X-Content-Type-Options: nosniff`` and a
sandboxing ``Content-Security-Policy``; 200/206 add an allowlisted ``Content-Type``,
``Content-Length`` (and ``Content-Range`` for 206); 304 follows RFC 9110 §15.4.5 and omits
the representation's type and length; 412/416 carry our JSON error body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import attrs

from mediakit.errors import BadRequest, MediaKitError, PreconditionFailed, RangeNotSatisfiable
from mediakit.http.conditional import (
    ETag,
    Precondition,
    evaluate_preconditions,
    format_http_date,
    if_range_matches,
)
from mediakit.http.ranges import RangeRequest, content_range, unsatisfied_content_range
from mediakit.values import ByteSpan, ObjectInfo

__all__ = [
    "ALLOWED_CONTENT_TYPES",
    "CONTENT_SECURITY_POLICY",
    "DEFAULT_CACHE_CONTROL",
    "ResponsePlan",
    "plan_response",
    "safe_content_type",
]

ALLOWED_CONTENT_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/heic",
        "image/heif",
        "image/bmp",
        "image/tiff",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/ogg",
        "audio/opus",
        "audio/wav",
        "audio/x-wav",
        "audio/flac",
        "audio/x-flac",
        "audio/webm",
        "audio/x-m4a",
    }
)
"""Media types served as themselves; anything else (SVG and HTML included) is served as
``application/octet-stream`` so a browser never renders active content from our origin."""

CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"
DEFAULT_CACHE_CONTROL = "private, max-age=0"
OCTET_STREAM = "application/octet-stream"
_SAFE_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


def safe_content_type(value: str | None) -> str:
    """``value``'s media type if it is on :data:`ALLOWED_CONTENT_TYPES`, else octet-stream.

    Parameters are dropped and the type is lower-cased: ``Audio/MPEG; x=y`` -> ``audio/mpeg``.
    """
    if not value:
        return OCTET_STREAM
    media_type = value.split(";", 1)[0].strip(" \t").lower()
    return media_type if media_type in ALLOWED_CONTENT_TYPES else OCTET_STREAM


@attrs.frozen
class ResponsePlan:
    """What to answer: status, headers, and which bytes of the object form the body.

    ``span`` is the object's byte span to stream (None: no object bytes, e.g. HEAD, 304,
    412, 416). ``body`` is a small generated body (the JSON error of 412/416) sent when
    ``span`` is None. ``body_length`` is the number of bytes the adapter must send; for
    HEAD it is 0 while ``Content-Length`` still tells what a GET would send.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    span: ByteSpan | None
    body_length: int
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


def _check_header_value(name: str, value: str) -> str:
    if not _SAFE_HEADER_VALUE.fullmatch(value):
        raise ValueError(f"{name} must be printable ASCII without CR/LF, got {value[:60]!r}")
    return value


def _error_plan(
    method: str, status: int, base: list[tuple[str, str]], error: MediaKitError
) -> ResponsePlan:
    body = json.dumps(error.to_dict()).encode()
    headers = [
        *base,
        *error.headers.items(),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ]
    if method == "HEAD":
        return ResponsePlan(status, tuple(headers), None, 0)
    return ResponsePlan(status, tuple(headers), None, len(body), body)


def plan_response(
    method: str,
    request_headers: Mapping[str, str],
    obj: ObjectInfo,
    *,
    content_type: str | None = None,
    disposition: str | None = None,
    cache_control: str = DEFAULT_CACHE_CONTROL,
) -> ResponsePlan:
    """Plan the response to ``method`` with ``request_headers`` for the object ``obj``.

    Covers 200, 206 (single range), 304, 412 and 416, and HEAD (the GET headers, no body).
    Header names are looked up case-insensitively. ``content_type`` overrides the
    object's and is allowlisted either way; ``disposition`` is a ready header value (see
    :func:`mediakit.http.disposition.content_disposition`).

    Range handling: honoured for GET and HEAD only; an invalid, non-``bytes``, abusive or
    multi-span (after coalescing) Range, or a failing ``If-Range``, gives the full 200.
    An empty object always gets the full (empty) 200.
    """
    method = method.upper()
    headers = {name.lower(): value for name, value in request_headers.items()}
    etag = ETag.from_store(obj.etag)
    base: list[tuple[str, str]] = [
        ("Accept-Ranges", "bytes"),
        ("ETag", etag.to_header()),
        ("Last-Modified", format_http_date(obj.last_modified)),
        ("Cache-Control", _check_header_value("Cache-Control", cache_control)),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ]
    if disposition is not None:
        base.append(
            ("Content-Disposition", _check_header_value("Content-Disposition", disposition))
        )

    outcome = evaluate_preconditions(method, headers, etag=etag, last_modified=obj.last_modified)
    if outcome is Precondition.NOT_MODIFIED:
        return ResponsePlan(304, tuple(base), None, 0)
    if outcome is Precondition.FAILED:
        error = PreconditionFailed(
            "The object changed: its entity tag or date no longer matches the request's condition."
        )
        return _error_plan(method, 412, base, error)

    size = obj.size
    span: ByteSpan | None = ByteSpan(0, size - 1) if size > 0 else None
    partial = False
    range_value = headers.get("range")
    if range_value is not None and method in ("GET", "HEAD") and size > 0:
        if_range = headers.get("if-range")
        if if_range is None or if_range_matches(
            if_range, etag=etag, last_modified=obj.last_modified
        ):
            try:
                request = RangeRequest.from_header(range_value)
            except BadRequest:
                request = None  # invalid or unsupported Range: ignore it (RFC 9110 §14.2)
            if request is not None and not request.is_egregious(size):
                try:
                    spans = request.resolve(size)
                except RangeNotSatisfiable as exc:
                    base.append(("Content-Range", unsatisfied_content_range(size)))
                    exc.headers.pop("Content-Range", None)
                    return _error_plan(method, 416, base, exc)
                if len(spans) == 1:
                    span, partial = spans[0], True

    length = span.length if span is not None else 0
    out = [
        *base,
        ("Content-Type", safe_content_type(content_type or obj.content_type)),
        ("Content-Length", str(length)),
    ]
    if partial and span is not None:
        out.append(("Content-Range", content_range(span, size)))
    status = 206 if partial else 200
    if method == "HEAD":
        return ResponsePlan(status, tuple(out), None, 0)
    return ResponsePlan(status, tuple(out), span, length)
