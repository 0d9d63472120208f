"""Content-Disposition (RFC 6266 / RFC 8187) from untrusted file names."""

from __future__ import annotations

import re
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from mediakit.http.disposition import MAX_FILENAME_CHARS, content_disposition, safe_filename

_VALUE = re.compile(
    r"(attachment|inline); filename=\"([\x20\x21\x23-\x24\x26-\x5b\x5d-\x7e]*)\""
    r"(; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+))?"
)


def test_ascii_name_has_only_the_quoted_form() -> None:
    """A plain ASCII name is sent as filename="..." only."""
    assert content_disposition("song.mp3", attachment=True) == 'attachment; filename="song.mp3"'
    assert content_disposition("photo.jpg", attachment=False) == 'inline; filename="photo.jpg"'


def test_unicode_name_gets_rfc8187_form_and_ascii_fallback() -> None:
    """Non-ASCII names add filename*=UTF-8'' with percent-encoding and a transliterated fallback."""
    value = content_disposition("Café Ünïcode.mp3", attachment=True)
    assert value == (
        "attachment; filename=\"Cafe Unicode.mp3\"; filename*=UTF-8''Caf%C3%A9%20%C3%9Cn%C3%AFcode.mp3"
    )
    value = content_disposition("日本語.mp3", attachment=True)
    assert value.startswith('attachment; filename="download.mp3"')
    assert "filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.mp3" in value


def test_header_injection_is_impossible() -> None:
    """CR, LF, quotes, backslashes and percent signs never reach the header unescaped."""
    value = content_disposition('evil"\r\nSet-Cookie: a=b%41.mp3', attachment=True)
    assert "\r" not in value
    assert "\n" not in value
    assert _VALUE.fullmatch(value), value
    assert 'filename="evil_Set-Cookie: a=b_41.mp3"' in value
    assert "filename*=UTF-8''evil%22Set-Cookie%3A%20a%3Db%2541.mp3" in value
    assert "\\" not in content_disposition("a\\b.mp3", attachment=True)


def test_paths_and_empty_names() -> None:
    """Directories are stripped; an empty or dot-only name becomes "download"."""
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\x\\song.mp3") == "song.mp3"
    assert safe_filename("") == "download"
    assert safe_filename("...") == "download"
    assert safe_filename("\x00\x01") == "download"
    assert safe_filename("a\udcff.mp3") == "a?.mp3"  # lone surrogate


def test_long_names_keep_their_extension() -> None:
    """Names longer than MAX_FILENAME_CHARS are cut, keeping the extension."""
    name = safe_filename("x" * 500 + ".flac")
    assert len(name) == MAX_FILENAME_CHARS
    assert name.endswith(".flac")


@given(st.text(), st.booleans())
def test_any_name_gives_a_safe_header(name: str, attachment: bool) -> None:
    """For any name the value is printable ASCII of the RFC 6266 shape, and filename* decodes back."""
    value = content_disposition(name, attachment=attachment)
    match = _VALUE.fullmatch(value)
    assert match, value
    encoded = match[4]
    decoded = unquote(encoded, errors="strict") if encoded else match[2]
    assert decoded == safe_filename(name)
