"""Response plans: status, headers and span for every case the proxy answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mediakit.http.plan import (
    CONTENT_SECURITY_POLICY,
    ResponsePlan,
    plan_response,
    safe_content_type,
)
from mediakit.storage import ByteSpan, ObjectInfo

OBJ = ObjectInfo(
    key="music/s/t/high.mp3",
    size=1000,
    etag='"abc"',
    last_modified=datetime(2024, 5, 1, 12, 0, 0, 500, tzinfo=UTC),
    content_type="audio/mpeg",
)
LM = "Wed, 01 May 2024 12:00:00 GMT"
ALWAYS = {
    "accept-ranges": "bytes",
    "etag": '"abc"',
    "last-modified": LM,
    "x-content-type-options": "nosniff",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "cache-control": "private, max-age=0",
}


def plan(headers: dict[str, str] | None = None, method: str = "GET", **kw: object) -> ResponsePlan:
    return plan_response(method, headers or {}, OBJ, **kw)  # type: ignore[arg-type]


def headers_of(p: ResponsePlan) -> dict[str, str]:
    names = [name.lower() for name, _ in p.headers]
    assert len(names) == len(set(names)), "no header appears twice"
    return {name.lower(): value for name, value in p.headers}


@pytest.mark.parametrize(
    "request_headers",
    [
        {},
        {"Range": "bytes=0-9"},
        {"If-None-Match": '"abc"'},
        {"If-Match": '"nope"'},
        {"Range": "bytes=5000-"},
    ],
)
def test_every_plan_carries_the_safety_headers(request_headers: dict[str, str]) -> None:
    """Accept-Ranges, ETag, Last-Modified, nosniff, CSP sandbox and Cache-Control on every status."""
    got = headers_of(plan(request_headers))
    assert {k: got[k] for k in ALWAYS} == ALWAYS


def test_full_200() -> None:
    """No Range: 200 with the whole object, allowlisted type and Content-Length."""
    p = plan()
    assert (p.status, p.span, p.body_length) == (200, ByteSpan(0, 999), 1000)
    h = headers_of(p)
    assert h["content-type"] == "audio/mpeg"
    assert h["content-length"] == "1000"
    assert "content-range" not in h


def test_audio_element_seek_pattern() -> None:
    """bytes=0- gives a 206 of everything; a mid-file open range gives the tail."""
    first = plan({"Range": "bytes=0-"})
    assert (first.status, first.span) == (206, ByteSpan(0, 999))
    assert headers_of(first)["content-range"] == "bytes 0-999/1000"
    seek = plan({"range": "bytes=600-"})
    assert (seek.status, seek.span, seek.body_length) == (206, ByteSpan(600, 999), 400)
    assert headers_of(seek)["content-length"] == "400"
    assert headers_of(seek)["content-range"] == "bytes 600-999/1000"


def test_suffix_and_clamped_ranges() -> None:
    """Suffix and past-the-end ranges become clamped 206s."""
    assert plan({"Range": "bytes=-10"}).span == ByteSpan(990, 999)
    assert plan({"Range": "bytes=990-5000"}).span == ByteSpan(990, 999)


def test_416_is_a_plan_with_content_range_star() -> None:
    """An unsatisfiable range is a 416 plan with Content-Range bytes */N and our JSON error."""
    p = plan({"Range": "bytes=1000-"})
    assert p.status == 416
    assert p.span is None
    h = headers_of(p)
    assert h["content-range"] == "bytes */1000"
    assert h["content-type"] == "application/json"
    assert json.loads(p.body)["error"]["code"] == "range_not_satisfiable"
    assert int(h["content-length"]) == len(p.body) == p.body_length


def test_304_has_no_body_and_no_representation_length() -> None:
    """If-None-Match match: 304 with validators, without Content-Type/Length (RFC 9110 §15.4.5)."""
    p = plan({"If-None-Match": 'W/"abc"'})
    assert (p.status, p.span, p.body_length, p.body) == (304, None, 0, b"")
    h = headers_of(p)
    assert "content-length" not in h
    assert "content-type" not in h
    assert plan({"If-Modified-Since": LM}).status == 304


def test_412() -> None:
    """A failed If-Match or If-Unmodified-Since is a 412 with our JSON error."""
    p = plan({"If-Match": '"other"'})
    assert p.status == 412
    assert json.loads(p.body)["error"]["code"] == "precondition_failed"
    assert plan({"If-Unmodified-Since": "Wed, 01 May 2024 11:59:59 GMT"}).status == 412
    assert plan({"If-None-Match": '"abc"'}, method="PUT").status == 412


def test_if_range() -> None:
    """If-Range with the strong ETag or exact date keeps the 206; weak or stale gives 200."""
    assert plan({"Range": "bytes=0-9", "If-Range": '"abc"'}).status == 206
    assert plan({"Range": "bytes=0-9", "If-Range": LM}).status == 206
    assert plan({"Range": "bytes=0-9", "If-Range": 'W/"abc"'}).status == 200
    assert plan({"Range": "bytes=0-9", "If-Range": '"old"'}).status == 200
    stale = "Wed, 01 May 2024 11:00:00 GMT"
    assert plan({"Range": "bytes=0-9", "If-Range": stale}).status == 200
    # a stale If-Range also protects against a 416 on a changed object
    assert plan({"Range": "bytes=5000-", "If-Range": '"old"'}).status == 200


@pytest.mark.parametrize(
    "value",
    [
        "bytes=abc",
        "items=0-5",
        "bytes=0-1,500-600",  # two far-apart spans after coalescing: full 200
        "bytes=0-10,5-20,8-30",  # more than two overlapping ranges
        "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 1000, 2)),  # hundreds of parts
        "bytes=+0-5",
    ],
)
def test_ignored_ranges_give_the_full_200(value: str) -> None:
    """Invalid, other-unit, multi-span and egregious ranges are ignored: plain 200."""
    p = plan({"Range": value})
    assert (p.status, p.span) == (200, ByteSpan(0, 999))


def test_range_only_for_get_and_head() -> None:
    """Range is ignored for other methods."""
    assert plan({"Range": "bytes=0-9"}, method="POST").status == 200
    assert plan({"Range": "bytes=0-9"}, method="get").status == 206


def test_head_has_get_headers_and_no_body() -> None:
    """HEAD plans the same status and headers as GET but sends no bytes."""
    for headers in ({}, {"Range": "bytes=0-9"}, {"Range": "bytes=5000-"}):
        get, head = plan(headers), plan(headers, method="HEAD")
        assert head.status == get.status
        assert head.headers == get.headers
        assert (head.span, head.body_length, head.body) == (None, 0, b"")


def test_header_names_are_case_insensitive() -> None:
    """Request header names match in any case."""
    assert plan({"RANGE": "bytes=0-9"}).status == 206
    assert plan({"iF-nOnE-mAtCh": '"abc"'}).status == 304


def test_empty_object() -> None:
    """An empty object is a 200 with Content-Length 0, whatever the Range."""
    empty = ObjectInfo("k", 0, '"e"', OBJ.last_modified, "image/png")
    for headers in ({}, {"Range": "bytes=0-"}, {"Range": "bytes=-5"}):
        p = plan_response("GET", headers, empty)
        assert (p.status, p.span, p.body_length) == (200, None, 0)
        assert headers_of(p)["content-length"] == "0"


@pytest.mark.parametrize(
    ("given", "served"),
    [
        ("audio/mpeg", "audio/mpeg"),
        ("Audio/MPEG; charset=x", "audio/mpeg"),
        ("image/webp", "image/webp"),
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("", "application/octet-stream"),
        (None, "application/octet-stream"),
    ],
)
def test_content_type_allowlist(given: str | None, served: str) -> None:
    """Only allowlisted image/audio types are served as themselves."""
    assert safe_content_type(given) == served


def test_content_type_override_and_disposition() -> None:
    """content_type overrides the object's (still allowlisted); disposition and cache-control pass through."""
    p = plan(
        content_type="text/html",
        disposition='attachment; filename="a.mp3"',
        cache_control="private, max-age=60",
    )
    h = headers_of(p)
    assert h["content-type"] == "application/octet-stream"
    assert h["content-disposition"] == 'attachment; filename="a.mp3"'
    assert h["cache-control"] == "private, max-age=60"
    assert p.header("Content-Disposition") == 'attachment; filename="a.mp3"'


def test_unsafe_header_values_are_refused() -> None:
    """A disposition or cache-control with CR/LF is a programming error, never a header."""
    with pytest.raises(ValueError):
        plan(disposition='attachment; filename="a"\r\nX: y')
    with pytest.raises(ValueError):
        plan(cache_control="private\n")
