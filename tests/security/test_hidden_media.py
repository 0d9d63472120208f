"""Hidden and deleted media never reach a user: every path, including URLs handed out before."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests import servers
from tests.http_contract.harness import Api, assert_error
from tests.media_samples import FFMPEG, audio_bytes, broken_wav_bytes, jpeg_bytes


def _name() -> str:
    return f"sec-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def image(sec: Api) -> dict[str, Any]:
    """A visible, processed image (with thumbnails)."""
    created = sec.create_image(_name(), visible=True, content=jpeg_bytes(500, 400))
    ready = sec.wait_image(created["id"])
    assert ready["status"] == "ready", ready
    assert ready["thumbnails"], ready
    return ready


@pytest.fixture
def track(sec: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """A visible set with one ready track: (set, track)."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    music_set = sec.create_set(_name(), visible=True)
    r = sec.upload_tracks(music_set["id"], [("tone.wav", audio_bytes("wav", 1.0), "audio/wav")])
    assert r.status_code == 201, r.text
    t = sec.wait_track(music_set["id"], r.json()["items"][0]["id"])
    assert t["status"] == "ready", t
    return music_set, t


def _hide_image(api: Api, image_id: str) -> None:
    r = api.admin.put(f"/api/v1/admin/images/{image_id}", json={"visible": False})
    assert r.status_code == 200, r.text


def _proxy_paths(media_id: str) -> list[tuple[str, dict[str, str]]]:
    path = f"/api/v1/user/media/{media_id}/stream"
    return [
        (path, {}),
        (path, {"quality": "original"}),
        (path, {"quality": "low"}),
        (path, {"quality": "medium"}),
        (path, {"size": "w160"}),
        (path, {"size": "w320"}),
    ]


def test_hidden_image_is_not_found_on_every_user_path(sec: Api, image: dict[str, Any]) -> None:
    """A hidden image: absent from the user list, 404 on get and on every proxy variant
    (GET and HEAD, any size or quality), exactly like an id that never existed."""
    user_view = sec.user.get(f"/api/v1/user/images/{image['id']}")
    assert user_view.status_code == 200
    _hide_image(sec, image["id"])
    listed = {i["id"] for i in sec.walk(sec.user, "/api/v1/user/images")}
    assert image["id"] not in listed
    missing = assert_error(sec.user.get("/api/v1/user/images/" + "0" * 26), 404, "not_found")
    assert_error(sec.user.get(f"/api/v1/user/images/{image['id']}"), 404, "not_found")
    for path, params in _proxy_paths(image["id"]):
        r = sec.user.get(path, params=params)
        assert r.status_code == 404, (path, params, r.status_code, r.text[:200])
        err = assert_error(r, 404, "not_found")
        assert set(err) == set(missing)
        head = sec.user.head(path, params=params, headers={"Range": "bytes=0-0"})
        assert head.status_code == 404, (path, params, head.status_code)
    # the admin still sees it
    assert sec.admin.get(f"/api/v1/admin/images/{image['id']}").status_code == 200


def test_hidden_set_track_is_not_found_on_every_user_path(
    sec: Api, track: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """A hidden set: its detail, stream URL, download URL and every proxy variant of its
    track answer 404 to a user."""
    music_set, t = track
    base = f"/api/v1/user/music-sets/{music_set['id']}"
    assert sec.user.get(f"{base}/stream/{t['id']}").status_code == 200
    r = sec.admin.put(
        f"/api/v1/admin/music-sets/{music_set['id']}/visibility", json={"visible": False}
    )
    assert r.status_code == 200, r.text
    listed = {s["id"] for s in sec.walk(sec.user, "/api/v1/user/music-sets")}
    assert music_set["id"] not in listed
    assert_error(sec.user.get(base), 404, "not_found")
    for quality in (None, "low", "medium", "high"):
        params = {"quality": quality} if quality else {}
        assert_error(sec.user.get(f"{base}/stream/{t['id']}", params=params), 404, "not_found")
    assert_error(sec.user.get(f"{base}/download/{t['id']}"), 404, "not_found")
    for path, params in _proxy_paths(t["id"]):
        r = sec.user.get(path, params=params, headers={"Range": "bytes=0-9"})
        assert r.status_code == 404, (path, params, r.status_code, r.text[:200])


def test_track_of_a_visible_set_named_with_another_set_is_not_found(
    sec: Api, track: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """A hidden set's track cannot be reached through a visible set's path (no id mixing)."""
    music_set, t = track
    other = sec.create_set(_name(), visible=True)
    sec.admin.put(f"/api/v1/admin/music-sets/{music_set['id']}/visibility", json={"visible": False})
    for route in ("stream", "download"):
        r = sec.user.get(f"/api/v1/user/music-sets/{other['id']}/{route}/{t['id']}")
        assert_error(r, 404, "not_found")


def test_proxy_refuses_at_once_after_hiding(sec: Api, image: dict[str, Any]) -> None:
    """The proxy checks visibility on every request: a user who streamed an image a moment
    ago gets 404 right after it is hidden (no cache of the decision)."""
    path = f"/api/v1/user/media/{image['id']}/stream"
    first = sec.user.get(path, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    etag = first.headers["etag"]
    _hide_image(sec, image["id"])
    for headers in ({}, {"If-None-Match": etag}, {"If-Range": etag, "Range": "bytes=0-9"}):
        r = sec.user.get(path, headers=headers)
        assert r.status_code == 404, (headers, r.status_code)
    # showing it again restores access
    sec.admin.put(f"/api/v1/admin/images/{image['id']}", json={"visible": True})
    assert sec.user.get(path).status_code == 200


def test_deleted_image_urls_stop_working(sec: Api, image: dict[str, Any]) -> None:
    """URLs handed out before a delete (original and thumbnails) stop serving bytes: the
    objects are gone, and the proxy answers 404."""
    view = sec.user.get(f"/api/v1/user/images/{image['id']}").json()
    urls = [view["url"], *view["thumbnails"].values()]
    for url in urls:
        assert sec.fetch(url).status_code == 200
    assert sec.admin.delete(f"/api/v1/admin/images/{image['id']}").status_code == 204
    for url in urls:
        r = sec.fetch(url)
        assert r.status_code == 404, (url, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/json")
    assert sec.user.get(f"/api/v1/user/media/{image['id']}/stream").status_code == 404


def test_deleted_track_urls_stop_working(
    sec: Api, track: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Stream and download URLs of a deleted track stop serving bytes at once."""
    music_set, t = track
    base = f"/api/v1/user/music-sets/{music_set['id']}"
    urls = [
        sec.user.get(f"{base}/stream/{t['id']}").json()["url"],
        sec.user.get(f"{base}/download/{t['id']}").json()["url"],
    ]
    for url in urls:
        assert sec.fetch(url).status_code == 200
    r = sec.admin.delete(f"/api/v1/admin/music-sets/{music_set['id']}/tracks/{t['id']}")
    assert r.status_code == 204
    for url in urls:
        assert sec.fetch(url).status_code == 404, url
    assert sec.user.get(f"/api/v1/user/media/{t['id']}/stream").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"size": "../orig"},
        {"size": "w99999"},
        {"size": "orig"},
        {"quality": "../../x"},
        {"quality": "original\r\nX: y"},
        {"size": "w160", "quality": "original"},
    ],
)
def test_proxy_odd_parameters_are_client_errors(
    sec: Api, image: dict[str, Any], params: dict[str, str]
) -> None:
    """Hostile ``size``/``quality`` values are answered with a 4xx JSON error or ignored,
    never a 5xx, and never serve a different key than the image's own objects."""
    r = sec.user.get(f"/api/v1/user/media/{image['id']}/stream", params=params)
    assert r.status_code < 500, (params, r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert_error(r, r.status_code)
    else:
        assert r.headers["content-type"].split(";")[0] in ("image/jpeg", "image/webp")


def test_hidden_set_answers_404_before_any_readiness_answer(sec: Api) -> None:
    """A hidden set's failed (never encoded) track is 404, not 409 ``not_ready``: the
    readiness answer would tell a user that the hidden track exists."""
    music_set = sec.create_set(_name(), visible=True)
    r = sec.upload_tracks(music_set["id"], [("broken.wav", broken_wav_bytes(), "audio/wav")])
    assert r.status_code == 201, r.text
    t = sec.wait_track(music_set["id"], r.json()["items"][0]["id"])
    assert t["status"] == "failed", t
    base = f"/api/v1/user/music-sets/{music_set['id']}"
    visible = sec.admin.get(f"{base}/stream/{t['id']}")  # users: 404 (not ready) anyway
    assert visible.status_code == 409, visible.text
    sec.admin.put(f"/api/v1/admin/music-sets/{music_set['id']}/visibility", json={"visible": False})
    for quality in (None, "low", "high"):
        params = {"quality": quality} if quality else {}
        assert_error(sec.user.get(f"{base}/stream/{t['id']}", params=params), 404, "not_found")
        r = sec.user.get(f"/api/v1/user/media/{t['id']}/stream", params=params)
        assert_error(r, 404, "not_found")
