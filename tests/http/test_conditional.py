"""Conditional requests (RFC 9110 §13): entity tags, HTTP dates, precondition order, If-Range."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mediakit.errors import BadRequest
from mediakit.http.conditional import (
    ETag,
    ETagList,
    Precondition,
    evaluate_preconditions,
    format_http_date,
    if_range_matches,
    parse_http_date,
)

LM = datetime(1994, 11, 6, 8, 49, 37, 250_000, tzinfo=UTC)
IMF = "Sun, 06 Nov 1994 08:49:37 GMT"
TAG = ETag("abc")


@pytest.mark.parametrize(
    "value",
    [IMF, "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun Nov 06 08:49:37 1994"],
)
def test_all_three_date_formats(value: str) -> None:
    """IMF-fixdate, rfc850-date and asctime-date all parse to the same UTC instant."""
    assert parse_http_date(value) == LM.replace(microsecond=0)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "Sun, \u0660\u0666 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
    ],
)
def test_invalid_dates_are_refused(value: str) -> None:
    """Anything but the three HTTP-date formats raises BadRequest."""
    with pytest.raises(BadRequest):
        parse_http_date(value)


def test_rfc850_two_digit_years() -> None:
    """A two-digit year more than 50 years ahead of now means the previous century."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_http_date("Monday, 01-Jan-76 00:00:00 GMT", now=now).year == 2076
    assert parse_http_date("Monday, 01-Jan-77 00:00:00 GMT", now=now).year == 1977
    assert parse_http_date("Monday, 01-Jan-26 00:00:00 GMT", now=now).year == 2026


def test_leap_second_is_clamped() -> None:
    """Second 60 is valid syntax and is read as 59."""
    assert parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT").second == 59


def test_format_http_date() -> None:
    """Dates format as IMF-fixdate, naive meaning UTC, sub-seconds dropped."""
    assert format_http_date(LM) == IMF
    assert format_http_date(LM.replace(tzinfo=None)) == IMF


def test_etag_parsing_and_comparison() -> None:
    """Strong comparison needs both strong; weak comparison ignores W/."""
    assert ETag.from_header('"abc"') == ETag("abc")
    assert ETag.from_header('W/"abc"') == ETag("abc", weak=True)
    assert ETag("abc").strong_match(ETag("abc"))
    assert not ETag("abc", weak=True).strong_match(ETag("abc"))
    assert ETag("abc", weak=True).weak_match(ETag("abc"))
    assert ETag.from_store("abc") == ETag("abc")  # a store that forgot the quotes
    assert ETag.from_store('"a\r\nb"') == ETag("ab")
    for bad in ["abc", '"a"b"', 'w/"abc"', '"ab', '"a b"']:
        with pytest.raises(BadRequest):
            ETag.from_header(bad)


def test_etag_lists() -> None:
    """If-Match/If-None-Match lists parse with OWS and empty elements; * is the wildcard."""
    parsed = ETagList.from_header(' "a" , W/"b",,"c,d"')
    assert parsed.tags == (ETag("a"), ETag("b", weak=True), ETag("c,d"))
    assert parsed.to_header() == '"a", W/"b", "c,d"'
    assert ETagList.from_header(parsed.to_header()) == parsed
    assert ETagList.from_header("*").star
    for bad in ['"a" "b"', "a", '"a",b', "", " , "]:
        with pytest.raises(BadRequest):
            ETagList.from_header(bad)


def _eval(headers: dict[str, str], method: str = "GET") -> Precondition:
    return evaluate_preconditions(method, headers, etag=TAG, last_modified=LM)


@pytest.mark.parametrize(
    ("headers", "method", "outcome"),
    [
        ({}, "GET", Precondition.PROCEED),
        ({"if-none-match": '"abc"'}, "GET", Precondition.NOT_MODIFIED),
        ({"if-none-match": 'W/"abc"'}, "HEAD", Precondition.NOT_MODIFIED),
        ({"if-none-match": '"x", W/"abc"'}, "GET", Precondition.NOT_MODIFIED),
        ({"if-none-match": "*"}, "GET", Precondition.NOT_MODIFIED),
        ({"if-none-match": '"x"'}, "GET", Precondition.PROCEED),
        ({"if-none-match": '"abc"'}, "POST", Precondition.FAILED),
        ({"if-match": '"abc"'}, "GET", Precondition.PROCEED),
        ({"if-match": "*"}, "GET", Precondition.PROCEED),
        ({"if-match": 'W/"abc"'}, "GET", Precondition.FAILED),  # strong comparison
        ({"if-match": '"x"'}, "GET", Precondition.FAILED),
        ({"if-match": "garbage"}, "GET", Precondition.PROCEED),  # malformed: ignored
        ({"if-modified-since": IMF}, "GET", Precondition.NOT_MODIFIED),
        ({"if-modified-since": "Sun, 06 Nov 1994 08:49:36 GMT"}, "GET", Precondition.PROCEED),
        ({"if-modified-since": IMF}, "POST", Precondition.PROCEED),
        ({"if-modified-since": "not a date"}, "GET", Precondition.PROCEED),
        # If-None-Match takes precedence over If-Modified-Since
        ({"if-none-match": '"x"', "if-modified-since": IMF}, "GET", Precondition.PROCEED),
        ({"if-unmodified-since": IMF}, "GET", Precondition.PROCEED),
        ({"if-unmodified-since": "Sun, 06 Nov 1994 08:49:36 GMT"}, "GET", Precondition.FAILED),
        ({"if-unmodified-since": "bogus"}, "GET", Precondition.PROCEED),
        # If-Match takes precedence over If-Unmodified-Since
        (
            {"if-match": '"abc"', "if-unmodified-since": "Sun, 06 Nov 1994 08:49:36 GMT"},
            "GET",
            Precondition.PROCEED,
        ),
        # If-Match is evaluated before If-None-Match
        ({"if-match": '"x"', "if-none-match": '"abc"'}, "GET", Precondition.FAILED),
    ],
)
def test_precondition_order(headers: dict[str, str], method: str, outcome: Precondition) -> None:
    """Preconditions follow RFC 9110 §13.2.2; malformed validators count as absent."""
    assert _eval(headers, method) is outcome


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', False),  # weak validator never satisfies If-Range
        ('"other"', False),
        (IMF, True),  # exact Last-Modified second
        ("Sun, 06 Nov 1994 08:49:38 GMT", False),
        ("Sun, 06 Nov 1994 08:49:36 GMT", False),
        ("garbage", False),
        ('"abc', False),
    ],
)
def test_if_range(value: str, matches: bool) -> None:
    """If-Range needs a strong ETag match or the exact Last-Modified date."""
    assert if_range_matches(value, etag=TAG, last_modified=LM) is matches
