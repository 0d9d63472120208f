"""The pure upload budget: caps raise the moment they are crossed, with actionable messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import BadRequest, UploadTooLarge
from mediakit.settings import Settings
from mediakit.uploads.limits import UploadLimits, format_size


def test_from_settings_copies_every_cap() -> None:
    s = Settings(
        max_file_size=10,
        max_upload_size_total=20,
        max_files_per_request=3,
        max_fields_per_request=4,
    )
    assert UploadLimits.from_settings(s) == UploadLimits(
        max_file_size=10,
        max_upload_size_total=20,
        max_files_per_request=3,
        max_fields_per_request=4,
    )


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1 KiB"),
        (1536 * 1024, "1.5 MiB"),
        (4 * 1024**3, "4 GiB"),
        (8 * 1024**3, "8 GiB"),
    ],
)
def test_format_size_uses_binary_units(n: int, text: str) -> None:
    assert format_size(n) == text


def test_content_length_above_total_cap_is_refused_before_reading() -> None:
    b = UploadLimits(max_upload_size_total=2 * 1024**3).budget()
    b.check_content_length(2 * 1024**3)
    with pytest.raises(UploadTooLarge, match="2 GiB") as info:
        b.check_content_length(str(2 * 1024**3 + 1))
    assert info.value.http_status == 413
    assert b.body_bytes == 0


def test_missing_content_length_passes_and_caps_apply_while_streaming() -> None:
    b = UploadLimits(max_upload_size_total=100).budget()
    b.check_content_length(None)
    b.add_body(100)
    with pytest.raises(UploadTooLarge, match="100 bytes allowed in one request"):
        b.add_body(1)


@pytest.mark.parametrize("bad", ["", "12a", "-5", "+5", "1_000", "١٢"])
def test_malformed_content_length_is_a_bad_request(bad: str) -> None:
    with pytest.raises(BadRequest, match="Content-Length"):
        UploadLimits().budget().check_content_length(bad)


def test_per_file_cap_names_the_file_and_the_limit() -> None:
    b = UploadLimits(max_file_size=5 * 1024**2).budget()
    b.start_file("holiday.jpg")
    b.add_file_bytes(5 * 1024**2)
    with pytest.raises(UploadTooLarge) as info:
        b.add_file_bytes(1)
    assert "'holiday.jpg'" in info.value.message
    assert "5 MiB" in info.value.message


def test_per_file_count_resets_for_each_file() -> None:
    b = UploadLimits(max_file_size=10).budget()
    for name in ("a", "b", "c"):
        b.start_file(name)
        b.add_file_bytes(10)
        b.end_file()


def test_total_cap_message_names_the_file_being_read() -> None:
    b = UploadLimits(max_upload_size_total=10).budget()
    b.start_file("third.flac")
    with pytest.raises(UploadTooLarge, match=r"third\.flac"):
        b.add_body(11)


def test_too_many_files_is_a_bad_request() -> None:
    b = UploadLimits(max_files_per_request=2).budget()
    b.start_file("1")
    b.start_file("2")
    with pytest.raises(BadRequest, match="at most 2") as info:
        b.start_file("3")
    assert info.value.http_status == 400


def test_too_many_fields_and_too_long_fields_are_bad_requests() -> None:
    b = UploadLimits(max_fields_per_request=1, max_field_size=4).budget()
    b.start_field("title")
    b.add_field_bytes("title", 4)
    with pytest.raises(BadRequest, match="'title' is longer"):
        b.add_field_bytes("title", 1)
    with pytest.raises(BadRequest, match="Too many form fields"):
        b.start_field("other")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_file_size"):
        UploadLimits(max_file_size=0)


@given(cap=st.integers(1, 10_000), sizes=st.lists(st.integers(0, 3_000), max_size=30))
def test_file_cap_raises_exactly_when_the_running_total_crosses_it(
    cap: int, sizes: list[int]
) -> None:
    b = UploadLimits(max_file_size=cap).budget()
    b.start_file("f")
    total = 0
    for n in sizes:
        total += n
        if total > cap:
            with pytest.raises(UploadTooLarge):
                b.add_file_bytes(n)
            return
        b.add_file_bytes(n)
    assert b.file_bytes == total
