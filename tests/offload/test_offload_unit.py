"""The pure parts of nginx offload: the X-Accel-Redirect headers, the If-Range decision and
the settings, without nginx."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import ConfigurationError, StorageError
from mediakit.proxy import OFFLOAD_WHOLE, offload_headers, offload_ignores_range
from mediakit.settings import Settings
from mediakit.storage import ObjectInfo

ORIGINS = ("http://127.0.0.1:9000", "http://media.127.0.0.1:9000")
URL = "http://127.0.0.1:9000/media/music/a/b/r1/medium.mp3?X-Amz-Signature=abc&x=1"
INFO = ObjectInfo("k", 100, '"abc"', datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_redirect_carries_path_and_query_only() -> None:
    """The redirect is the internal location plus the URL's path and query, no host."""
    headers = dict(
        offload_headers(
            URL,
            origins=ORIGINS,
            location="/_mk/",
            content_type="audio/mpeg",
            disposition='attachment; filename="a.mp3"',
        )
    )
    assert headers["X-Accel-Redirect"] == (
        "/_mk/media/music/a/b/r1/medium.mp3?X-Amz-Signature=abc&x=1"
    )
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Content-Disposition"] == 'attachment; filename="a.mp3"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["Cache-Control"].startswith("private")


def test_whole_object_redirect_and_allowlisted_type() -> None:
    """A failed If-Range goes to the _whole/ sub-path; an unknown type is octet-stream."""
    headers = dict(
        offload_headers(
            URL,
            origins=ORIGINS,
            location="/_mk/",
            content_type="image/svg+xml",
            disposition=None,
            whole=True,
        )
    )
    assert headers["X-Accel-Redirect"].startswith(f"/_mk/{OFFLOAD_WHOLE}media/")
    assert headers["Content-Type"] == "application/octet-stream"
    assert "Content-Disposition" not in headers


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/media/k?sig=1",
        "https://127.0.0.1:9000/media/k",  # other scheme
        "http://127.0.0.1:90000/media/k",  # other port
        "http://127.0.0.1:9000@evil.example/media/k",
        "http://127.0.0.1:9000",  # no path
    ],
)
def test_urls_off_the_endpoint_are_refused(url: str) -> None:
    """Only the configured endpoint's origins are ever offloaded."""
    with pytest.raises(StorageError, match="MEDIA_S3_ENDPOINT"):
        offload_headers(url, origins=ORIGINS, location="/_mk/", content_type=None, disposition=None)


@given(st.text())
def test_any_other_origin_is_refused_or_kept_on_the_endpoint(prefix: str) -> None:
    """Whatever the URL, the redirect never names a host: either refused, or the path and
    query of a URL that starts with a configured origin."""
    url = prefix + "/x"
    try:
        headers = dict(
            offload_headers(
                url, origins=ORIGINS, location="/_mk/", content_type=None, disposition=None
            )
        )
    except StorageError:
        assert not any(url.startswith(o + "/") for o in ORIGINS)
    else:
        assert any(url.startswith(o + "/") for o in ORIGINS)
        assert headers["X-Accel-Redirect"].startswith("/_mk/")


@pytest.mark.parametrize(
    ("headers", "ignored"),
    [
        ({}, False),
        ({"Range": "bytes=0-"}, False),
        ({"If-Range": '"abc"'}, False),  # no Range: nothing to ignore
        ({"Range": "bytes=0-", "If-Range": '"abc"'}, False),
        ({"range": "bytes=0-", "if-range": '"other"'}, True),
        ({"Range": "bytes=0-", "If-Range": 'W/"abc"'}, True),  # weak never matches
        ({"Range": "bytes=0-", "If-Range": "Fri, 02 Jan 2026 03:04:05 GMT"}, False),
        ({"Range": "bytes=0-", "If-Range": "Fri, 02 Jan 2026 03:04:06 GMT"}, True),
        ({"Range": "bytes=0-", "If-Range": "garbage"}, True),
    ],
)
def test_if_range_decision(headers: dict[str, str], ignored: bool) -> None:
    """The app drops the Range exactly when If-Range fails (RFC 9110 §13.1.5)."""
    assert offload_ignores_range(headers, INFO) is ignored


def test_offload_needs_s3_storage() -> None:
    """MEDIA_DELIVERY=offload without S3 storage fails at start, naming the variable."""
    with pytest.raises(ConfigurationError, match="MEDIA_DELIVERY"):
        Settings(delivery="offload")
    assert Settings(delivery="offload", storage_backend="s3").delivery == "offload"


@pytest.mark.parametrize("bad", ["_mk/", "/_mk", "/", "/a b/", "/a/../b/", "//x/", "/x?y/"])
def test_offload_location_is_validated(bad: str) -> None:
    """MEDIA_OFFLOAD_LOCATION must be a plain /path/; a bad one names the variable."""
    with pytest.raises(ConfigurationError, match="MEDIA_OFFLOAD_LOCATION"):
        Settings.from_env({"MEDIA_OFFLOAD_LOCATION": bad})
    assert Settings.from_env({"MEDIA_OFFLOAD_LOCATION": "/internal/s3/"}).offload_location == (
        "/internal/s3/"
    )
