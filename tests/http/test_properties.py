"""Property tests: the parsers never fail with anything but our error, spans stay inside the
object, headers round-trip, and parse time grows linearly with the header's length."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import BadRequest, MediaKitError, RangeNotSatisfiable
from mediakit.http.conditional import ETag, ETagList, parse_http_date
from mediakit.http.plan import ResponsePlan, plan_response
from mediakit.http.ranges import MAX_PARTS, ByteRangeSpec, RangeRequest
from mediakit.storage import ObjectInfo

positions = st.integers(min_value=0, max_value=2**64)


@st.composite
def range_specs(draw: st.DrawFn) -> ByteRangeSpec:
    kind = draw(st.sampled_from(["closed", "open", "suffix"]))
    if kind == "suffix":
        return ByteRangeSpec(None, draw(positions))
    first = draw(positions)
    if kind == "open":
        return ByteRangeSpec(first, None)
    return ByteRangeSpec(first, first + draw(st.integers(min_value=0, max_value=2**40)))


range_requests = st.lists(range_specs(), min_size=1, max_size=MAX_PARTS).map(
    lambda specs: RangeRequest(tuple(specs))
)
header_text = st.one_of(
    st.text(),
    st.text(alphabet="bytes=0123456789-, \t+_\u0661", max_size=40),
    st.builds(lambda s: "bytes=" + s, st.text(alphabet="0123456789-, \t", max_size=40)),
)
sizes = st.integers(min_value=0, max_value=2**50)
OBJ = ObjectInfo("k", 10_000, '"abc"', datetime(2024, 5, 1, tzinfo=UTC), "audio/mpeg")
HEADER_NAMES = [
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
]


@given(header_text)
def test_range_parser_returns_a_request_or_our_error(value: str) -> None:
    """Any string parses to a RangeRequest or raises BadRequest, never another exception."""
    try:
        request = RangeRequest.from_header(value)
    except BadRequest:
        return
    assert RangeRequest.from_header(request.to_header()) == request


@given(range_requests)
def test_to_header_round_trips(request: RangeRequest) -> None:
    """from_header(to_header(x)) == x."""
    assert RangeRequest.from_header(request.to_header()) == request


ows = st.text(alphabet=" \t", max_size=3)


@given(range_requests, st.data())
def test_whitespace_around_range_specs_parses_identically(
    request: RangeRequest, data: st.DataObject
) -> None:
    """OWS around the value, after 'bytes=' and around each comma parses like the canonical form."""
    parts = [spec.to_header() for spec in request.specs]
    padded = [data.draw(ows) + p + data.draw(ows) for p in parts]
    header = data.draw(ows) + "bytes=" + ",".join(padded) + data.draw(ows)
    assert RangeRequest.from_header(header) == request


@given(range_specs(), st.sampled_from([" ", "\t", " \t"]), st.data())
def test_whitespace_inside_a_range_spec_or_before_equals_is_refused(
    spec: ByteRangeSpec, space: str, data: st.DataObject
) -> None:
    """'1 -2', '1- 2' and 'bytes =1-2' stay errors: only list OWS is tolerated."""
    text = spec.to_header()
    dash = text.index("-")
    where = data.draw(st.sampled_from(["before-dash", "after-dash", "before-equals"]))
    if where == "before-dash" and dash > 0:
        header = "bytes=" + text[:dash] + space + text[dash:]
    elif where == "after-dash" and dash < len(text) - 1:
        header = "bytes=" + text[: dash + 1] + space + text[dash + 1 :]
    else:
        header = "bytes" + space + "=" + text
    with pytest.raises(BadRequest):
        RangeRequest.from_header(header)


@given(range_requests, sizes)
def test_resolved_spans_lie_within_the_object(request: RangeRequest, size: int) -> None:
    """Resolved spans are inside 0..size-1, sorted, disjoint, or the request is unsatisfiable."""
    try:
        spans = request.resolve(size)
    except RangeNotSatisfiable as exc:
        error: RangeNotSatisfiable | None = exc
    else:
        error = None
    if error is not None:
        assert error.size == size
        return
    assert spans
    for span in spans:
        assert 0 <= span.first <= span.last < size
    for before, after in itertools.pairwise(spans):
        assert before.last + 1 < after.first


@given(
    st.sampled_from(["GET", "HEAD", "POST", "get"]),
    st.dictionaries(st.sampled_from(HEADER_NAMES), header_text, max_size=4),
    st.integers(min_value=0, max_value=2**40),
)
def test_any_request_headers_yield_a_plan(method: str, headers: dict[str, str], size: int) -> None:
    """Any request headers give a consistent plan (or our error), never another exception."""
    obj = ObjectInfo("k", size, '"abc"', datetime(2024, 5, 1, tzinfo=UTC), "audio/mpeg")
    try:
        p = plan_response(method, headers, obj)
    except MediaKitError:
        return
    assert isinstance(p, ResponsePlan)
    assert p.status in {200, 206, 304, 412, 416}
    if p.span is not None:
        assert 0 <= p.span.first <= p.span.last < size
        assert p.body_length == p.span.length == int(p.header("content-length") or -1)
    if p.status == 206:
        assert p.header("content-range") is not None


@given(range_requests)
def test_plans_of_valid_ranges_stay_inside_the_object(request: RangeRequest) -> None:
    """A 206 plan's span and Content-Range describe bytes inside the object."""
    p = plan_response("GET", {"Range": request.to_header()}, OBJ)
    if p.status == 206:
        assert p.span is not None
        assert p.header("content-range") == f"bytes {p.span.first}-{p.span.last}/{OBJ.size}"
        assert p.span.last < OBJ.size
    else:
        assert p.status in {200, 416}


@given(st.text())
def test_etag_and_date_parsers_return_a_value_or_our_error(value: str) -> None:
    """ETag lists and HTTP dates parse or raise BadRequest, never another exception."""
    for parse in (ETagList.from_header, ETag.from_header, parse_http_date):
        with contextlib.suppress(BadRequest):
            parse(value)


def _best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.suppress(MediaKitError):
            fn()
        best = min(best, time.perf_counter() - start)
    return best


ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "digits": lambda n: "bytes=" + "1" * n,
    "commas": lambda n: "bytes=" + "," * n,
    "spaces": lambda n: "bytes=0-1" + " " * n + ",2-3",
    "dashes": lambda n: "bytes=" + "-" * n,
    "parts": lambda n: "bytes=" + "0-1," * (n // 4),
    "etags": lambda n: '"a",' * (n // 4),
    "weak": lambda n: "W/" * (n // 2),
    "date": lambda n: "Sun, " + "0" * n,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_parse_time_grows_linearly(name: str) -> None:
    """100x longer headers take far less than the 10,000x a quadratic parser would need."""
    make = ADVERSARIAL[name]
    headers = {
        "range": "",
        "if-none-match": "",
        "if-match": "",
        "if-range": "",
        "if-modified-since": "",
    }

    def run(n: int) -> Callable[[], object]:
        value = make(n)
        request = dict.fromkeys(headers, value)
        return lambda: (
            plan_response("GET", request, OBJ),
            _swallow(RangeRequest.from_header, value),
            _swallow(ETagList.from_header, value),
            _swallow(parse_http_date, value),
        )

    small, large = _best_time(run(1_000)), _best_time(run(100_000))
    # linear would be ~100x; quadratic ~10,000x. The bound is generous against noise.
    assert large < max(small, 1e-5) * 1_500, (name, small, large)


def _swallow(fn: Callable[[str], object], value: str) -> object:
    try:
        return fn(value)
    except BadRequest:
        return None
