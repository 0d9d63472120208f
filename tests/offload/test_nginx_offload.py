"""MEDIA_DELIVERY=offload behind a real nginx (config from docs/howto/nginx.md) on S3 over
HTTP: the app authorizes every request, nginx streams from S3 with the client's Range."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests import servers
from tests.media_samples import FFMPEG, audio_bytes, jpeg_bytes
from tests.offload.conftest import Offloaded

CSP = "default-src 'none'; sandbox"


def wait_track(admin: httpx.Client, set_id: str, track_id: str) -> dict[str, Any]:
    """Poll the admin set detail until the track is processed."""
    deadline = time.monotonic() + 60
    while True:
        r = admin.get(f"/api/v1/admin/music-sets/{set_id}")
        assert r.status_code == 200, r.text
        (found,) = [t for t in r.json()["tracks"] if t["id"] == track_id]
        if found["status"] in ("ready", "failed") or time.monotonic() > deadline:
            return dict(found)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def track(offloaded: Offloaded) -> dict[str, Any]:
    """A ready track (4 s of audio) in a visible set, with its stream and download URLs."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    admin = offloaded.admin
    s = admin.post(
        "/api/v1/admin/music-sets", json={"title": f"off-{uuid.uuid4().hex[:6]}", "visible": True}
    )
    assert s.status_code == 201, s.text
    set_id = s.json()["id"]
    files = [("files", ("Offload Tone.wav", audio_bytes("wav", 4.0), "audio/wav"))]
    r = admin.post(f"/api/v1/admin/music-sets/{set_id}/tracks", files=files)
    assert r.status_code == 201, r.text
    track_id = r.json()["items"][0]["id"]
    t = wait_track(admin, set_id, track_id)
    assert t["status"] == "ready", t
    stream = offloaded.user.get(
        f"/api/v1/user/music-sets/{set_id}/stream/{track_id}", params={"quality": "medium"}
    ).json()
    download = offloaded.user.get(f"/api/v1/user/music-sets/{set_id}/download/{track_id}").json()
    assert "url" in stream, stream
    whole = offloaded.raw.get(offloaded.nginx_url + stream["url"])
    assert whole.status_code == 200, (whole.text[:300], offloaded.nginx_log())
    return {
        "set_id": set_id,
        "id": track_id,
        "stream": stream,
        "download": download,
        "bytes": whole.content,
    }


def media(offloaded: Offloaded, url: str, **headers: str) -> httpx.Response:
    """GET a handed-out URL through nginx, as a media element would (no Authorization)."""
    return offloaded.raw.get(offloaded.nginx_url + url, headers=headers)


def test_app_answers_with_a_redirect_to_the_internal_location(
    offloaded: Offloaded, track: dict[str, Any]
) -> None:
    """Straight from the app: an empty answer whose X-Accel-Redirect holds the planned span
    and only the presigned URL's path and query under MEDIA_OFFLOAD_LOCATION, plus the
    proxy's headers."""
    r = offloaded.raw.get(offloaded.app_url + track["stream"]["url"])
    assert r.status_code == 200
    assert r.content == b""
    target = r.headers["x-accel-redirect"]
    bucket = offloaded.env["MEDIA_ASSETS_BUCKET"]
    assert target.startswith(f"/_mediakit_offload/all/{bucket}/music/")
    ranged = offloaded.raw.get(
        offloaded.app_url + track["stream"]["url"], headers={"Range": "bytes=-100"}
    )
    size = len(track["bytes"])
    assert ranged.headers["x-accel-redirect"].startswith(
        f"/_mediakit_offload/bytes={size - 100}-{size - 1}/{bucket}/music/"
    )
    assert "://" not in target
    assert "X-Amz-Signature=" in target
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["cache-control"].startswith("private")


def test_audio_seek_pattern(offloaded: Offloaded, track: dict[str, Any]) -> None:
    """bytes=0- then mid-file ranges, as <audio> sends them: 206 with the right bytes."""
    data: bytes = track["bytes"]
    size = len(data)
    assert size > 10_000
    url = track["stream"]["url"]
    r = media(offloaded, url, Range="bytes=0-")
    assert r.status_code == 206, (r.text[:300], offloaded.nginx_log())
    assert r.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert r.content == data
    for first in (size // 3, size // 2, size - 100):
        r = media(offloaded, url, Range=f"bytes={first}-")
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes {first}-{size - 1}/{size}"
        assert r.content == data[first:]
    r = media(offloaded, url, Range="bytes=1000-1999")
    assert (r.status_code, r.content) == (206, data[1000:2000])
    assert r.headers["content-length"] == "1000"


def test_head_is_the_get_headers_without_body(offloaded: Offloaded, track: dict[str, Any]) -> None:
    """HEAD through nginx: 200, the object's length and type, no body."""
    r = offloaded.raw.head(offloaded.nginx_url + track["stream"]["url"])
    assert r.status_code == 200, offloaded.nginx_log()
    assert r.headers["content-length"] == str(len(track["bytes"]))
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.content == b""
    r = offloaded.raw.head(
        offloaded.nginx_url + track["stream"]["url"], headers={"Range": "bytes=0-9"}
    )
    assert r.status_code == 206
    assert r.headers["content-range"].startswith("bytes 0-9/")


def test_range_past_the_end_is_416(offloaded: Offloaded, track: dict[str, Any]) -> None:
    """A range starting past the end is the proxy's 416: Content-Range */size, JSON error,
    whatever the S3 service would have answered."""
    size = len(track["bytes"])
    r = media(offloaded, track["stream"]["url"], Range=f"bytes={size + 10}-")
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    assert r.json()["error"]["code"] == "range_not_satisfiable"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_suffix_clamped_and_invalid_ranges(offloaded: Offloaded, track: dict[str, Any]) -> None:
    """bytes=-N is the last N bytes, an end past the size is clamped, garbage is ignored."""
    data: bytes = track["bytes"]
    size = len(data)
    url = track["stream"]["url"]
    r = media(offloaded, url, Range="bytes=-500")
    assert (r.status_code, r.content) == (206, data[-500:])
    assert r.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    r = media(offloaded, url, Range=f"bytes=100-{size * 2}")
    assert (r.status_code, r.content) == (206, data[100:])
    r = media(offloaded, url, Range="bytes=garbage0-9garbage")
    assert (r.status_code, r.content) == (200, data)


def test_if_range(offloaded: Offloaded, track: dict[str, Any]) -> None:
    """A matching If-Range keeps the range (206); a stale one gets the whole object (200)."""
    url = track["stream"]["url"]
    etag = media(offloaded, url, Range="bytes=0-0").headers["etag"]
    r = media(offloaded, url, Range="bytes=10-19", **{"If-Range": etag})
    assert (r.status_code, r.content) == (206, track["bytes"][10:20])
    r = media(offloaded, url, Range="bytes=10-19", **{"If-Range": '"stale-etag"'})
    assert r.status_code == 200, offloaded.nginx_log()
    assert r.content == track["bytes"]
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    r = media(offloaded, url, Range="bytes=10-19", **{"If-Range": old})
    assert r.status_code == 200


def test_conditional_get_is_304_and_412(offloaded: Offloaded, track: dict[str, Any]) -> None:
    """If-None-Match with the current ETag is 304; a failing If-Match 412; the ETag and date
    nginx passes from S3 are the ones the app plans with."""
    url = track["stream"]["url"]
    got = media(offloaded, url, Range="bytes=0-0")
    etag = got.headers["etag"]
    r = media(offloaded, url, **{"If-None-Match": etag})
    assert r.status_code == 304
    assert r.headers["etag"] == etag
    assert r.content == b""
    assert (
        media(offloaded, url, **{"If-Modified-Since": got.headers["last-modified"]}).status_code
        == 304
    )
    assert media(offloaded, url, **{"If-Match": '"nope"'}).status_code == 412


def test_security_headers_on_the_offloaded_response(
    offloaded: Offloaded, track: dict[str, Any]
) -> None:
    """nosniff, CSP sandbox, Cache-Control private, allowlisted type, one disposition, and
    nothing of S3's or of the redirect leaks."""
    for url in (track["stream"]["url"], track["download"]["url"]):
        r = media(offloaded, url, Range="bytes=0-99")
        assert r.status_code == 206
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == CSP
        assert r.headers.get_list("cache-control") == ["private, max-age=0"]
        assert "x-accel-redirect" not in r.headers
        assert not [h for h in r.headers if h.lower().startswith("x-amz-")]
    r = media(offloaded, track["download"]["url"], Range="bytes=0-99")
    dispositions = r.headers.get_list("content-disposition")
    assert len(dispositions) == 1
    assert dispositions[0].startswith("attachment")
    assert "Offload Tone" in dispositions[0] or "Offload%20Tone" in dispositions[0]
    assert r.headers["content-type"] in ("audio/wav", "audio/x-wav", "application/octet-stream")


def test_image_types_are_allowlisted(offloaded: Offloaded) -> None:
    """An image is served as its allowlisted type, inline, through nginx."""
    files = [("files", ("pic.jpg", jpeg_bytes(200, 100), "image/jpeg"))]
    r = offloaded.admin.post("/api/v1/admin/images/upload", files=files, data={"visible": "true"})
    assert r.status_code == 201, r.text
    image_id = r.json()["items"][0]["id"]
    deadline = time.monotonic() + 30  # users see an image once it is ready
    while offloaded.admin.get(f"/api/v1/admin/images/{image_id}").json()["status"] != "ready":
        assert time.monotonic() < deadline, "the image was not processed in 30 s"
        time.sleep(0.1)
    image = offloaded.user.get(f"/api/v1/user/images/{image_id}").json()
    got = media(offloaded, image["url"])
    assert got.status_code == 200, offloaded.nginx_log()
    assert got.headers["content-type"] == "image/jpeg"
    assert got.content[:2] == b"\xff\xd8"


def test_token_requests_do_not_send_authorization_to_s3(
    offloaded: Offloaded, track: dict[str, Any]
) -> None:
    """A request with a bearer token and no grant is offloaded too (S3 would refuse a presigned
    request that also carried the client's Authorization header)."""
    bare = urlsplit(track["stream"]["url"])
    query = {k: v for k, v in parse_qsl(bare.query) if k not in ("exp", "sig")}
    r = offloaded.user.get(bare.path, params=query, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206, (r.text[:300], offloaded.nginx_log())
    assert r.content == track["bytes"][:10]
    r = offloaded.raw.get(offloaded.nginx_url + bare.path, params=query)
    assert r.status_code == 401


def test_tampered_grant_is_refused_before_nginx_fetches(
    offloaded: Offloaded, track: dict[str, Any]
) -> None:
    """A changed quality or signature is the app's 403 JSON, nothing from S3."""
    url = track["stream"]["url"].replace("quality=medium", "quality=high")
    r = media(offloaded, url)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "url_signature_invalid"


def test_internal_location_is_not_reachable_from_outside(
    offloaded: Offloaded, track: dict[str, Any]
) -> None:
    """The redirect target fetched directly is nginx's 404, never the object."""
    redirect = offloaded.raw.get(offloaded.app_url + track["stream"]["url"]).headers[
        "x-accel-redirect"
    ]
    r = offloaded.raw.get(offloaded.nginx_url + redirect)
    assert r.status_code == 404
    assert r.content != track["bytes"]


def test_hidden_item_is_404_at_once(offloaded: Offloaded, track: dict[str, Any]) -> None:
    """Hiding the set makes the same offload URL 404 on the next request; showing it again
    restores it. (Runs last: it changes the shared track's set.)"""
    url = track["stream"]["url"]
    assert media(offloaded, url, Range="bytes=0-9").status_code == 206
    path = f"/api/v1/admin/music-sets/{track['set_id']}/visibility"
    assert offloaded.admin.put(path, json={"visible": False}).status_code == 200
    r = media(offloaded, url, Range="bytes=0-9")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert offloaded.admin.put(path, json={"visible": True}).status_code == 200
    assert media(offloaded, url, Range="bytes=0-9").status_code == 206
