"""Images: multi-file upload, processing to thumbnails, handed-out URLs, visibility, update, delete."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from PIL import Image

from tests.http_contract.harness import THUMBNAIL_SIZES, Api, assert_error
from tests.media_samples import jpeg_bytes, png_bytes

FAKE_ID = "00000000000000000000000000"
IMAGE_FIELDS = {
    "id",
    "title",
    "description",
    "filename",
    "content_type",
    "size",
    "width",
    "height",
    "visible",
    "status",
    "failure_reason",
    "created_at",
    "updated_at",
    "url",
    "thumbnails",
    "expires_at",
}


def unique(prefix: str) -> str:
    """A title no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def samples() -> dict[str, bytes]:
    """Three source images: landscape JPEG, PNG, and a JPEG rotated by EXIF with GPS tags."""
    return {
        "landscape.jpg": jpeg_bytes(800, 600),
        "alpha.png": png_bytes(640, 480),
        "rotated.jpg": jpeg_bytes(800, 600, orientation=6, gps=True),
    }


@pytest.fixture(scope="module")
def uploaded(api: Api, samples: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """The samples uploaded in ONE request (visible), then processed: filename -> ready Image."""
    files = [
        (name, data, "image/png" if name.endswith(".png") else "image/jpeg")
        for name, data in samples.items()
    ]
    r = api.upload_images(files, title=unique("batch"), visible=True)
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [i["filename"] for i in items] == list(samples)
    for item in items:
        assert set(item) >= IMAGE_FIELDS, item
        assert item["status"] in ("pending", "processing", "ready")
    return {i["filename"]: api.wait_image(i["id"]) for i in items}


def test_upload_answers_201_with_each_created_image(
    uploaded: dict[str, dict[str, Any]], samples: dict[str, bytes]
) -> None:
    """One request with several files creates one Image per file, with its metadata."""
    for name, image in uploaded.items():
        assert isinstance(image["id"], str)
        assert image["id"]
        assert image["filename"] == name
        assert image["size"] == len(samples[name])
        assert image["content_type"] == ("image/png" if name.endswith(".png") else "image/jpeg")
        assert image["visible"] is True
        assert image["status"] == "ready", image
        assert image["failure_reason"] is None
    assert len({i["id"] for i in uploaded.values()}) == 3


def test_dimensions_follow_exif_orientation(uploaded: dict[str, dict[str, Any]]) -> None:
    """width/height are the displayed size: an EXIF-rotated 800x600 JPEG is 600 wide, 800 high."""
    assert (uploaded["landscape.jpg"]["width"], uploaded["landscape.jpg"]["height"]) == (800, 600)
    assert (uploaded["alpha.png"]["width"], uploaded["alpha.png"]["height"]) == (640, 480)
    assert (uploaded["rotated.jpg"]["width"], uploaded["rotated.jpg"]["height"]) == (600, 800)


def test_thumbnails_decode_to_the_configured_longest_side(
    api: Api, uploaded: dict[str, dict[str, Any]]
) -> None:
    """Each ready image has one thumbnail per configured size; its longest side is that size."""
    for name, image in uploaded.items():
        thumbs = image["thumbnails"]
        assert set(thumbs) == {f"w{s}" for s in THUMBNAIL_SIZES}, thumbs
        for size in THUMBNAIL_SIZES:
            r = api.fetch(thumbs[f"w{size}"])
            assert r.status_code == 200, (name, size, r.status_code, r.text[:300])
            assert r.headers["content-type"].startswith("image/")
            with Image.open(io.BytesIO(r.content)) as im:
                im.load()
                assert max(im.size) == size, (name, im.size)
                if name == "rotated.jpg":
                    # rotated upright: portrait, and the GPS position is not published
                    assert im.size[0] < im.size[1], im.size
                    assert not im.getexif().get_ifd(0x8825), "thumbnail leaks GPS EXIF"
                else:
                    assert im.size[0] > im.size[1], im.size


def test_original_url_serves_the_bytes_inline(
    api: Api, uploaded: dict[str, dict[str, Any]], samples: dict[str, bytes]
) -> None:
    """The handed-out original URL serves the exact upload, inline, with its content type."""
    image = uploaded["landscape.jpg"]
    r = api.fetch(image["url"])
    assert r.status_code == 200, r.text[:300]
    assert r.content == samples["landscape.jpg"]
    assert r.headers["content-type"].startswith("image/jpeg")
    assert not r.headers.get("content-disposition", "inline").lower().startswith("attachment")
    assert image["expires_at"]


def test_original_url_honours_range_and_conditional_get(
    api: Api, uploaded: dict[str, dict[str, Any]], samples: dict[str, bytes]
) -> None:
    """The handed-out URL answers 206 for a Range and 304 for a matching If-None-Match."""
    image = uploaded["alpha.png"]
    data = samples["alpha.png"]
    r = api.fetch(image["url"], {"Range": "bytes=10-109"})
    assert r.status_code == 206, r.text[:300]
    assert r.content == data[10:110]
    assert r.headers["content-range"] == f"bytes 10-109/{len(data)}"
    full = api.fetch(image["url"])
    etag = full.headers["etag"]
    r = api.fetch(image["url"], {"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""


def test_user_sees_visible_images_with_urls(api: Api, uploaded: dict[str, dict[str, Any]]) -> None:
    """A visible image is in the user listing and its user GET carries URLs and thumbnails."""
    image = uploaded["landscape.jpg"]
    listed = {i["id"] for i in api.walk(api.user, "/api/v1/user/images")}
    assert {i["id"] for i in uploaded.values()} <= listed
    r = api.user.get(f"/api/v1/user/images/{image['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= IMAGE_FIELDS
    assert body["id"] == image["id"]
    assert set(body["thumbnails"]) == {f"w{s}" for s in THUMBNAIL_SIZES}
    assert api.fetch(body["url"]).status_code == 200


def test_hidden_image_is_404_on_every_user_path_and_visible_to_admins(api: Api) -> None:
    """A hidden image is absent for users (list, GET, proxy GET/HEAD) and present for admins."""
    hidden = api.create_image(unique("hidden"), visible=False)
    assert hidden["visible"] is False
    iid = hidden["id"]
    assert iid not in {i["id"] for i in api.walk(api.user, "/api/v1/user/images")}
    assert iid in {i["id"] for i in api.walk(api.admin, "/api/v1/admin/images")}
    assert api.admin.get(f"/api/v1/admin/images/{iid}").json()["visible"] is False
    missing = assert_error(api.user.get(f"/api/v1/user/images/{FAKE_ID}"), 404, "not_found")
    err = assert_error(api.user.get(f"/api/v1/user/images/{iid}"), 404, "not_found")
    assert err["code"] == missing["code"]
    assert_error(api.user.get(f"/api/v1/user/media/{iid}/stream"), 404, "not_found")
    assert api.user.head(f"/api/v1/user/media/{iid}/stream").status_code == 404


def test_visibility_toggles_through_put(api: Api) -> None:
    """PUT {"visible": true} publishes an image to users; {"visible": false} hides it again."""
    image = api.create_image(unique("toggle"), visible=False)
    iid = image["id"]
    r = api.admin.put(f"/api/v1/admin/images/{iid}", json={"visible": True})
    assert r.status_code == 200, r.text
    assert r.json()["visible"] is True
    assert api.user.get(f"/api/v1/user/images/{iid}").status_code == 200
    assert iid in {i["id"] for i in api.walk(api.user, "/api/v1/user/images")}
    r = api.admin.put(f"/api/v1/admin/images/{iid}", json={"visible": False})
    assert r.status_code == 200, r.text
    assert r.json()["visible"] is False
    assert_error(api.user.get(f"/api/v1/user/images/{iid}"), 404, "not_found")
    assert iid not in {i["id"] for i in api.walk(api.user, "/api/v1/user/images")}


def test_update_changes_only_the_given_fields(api: Api) -> None:
    """PUT with title/description updates them and keeps visibility and the rest."""
    image = api.create_image(unique("meta"), visible=True)
    iid = image["id"]
    r = api.admin.put(
        f"/api/v1/admin/images/{iid}", json={"title": "New title", "description": "Sunset"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["title"], body["description"], body["visible"]) == ("New title", "Sunset", True)
    assert body["filename"] == image["filename"]
    assert body["updated_at"] >= image["created_at"]
    again = api.admin.get(f"/api/v1/admin/images/{iid}").json()
    assert (again["title"], again["description"]) == ("New title", "Sunset")
    r = api.admin.put(f"/api/v1/admin/images/{iid}", json={"description": "Dawn"})
    assert r.status_code == 200, r.text
    assert (r.json()["title"], r.json()["description"]) == ("New title", "Dawn")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"visible": "maybe"}', "application/json"),
        (b'{"visible": [1]}', "application/json"),
        (b'{"title": 123}', "application/json"),
        (b"[1, 2]", "application/json"),
    ],
)
def test_invalid_update_is_422(api: Api, body: bytes, content_type: str) -> None:
    """Bad JSON or wrong types in an image update are 422 invalid_input, nothing changed."""
    image = api.create_image(unique("invalid"), visible=False)
    r = api.admin.put(
        f"/api/v1/admin/images/{image['id']}", content=body, headers={"Content-Type": content_type}
    )
    assert_error(r, 422, "invalid_input")
    after = api.admin.get(f"/api/v1/admin/images/{image['id']}").json()
    assert (after["title"], after["visible"]) == (image["title"], False)


def test_missing_image_is_404_for_admins(api: Api) -> None:
    """Admin GET, PUT and DELETE of an unknown id are 404 not_found."""
    assert_error(api.admin.get(f"/api/v1/admin/images/{FAKE_ID}"), 404, "not_found")
    assert_error(
        api.admin.put(f"/api/v1/admin/images/{FAKE_ID}", json={"title": "x"}), 404, "not_found"
    )
    assert_error(api.admin.delete(f"/api/v1/admin/images/{FAKE_ID}"), 404, "not_found")


def test_delete_removes_the_image_and_every_object(api: Api) -> None:
    """DELETE is 204; the image is gone everywhere and its old URLs stop serving bytes."""
    image = api.create_image(unique("doomed"), visible=True, content=jpeg_bytes(500, 400))
    image = api.wait_image(image["id"])
    assert image["status"] == "ready"
    urls = [image["url"], *image["thumbnails"].values()]
    for url in urls:
        assert api.fetch(url).status_code == 200
    iid = image["id"]
    r = api.admin.delete(f"/api/v1/admin/images/{iid}")
    assert r.status_code == 204
    assert r.content == b""
    assert_error(api.admin.get(f"/api/v1/admin/images/{iid}"), 404, "not_found")
    assert_error(api.user.get(f"/api/v1/user/images/{iid}"), 404, "not_found")
    assert_error(api.user.get(f"/api/v1/user/media/{iid}/stream"), 404, "not_found")
    assert iid not in {i["id"] for i in api.walk(api.admin, "/api/v1/admin/images")}
    for url in urls:
        assert api.fetch(url).status_code in (403, 404), url
    assert_error(api.admin.delete(f"/api/v1/admin/images/{iid}"), 404, "not_found")
