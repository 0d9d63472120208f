"""The Range proxy (/api/v1/user/media/{id}/stream) and the local signed URLs: 200/206/304/412/416."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from PIL import Image

from tests import servers
from tests.http_contract.harness import THUMBNAIL_SIZES, Api, assert_error
from tests.media_samples import FFMPEG, audio_bytes, jpeg_bytes


@pytest.fixture(scope="module")
def image(api: Api) -> dict[str, Any]:
    """A visible, processed JPEG and its original bytes."""
    data = jpeg_bytes(700, 500)
    created = api.create_image(f"proxy-{uuid.uuid4().hex[:8]}", visible=True, content=data)
    ready = api.wait_image(created["id"])
    assert ready["status"] == "ready", ready
    return {**ready, "data": data}


@pytest.fixture(scope="module")
def track(api: Api) -> dict[str, Any]:
    """A ready track in a visible set, and its original bytes."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    s = api.create_set(f"proxy-{uuid.uuid4().hex[:8]}", visible=True)
    data = audio_bytes("wav", 2.0)
    r = api.upload_tracks(s["id"], [("Proxy Tone.wav", data, "audio/wav")])
    assert r.status_code == 201, r.text
    t = api.wait_track(s["id"], r.json()["items"][0]["id"])
    assert t["status"] == "ready", t
    return {**t, "data": data}


def proxy(image_or_track: dict[str, Any]) -> str:
    """The proxy path of an image or track."""
    return f"/api/v1/user/media/{image_or_track['id']}/stream"


def test_proxy_serves_the_whole_original(api: Api, image: dict[str, Any]) -> None:
    """GET without Range is 200 with every byte, Accept-Ranges, ETag and Content-Length."""
    r = api.user.get(proxy(image))
    assert r.status_code == 200, r.text[:300]
    assert r.content == image["data"]
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-length"] == str(len(image["data"]))
    assert r.headers["content-type"].startswith("image/jpeg")
    assert r.headers["etag"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", None, None)],
)
def test_proxy_range_is_206(
    api: Api, image: dict[str, Any], header: str, start: int | None, end: int | None
) -> None:
    """A satisfiable Range is 206 with the exact slice and Content-Range."""
    data: bytes = image["data"]
    size = len(data)
    if start is None:
        start, end = size - 50, size - 1
    elif end is None:
        end = size - 1
    r = api.user.get(proxy(image), headers={"Range": header})
    assert r.status_code == 206, r.text[:300]
    assert r.content == data[start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert r.headers["content-length"] == str(end - start + 1)


def test_proxy_unsatisfiable_range_is_416_with_content_range(
    api: Api, image: dict[str, Any]
) -> None:
    """A Range starting at or past the end is 416 with Content-Range: bytes */size."""
    size = len(image["data"])
    r = api.user.get(proxy(image), headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416, r.text[:300]
    assert r.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=garbage0-9garbage", "items=0-9", "bytes=9-2"])
def test_proxy_ignores_malformed_range(api: Api, image: dict[str, Any], header: str) -> None:
    """A syntactically invalid Range header is ignored: 200 with the whole body."""
    r = api.user.get(proxy(image), headers={"Range": header})
    assert r.status_code == 200, (header, r.status_code)
    assert r.content == image["data"]


def test_proxy_conditional_requests(api: Api, image: dict[str, Any]) -> None:
    """If-None-Match -> 304, If-Match mismatch -> 412, If-Range mismatch -> full 200."""
    first = api.user.get(proxy(image))
    etag = first.headers["etag"]
    r = api.user.get(proxy(image), headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    r = api.user.get(proxy(image), headers={"If-Match": '"not-the-etag"'})
    assert r.status_code == 412
    r = api.user.get(proxy(image), headers={"If-Match": etag, "Range": "bytes=0-9"})
    assert r.status_code == 206
    r = api.user.get(proxy(image), headers={"If-Range": '"old"', "Range": "bytes=0-9"})
    assert r.status_code == 200
    assert r.content == image["data"]
    r = api.user.get(proxy(image), headers={"If-Range": etag, "Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.content == image["data"][:10]
    if "last-modified" in first.headers:
        r = api.user.get(
            proxy(image), headers={"If-Modified-Since": first.headers["last-modified"]}
        )
        assert r.status_code == 304


def test_proxy_head_has_headers_and_no_body(api: Api, image: dict[str, Any]) -> None:
    """HEAD answers like GET without a body."""
    r = api.user.head(proxy(image))
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == str(len(image["data"]))
    assert r.headers["accept-ranges"] == "bytes"
    r = api.user.head(proxy(image), headers={"Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 0-9/{len(image['data'])}"


def test_proxy_serves_thumbnails_by_size(api: Api, image: dict[str, Any]) -> None:
    """?size=w320 serves that thumbnail; an unknown size is 422."""
    size = THUMBNAIL_SIZES[-1]
    r = api.user.get(proxy(image), params={"size": f"w{size}"})
    assert r.status_code == 200, r.text[:300]
    with Image.open(io.BytesIO(r.content)) as im:
        assert max(im.size) == size
    r = api.user.get(proxy(image), params={"size": "w99999"})
    assert r.status_code in (404, 422), r.text
    assert_error(r, r.status_code)


def test_proxy_needs_a_token(api: Api, image: dict[str, Any]) -> None:
    """The proxy checks access on every request: no token is 401."""
    assert_error(api.anon.get(proxy(image)), 401)


@pytest.mark.ffmpeg
def test_proxy_streams_tracks_at_the_default_quality(api: Api, track: dict[str, Any]) -> None:
    """A track through the proxy is the default (medium) tier, with Range support."""
    sid = track["set_id"]
    medium = api.user.get(
        f"/api/v1/user/music-sets/{sid}/stream/{track['id']}", params={"quality": "medium"}
    ).json()
    tier = api.fetch(medium["url"]).content
    r = api.user.get(proxy(track))
    assert r.status_code == 200
    assert r.content == tier
    assert r.headers["content-type"].split(";")[0] in ("audio/mpeg", "audio/mp4", "audio/aac")
    r = api.user.get(proxy(track), params={"quality": "low"}, headers={"Range": "bytes=0-1023"})
    assert r.status_code == 206
    assert len(r.content) == 1024
    assert_error(api.user.get(proxy(track), params={"quality": "ultra"}), 422, "invalid_input")


@pytest.mark.ffmpeg
def test_proxy_original_is_an_attachment(api: Api, track: dict[str, Any]) -> None:
    """?quality=original serves the upload as an attachment with its file name."""
    r = api.user.get(proxy(track), params={"quality": "original"})
    assert r.status_code == 200
    assert r.content == track["data"]
    disposition = r.headers["content-disposition"]
    assert disposition.lower().startswith("attachment")
    assert "Proxy" in disposition
    assert "Tone.wav" in disposition


def test_handed_out_urls_are_signed(api: Api, image: dict[str, Any]) -> None:
    """S3: the URL is a SigV4-presigned URL of the S3 endpoint. Local: HEAD works, tampering is 403."""
    url = api.absolute(image["url"])
    if api.uses_s3:
        assert url.startswith(api.env["MEDIA_S3_ENDPOINT"])
        assert "X-Amz-Signature=" in url
        assert "X-Amz-Expires=" in url
        return
    assert api.fetch(url).status_code == 200
    head = api.raw.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(image["data"]))
    assert head.headers["accept-ranges"] == "bytes"
    last = url[-1]
    tampered = url[:-1] + ("0" if last != "0" else "1")
    assert_error(api.fetch(tampered), 403)
    # pointing a valid signature at another object is refused too
    other_url = api.absolute(image["thumbnails"][f"w{THUMBNAIL_SIZES[0]}"])
    swapped = url.split("?")[0] + "?" + other_url.split("?", 1)[1]
    assert_error(api.fetch(swapped), 403)
