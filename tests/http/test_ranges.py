"""Range header parsing and resolution (RFC 9110 §14)."""

from __future__ import annotations

import pytest

from mediakit.errors import BadRequest, RangeNotSatisfiable
from mediakit.http.ranges import (
    MAX_PARTS,
    ByteRangeSpec,
    RangeRequest,
    content_range,
    unsatisfied_content_range,
)
from mediakit.storage import ByteSpan


@pytest.mark.parametrize(
    ("header", "specs"),
    [
        ("bytes=0-499", [(0, 499)]),
        ("bytes=500-", [(500, None)]),
        ("bytes=-500", [(None, 500)]),
        ("bytes=0-0,-1", [(0, 0), (None, 1)]),
        ("bytes=0-1, 5-6 ,\t9-", [(0, 1), (5, 6), (9, None)]),
        ("BYTES=1-2", [(1, 2)]),
        ("  bytes=1-2  ", [(1, 2)]),
        ("bytes=1-2,,3-4", [(1, 2), (3, 4)]),
        ("bytes=007-010", [(7, 10)]),
        ("bytes= 0-9", [(0, 9)]),  # OWS after '=': nginx, werkzeug and Starlette agree
        ("bytes=\t 0-9 ,\t-5\t", [(0, 9), (None, 5)]),
    ],
)
def test_valid_headers_parse(header: str, specs: list[tuple[int | None, int | None]]) -> None:
    """Single, open-ended, suffix and multiple ranges parse, with OWS around commas."""
    assert RangeRequest.from_header(header).specs == tuple(ByteRangeSpec(a, b) for a, b in specs)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=5",
        "bytes=5-4",
        "bytes=+1-2",
        "bytes=1-+2",
        "bytes=1_0-20",
        "bytes=\u0661-\u0662",  # Arabic-Indic digits: int() accepts them
        "bytes=\uff11-\uff12",  # full-width digits
        "bytes=1 -2",
        "bytes=1- 2",
        "bytes = 1-2",
        "bytes =1-2",
        "bytes=garbage0-9garbage",
        "bytes=0-9garbage",
        "bytes=0x10-20",
        "bytes=1-2;3-4",
        "bytes=-1-2",
        "bytes=,",
        "=0-1",
        "b ytes=0-1",
        "bytes=1e3-2e3",
        "bytes=" + "9" * 40 + "-",
    ],
)
def test_invalid_headers_are_refused(header: str) -> None:
    """Anything outside the grammar raises BadRequest(invalid_range); int() leniency is refused."""
    with pytest.raises(BadRequest) as info:
        RangeRequest.from_header(header)
    assert info.value.code == "invalid_range"


@pytest.mark.parametrize("header", ["items=0-5", "none=0-1", "seconds=1-2"])
def test_other_units_are_refused(header: str) -> None:
    """Only the bytes unit is served; other units make the Range ignorable."""
    with pytest.raises(BadRequest, match="only 'bytes'"):
        RangeRequest.from_header(header)


def test_too_many_parts_are_refused() -> None:
    """More than MAX_PARTS parts is abusive and refused (served as a plain 200)."""
    header = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(MAX_PARTS + 1))
    with pytest.raises(BadRequest, match="parts"):
        RangeRequest.from_header(header)
    ok = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(MAX_PARTS))
    assert len(RangeRequest.from_header(ok).specs) == MAX_PARTS


def test_to_header_round_trips() -> None:
    """to_header() writes the canonical form that from_header() reads back."""
    request = RangeRequest((ByteRangeSpec(0, 9), ByteRangeSpec(20, None), ByteRangeSpec(None, 5)))
    assert request.to_header() == "bytes=0-9,20-,-5"
    assert RangeRequest.from_header(request.to_header()) == request


@pytest.mark.parametrize(
    ("header", "size", "spans"),
    [
        ("bytes=0-", 1000, [(0, 999)]),
        ("bytes=0-0", 1000, [(0, 0)]),
        ("bytes=500-", 1000, [(500, 999)]),
        ("bytes=-100", 1000, [(900, 999)]),
        ("bytes=-5000", 1000, [(0, 999)]),  # suffix longer than object: whole object
        ("bytes=900-5000", 1000, [(900, 999)]),  # past-the-end clamped
        ("bytes=999-", 1000, [(999, 999)]),
        ("bytes=0-1,2-3", 1000, [(0, 3)]),  # adjacent coalesced
        ("bytes=0-10,5-20", 1000, [(0, 20)]),  # overlapping coalesced
        ("bytes=0-1,50-60", 1000, [(0, 60)]),  # small gap coalesced
        ("bytes=500-600,0-1", 1000, [(0, 1), (500, 600)]),  # sorted, far apart
        ("bytes=0-1,2000-3000", 1000, [(0, 1)]),  # unsatisfiable part dropped
    ],
)
def test_resolve(header: str, size: int, spans: list[tuple[int, int]]) -> None:
    """Ranges resolve to clamped, sorted, coalesced absolute spans."""
    assert RangeRequest.from_header(header).resolve(size) == [ByteSpan(a, b) for a, b in spans]


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=1000-", 1000), ("bytes=-0", 1000), ("bytes=1000-2000,5000-", 1000), ("bytes=0-", 0)],
)
def test_unsatisfiable(header: str, size: int) -> None:
    """No overlap with the object raises RangeNotSatisfiable carrying Content-Range */N."""
    with pytest.raises(RangeNotSatisfiable) as info:
        RangeRequest.from_header(header).resolve(size)
    assert info.value.headers["Content-Range"] == f"bytes */{size}"
    assert info.value.http_status == 416


def test_overlap_is_egregious_from_three_ranges() -> None:
    """Two overlapping ranges are fine; more than two overlapping ranges are egregious."""
    assert not RangeRequest.from_header("bytes=0-10,5-20").is_egregious(1000)
    assert RangeRequest.from_header("bytes=0-10,5-20,8-30").is_egregious(1000)
    assert RangeRequest.from_header("bytes=0-10,5-20,100-110,105-115").is_egregious(1000)
    assert not RangeRequest.from_header("bytes=0-10,20-30,40-50").is_egregious(1000)


def test_spec_validation() -> None:
    """A ByteRangeSpec cannot be built inverted, negative or empty."""
    with pytest.raises(ValueError):
        ByteRangeSpec(5, 4)
    with pytest.raises(ValueError):
        ByteRangeSpec(-1, 4)
    with pytest.raises(ValueError):
        ByteRangeSpec(None, None)
    with pytest.raises(ValueError):
        RangeRequest(())
    assert ByteRangeSpec.suffix(3).is_suffix
    assert RangeRequest.single(4).to_header() == "bytes=4-"


def test_content_range_values() -> None:
    """Content-Range values for 206 and 416."""
    assert content_range(ByteSpan(0, 9), 100) == "bytes 0-9/100"
    assert unsatisfied_content_range(100) == "bytes */100"
