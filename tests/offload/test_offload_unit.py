"""nginx offload without nginx: the X-Accel-Redirect headers, the planning of spans and of
the answers the app gives itself (the Range proxy's rules), and the settings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import ConfigurationError, NotFound, StorageError
from mediakit.http.plan import plan_response
from mediakit.proxy import ObjectInfoCache, offload_headers
from mediakit.service._serving import Offload
from mediakit.service._serving_sync import SyncServing
from mediakit.settings import Settings
from mediakit.storage import ByteSpan
from mediakit.storage.memory import MemoryObjectStore

ORIGINS = ("http://127.0.0.1:9000", "http://media.127.0.0.1:9000")
URL = "http://127.0.0.1:9000/media/music/a/b/r1/medium.mp3?X-Amz-Signature=abc&x=1"


def test_redirect_carries_span_path_and_query_only() -> None:
    """The redirect is the internal location, the planned span, then the URL's path and
    query: no host."""
    headers = dict(
        offload_headers(
            URL,
            origins=ORIGINS,
            location="/_mk/",
            span=ByteSpan(10, 19),
            content_type="audio/mpeg",
            disposition='attachment; filename="a.mp3"',
        )
    )
    assert headers["X-Accel-Redirect"] == (
        "/_mk/bytes=10-19/media/music/a/b/r1/medium.mp3?X-Amz-Signature=abc&x=1"
    )
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Content-Disposition"] == 'attachment; filename="a.mp3"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["Cache-Control"].startswith("private")


def test_whole_object_redirect_and_allowlisted_type() -> None:
    """No span is `all/`; an unknown type is octet-stream."""
    headers = dict(
        offload_headers(
            URL,
            origins=ORIGINS,
            location="/_mk/",
            span=None,
            content_type="image/svg+xml",
            disposition=None,
        )
    )
    assert headers["X-Accel-Redirect"].startswith("/_mk/all/media/")
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
        offload_headers(
            url, origins=ORIGINS, location="/_mk/", span=None, content_type=None, disposition=None
        )


@given(st.text())
def test_any_other_origin_is_refused_or_kept_on_the_endpoint(prefix: str) -> None:
    """Whatever the URL, the redirect never names a host: either refused, or the path and
    query of a URL that starts with a configured origin."""
    url = prefix + "/x"
    try:
        headers = dict(
            offload_headers(
                url,
                origins=ORIGINS,
                location="/_mk/",
                span=None,
                content_type=None,
                disposition=None,
            )
        )
    except StorageError:
        assert not any(url.startswith(o + "/") for o in ORIGINS)
    else:
        assert any(url.startswith(o + "/") for o in ORIGINS)
        assert headers["X-Accel-Redirect"].startswith("/_mk/")


@pytest.fixture
def serving() -> SyncServing:
    """Offload planning over a memory store holding a 100-byte object."""
    store = MemoryObjectStore()
    store.put_bytes("k", bytes(range(100)), content_type="audio/mpeg")
    return SyncServing(store, 64 * 1024, ObjectInfoCache())


def _offload(
    serving: SyncServing, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    served = serving.offload(
        "k", URL, method, headers, "audio/mpeg", None, Offload("/_mk/", ORIGINS)
    )
    return served.status, dict(served.headers), b"".join(served.body)


def _span(headers: dict[str, str]) -> str:
    return headers["X-Accel-Redirect"].split("/")[2]


@pytest.mark.parametrize(
    ("headers", "span"),
    [
        ({}, "all"),
        ({"Range": "bytes=0-"}, "bytes=0-99"),
        ({"Range": "bytes=-10"}, "bytes=90-99"),
        ({"Range": "bytes=50-1000"}, "bytes=50-99"),  # clamped
        ({"Range": "bytes=0-1,5-6"}, "bytes=0-6"),  # coalesced into one span
        ({"Range": "bytes=0-1,50-60"}, "bytes=0-60"),  # a small gap: coalesced too
        ({"Range": "bytes=garbage0-9garbage"}, "all"),  # invalid: ignored
        ({"Range": "bytes=0-9", "If-Range": '"stale"'}, "all"),
        ({"Range": "bytes=0-9", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}, "all"),
    ],
)
def test_offload_span_follows_the_proxy_rules(
    serving: SyncServing, headers: dict[str, str], span: str
) -> None:
    """GETs with bytes to send are redirected with the span the proxy would send."""
    status, out, body = _offload(serving, **headers)
    assert (status, body) == (200, b"")
    assert _span(out) == span
    plan = plan_response("GET", headers, serving.store.head("k"))
    expected = "all" if plan.status == 200 else f"bytes={plan.span.first}-{plan.span.last}"
    assert span == expected  # exactly what the Range proxy would send


def test_two_distant_ranges_are_sent_whole() -> None:
    """A multi-span request the proxy answers whole is offloaded whole."""
    store = MemoryObjectStore()
    store.put_bytes("k", bytes(200_000), content_type="audio/mpeg")
    serving = SyncServing(store, 1024, None)
    assert _span(_offload(serving, Range="bytes=0-1,150000-150001")[1]) == "all"


def test_matching_if_range_keeps_the_span(serving: SyncServing) -> None:
    """If-Range with the current ETag keeps the range."""
    etag = _offload(serving, "HEAD")[1]["ETag"]
    assert _span(_offload(serving, Range="bytes=0-9", **{"If-Range": etag})[1]) == "bytes=0-9"


def test_head_304_412_416_are_answered_by_the_app(serving: SyncServing) -> None:
    """No redirect when no bytes are sent: the proxy's own answers."""
    status, headers, body = _offload(serving, "HEAD", Range="bytes=0-9")
    assert (status, body, headers["Content-Range"]) == (206, b"", "bytes 0-9/100")
    assert "X-Accel-Redirect" not in headers
    etag = headers["ETag"]
    status, headers, body = _offload(serving, **{"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert "X-Accel-Redirect" not in headers
    assert _offload(serving, **{"If-Match": '"other"'})[0] == 412
    status, headers, body = _offload(serving, Range="bytes=100-")
    assert status == 416
    assert headers["Content-Range"] == "bytes */100"
    assert b"range_not_satisfiable" in body
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_offload_of_a_missing_object_is_404() -> None:
    """A row whose object is gone is NotFound before anything is offloaded."""
    serving = SyncServing(MemoryObjectStore(), 1024, None)
    with pytest.raises(NotFound):
        serving.offload("gone", URL, "GET", {}, None, None, Offload("/_mk/", ORIGINS))


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
