"""Opaque cursors: round-trip exactly, and anything else is a clear BadRequest."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import BadRequest
from mediakit.repositories._cursor import CursorKey, check_page_size, decode_cursor, encode_cursor

_aware = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(9999, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
_ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@given(_aware, _ids)
def test_decode_inverts_encode(at: datetime, item_id: str) -> None:
    cursor = encode_cursor(at, item_id)
    assert cursor.isascii()
    assert "=" not in cursor
    key = decode_cursor(cursor)
    assert key == CursorKey(at.astimezone(UTC), item_id)
    assert key.created_at.tzinfo == UTC


@given(st.text(max_size=80))
def test_any_string_decodes_canonically_or_is_a_bad_request(text: str) -> None:
    error: BadRequest | None = None
    try:
        key = decode_cursor(text)
    except BadRequest as exc:
        error = exc
    if error is None:
        assert encode_cursor(key.created_at, key.id) == text
    else:
        assert (error.code, error.http_status) == ("invalid_cursor", 400)
        assert "next_cursor" in error.message


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        _b64("2026-01-01T00:00:00+00:00"),  # no separator
        _b64("2026-01-01T00:00:00.000000+00:00|"),  # no id
        _b64("yesterday|abc"),  # not a date
        _b64("2026-01-01T00:00:00.000000|abc"),  # naive
        _b64("2026-01-01T01:00:00.000000+01:00|abc"),  # not canonical UTC
        _b64("2026-01-01T00:00:00.000000+00:00|abc") + "==",  # padded
        base64.b64encode(b"\xff\xfe|x").decode(),  # not UTF-8
    ],
)
def test_malformed_cursors_are_bad_requests(cursor: str) -> None:
    with pytest.raises(BadRequest, match="Invalid pagination cursor"):
        decode_cursor(cursor)


def test_a_naive_datetime_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_cursor(datetime(2026, 1, 1), "x")


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "10"])
def test_check_page_size_refuses_non_positive_or_non_int(bad: object) -> None:
    with pytest.raises(BadRequest, match="limit"):
        check_page_size(bad)


def test_check_page_size_passes_a_positive_int() -> None:
    assert check_page_size(7) == 7
