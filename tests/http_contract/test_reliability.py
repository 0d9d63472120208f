"""Issue 14 over HTTP, on every server kind: hostile images refused at the door (nothing
stored, no row), items that are not ready hidden from users, and ``Range: bytes= 0-9``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.conftest import s3_client
from tests.hostile_images import BOMB_SIZES, corrupt_png, tiny_bomb_png
from tests.http_contract.harness import Api, assert_error, jpeg_small
from tests.media_samples import FFMPEG, broken_wav_bytes, jpeg_bytes


def unique(prefix: str) -> str:
    """A title no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def original_keys(api: Api) -> set[str]:
    """Every ``images/{id}/original`` object in the server's store (filesystem or S3)."""
    bucket = api.env.get("MEDIA_ASSETS_BUCKET", "mediakit")
    if api.uses_s3:
        client: Any = s3_client(api.env["MEDIA_S3_ENDPOINT"])
        keys: set[str] = set()
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="images/"
        ):
            keys.update(o["Key"] for o in page.get("Contents", ()))
        return {k for k in keys if k.endswith("/original")}
    root = Path(api.env["MEDIAKIT_STORAGE_ROOT"]) / bucket
    return {p.relative_to(root).as_posix() for p in root.glob("images/*/original")}


def image_ids(api: Api) -> set[str]:
    """Every image row, as the admin listing shows them."""
    return {i["id"] for i in api.walk(api.admin, "/api/v1/admin/images")}


# --- defect 1: hostile images are refused before the upload is answered --------------------


@pytest.mark.parametrize(("width", "height"), BOMB_SIZES, ids=lambda v: str(v))
def test_tiny_png_bombs_are_refused_and_nothing_is_stored(
    api: Api, width: int, height: int
) -> None:
    """A 68-byte PNG declaring 20000x20000, 65535x65535 or 2**31-1 x 1: 422 naming the
    file and MEDIA_IMAGE_MAX_PIXELS; no row, no original in the store."""
    rows, objects = image_ids(api), original_keys(api)
    r = api.upload_images([("bomb.png", tiny_bomb_png(width, height), "image/png")])
    err = assert_error(r, 422, "image_refused")
    assert "'bomb.png'" in err["message"]
    assert "MEDIA_IMAGE_MAX_PIXELS" in err["message"]
    assert image_ids(api) == rows
    assert original_keys(api) == objects


def test_truncated_jpeg_is_refused_and_nothing_is_stored(api: Api) -> None:
    """A JPEG cut mid-scan is 422 'truncated or corrupt'; nothing is kept."""
    rows, objects = image_ids(api), original_keys(api)
    cut = jpeg_bytes(900, 700)[:6000]
    err = assert_error(api.upload_images([("cut.jpg", cut, "image/jpeg")]), 422, "image_refused")
    assert "'cut.jpg'" in err["message"]
    assert "truncated or corrupt" in err["message"]
    assert image_ids(api) == rows
    assert original_keys(api) == objects


def test_batch_with_one_bomb_is_refused_whole(api: Api) -> None:
    """ok, ok, bomb, ok, ok: one 422 for the request, 0 new rows and 0 new objects."""
    rows, objects = image_ids(api), original_keys(api)
    ok = [(f"ok{i}.jpg", jpeg_small(), "image/jpeg") for i in range(4)]
    files = [*ok[:2], ("bomb.png", tiny_bomb_png(20000, 20000), "image/png"), *ok[2:]]
    err = assert_error(api.upload_images(files, visible=True), 422, "image_refused")
    assert "'bomb.png'" in err["message"]
    assert image_ids(api) == rows
    assert original_keys(api) == objects
    # the same batch without the bomb goes through
    r = api.upload_images(ok, visible=True)
    assert r.status_code == 201, r.text
    assert len(r.json()["items"]) == 4


# --- defect 2: users see only what is ready -------------------------------------------------


def test_failed_image_is_404_for_users_and_explained_to_admins(api: Api) -> None:
    """A visible image whose processing failed is absent from the user listing, 404 on the
    user GET and the proxy (original and thumbnails); the admin sees it, with the reason."""
    r = api.upload_images([("broken.png", corrupt_png(), "image/png")], visible=True)
    assert r.status_code == 201, r.text
    iid = r.json()["items"][0]["id"]
    failed = api.wait_image(iid)
    assert failed["status"] == "failed", failed
    assert failed["failure_reason"]
    assert failed["visible"] is True
    put = api.admin.put(f"/api/v1/admin/images/{iid}", json={"visible": True})
    assert put.status_code == 200, put.text
    assert iid not in {i["id"] for i in api.walk(api.user, "/api/v1/user/images")}
    assert iid in image_ids(api)
    assert_error(api.user.get(f"/api/v1/user/images/{iid}"), 404, "not_found")
    for query in ("", "?size=original", "?size=w160"):
        assert_error(api.user.get(f"/api/v1/user/media/{iid}/stream{query}"), 404, "not_found")
    assert api.user.head(f"/api/v1/user/media/{iid}/stream").status_code == 404
    assert "failed" not in api.user.get("/api/v1/user/images", params={"limit": 100}).text


def test_ready_image_carries_no_failure_reason_for_users(api: Api) -> None:
    """A user's view of a ready image never carries a failure reason."""
    image = api.create_image(unique("ready"), visible=True)
    assert image["status"] == "ready"
    body = api.user.get(f"/api/v1/user/images/{image['id']}").json()
    assert body["status"] == "ready"
    assert body.get("failure_reason") is None
    listed = [i for i in api.walk(api.user, "/api/v1/user/images") if i["id"] == image["id"]]
    assert len(listed) == 1
    assert all(i.get("failure_reason") is None for i in api.walk(api.user, "/api/v1/user/images"))


def test_failed_track_is_404_for_users_and_left_out_of_the_set(api: Api) -> None:
    """A track whose processing failed is left out of the user's set (and its count), and
    its stream URL, download URL and proxy are 404; admins see it with the reason."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    s = api.create_set(unique("reliability"), visible=True)
    r = api.upload_tracks(s["id"], [("Broken.wav", broken_wav_bytes(), "audio/wav")])
    assert r.status_code == 201, r.text
    tid = r.json()["items"][0]["id"]
    track = api.wait_track(s["id"], tid)
    assert track["status"] == "failed", track
    assert track["failure_reason"]
    user_set = api.user.get(f"/api/v1/user/music-sets/{s['id']}")
    assert user_set.status_code == 200, user_set.text
    assert [t["id"] for t in user_set.json()["tracks"]] == []
    assert user_set.json()["track_count"] == 0
    listed = [x for x in api.walk(api.user, "/api/v1/user/music-sets") if x["id"] == s["id"]]
    assert [x["track_count"] for x in listed] == [0]
    admin_set = api.admin.get(f"/api/v1/admin/music-sets/{s['id']}").json()
    assert [t["id"] for t in admin_set["tracks"]] == [tid]
    base = f"/api/v1/user/music-sets/{s['id']}"
    assert_error(api.user.get(f"{base}/stream/{tid}"), 404, "not_found")
    assert_error(api.user.get(f"{base}/stream/{tid}", params={"quality": "low"}), 404)
    assert_error(api.user.get(f"{base}/download/{tid}"), 404, "not_found")
    for query in ("", "?quality=original", "?quality=medium"):
        assert_error(api.user.get(f"/api/v1/user/media/{tid}/stream{query}"), 404, "not_found")


# --- defect 8: whitespace after 'bytes=' ----------------------------------------------------


@pytest.mark.parametrize("header", ["bytes= 0-9", "bytes=\t0-9", "bytes=  0-9", "bytes= 0-9,"])
def test_range_with_whitespace_after_equals_is_served(api: Api, header: str) -> None:
    """'bytes= 0-9' is a range (206, ten bytes) on the proxy and on local signed URLs, as
    nginx, werkzeug and Starlette read it; whitespace inside '0 -9' stays ignored (200)."""
    image = api.create_image(unique("range"), visible=True, content=jpeg_bytes(300, 200))
    r = api.user.get(f"/api/v1/user/media/{image['id']}/stream", headers={"Range": header})
    assert r.status_code == 206, r.text[:200]
    assert len(r.content) == 10
    assert r.headers["content-range"].startswith("bytes 0-9/")
    if not api.uses_s3:
        url = api.user.get(f"/api/v1/user/images/{image['id']}").json()["url"]
        local = api.fetch(url, headers={"Range": header})
        assert local.status_code == 206
        assert local.content == r.content
    whole = api.user.get(
        f"/api/v1/user/media/{image['id']}/stream", headers={"Range": "bytes=0 -9"}
    )
    assert whole.status_code == 200
