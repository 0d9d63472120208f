"""Music sets and tracks: CRUD, visibility, processing, stream and download URLs, reorder."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests import servers
from tests.http_contract.harness import Api, assert_error
from tests.media_samples import FFMPEG, audio_bytes, broken_wav_bytes, svg_bytes

pytestmark = pytest.mark.ffmpeg

FAKE_ID = "00000000000000000000000000"
SET_FIELDS = {"id", "title", "description", "visible", "created_at", "updated_at", "track_count"}
TRACK_FIELDS = {
    "id",
    "set_id",
    "position",
    "title",
    "filename",
    "content_type",
    "size",
    "duration_s",
    "bitrate_kbps",
    "status",
    "failure_reason",
    "qualities",
    "created_at",
    "updated_at",
}
STREAM_TYPES = ("audio/mpeg", "audio/mp4", "audio/aac", "audio/x-m4a")


def unique(prefix: str) -> str:
    """A title no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def looks_like_audio(data: bytes) -> bool:
    """MP3 (ID3 tag or frame sync) or an MP4/M4A container."""
    return (
        data[:3] == b"ID3"
        or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
        or data[4:8] == b"ftyp"
    )


@pytest.fixture(scope="module")
def album(api: Api) -> dict[str, Any]:
    """A visible set with two ready tracks (FLAC and WAV, 2 s each), uploaded in one request."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    music_set = api.create_set(unique("album"), visible=True, description="Two tones")
    flac, wav = audio_bytes("flac", 2.0), audio_bytes("wav", 2.0)
    r = api.upload_tracks(
        music_set["id"], [("one.flac", flac, "audio/flac"), ("two.wav", wav, "audio/wav")]
    )
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [t["filename"] for t in items] == ["one.flac", "two.wav"]
    tracks = [api.wait_track(music_set["id"], t["id"]) for t in items]
    return {"set": music_set, "tracks": tracks, "originals": {"one.flac": flac, "two.wav": wav}}


def test_create_set_defaults_to_hidden(api: Api) -> None:
    """POST creates a set (201) that is hidden unless "visible" is given."""
    r = api.admin.post("/api/v1/admin/music-sets", json={"title": unique("draft")})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= SET_FIELDS
    assert body["visible"] is False
    assert body["track_count"] == 0
    assert_error(api.user.get(f"/api/v1/user/music-sets/{body['id']}"), 404, "not_found")
    assert body["id"] in {s["id"] for s in api.walk(api.admin, "/api/v1/admin/music-sets")}
    assert body["id"] not in {s["id"] for s in api.walk(api.user, "/api/v1/user/music-sets")}


@pytest.mark.parametrize(
    "payload",
    [{}, {"title": ""}, {"title": "x" * 201}, {"title": 5}, {"title": "ok", "visible": "maybe"}],
)
def test_invalid_set_is_422(api: Api, payload: dict[str, Any]) -> None:
    """A missing, empty, over-long or mistyped title, or a non-boolean visible, is 422."""
    assert_error(api.admin.post("/api/v1/admin/music-sets", json=payload), 422, "invalid_input")


def test_chunked_json_body_is_read(api: Api) -> None:
    """A JSON body sent chunked (no Content-Length) is read like any other, under ASGI and
    WSGI alike (Django alone reads a chunked body as empty under WSGI)."""
    title = unique("chunked-json")
    body = json.dumps({"title": title, "description": "d" * 4000}).encode()

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    r = api.admin.post(
        "/api/v1/admin/music-sets", content=pieces(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == title
    assert r.json()["description"] == "d" * 4000


def test_bad_json_is_422(api: Api) -> None:
    """A body that is not JSON is 422 invalid_input."""
    r = api.admin.post(
        "/api/v1/admin/music-sets", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert_error(r, 422, "invalid_input")


def test_tracks_are_processed_to_ready_with_all_tiers(album: dict[str, Any]) -> None:
    """Uploaded tracks become ready with duration, positions in upload order and all tiers."""
    for position, (track, name) in enumerate(
        zip(album["tracks"], ["one.flac", "two.wav"], strict=True)
    ):
        assert set(track) >= TRACK_FIELDS, track
        assert track["status"] == "ready", track
        assert track["failure_reason"] is None
        assert track["set_id"] == album["set"]["id"]
        assert track["filename"] == name
        assert track["size"] == len(album["originals"][name])
        assert track["duration_s"] == pytest.approx(2.0, abs=0.2)
        assert set(track["qualities"]) == {"low", "medium", "high"}
        assert track["position"] == album["tracks"][0]["position"] + position


def test_user_sees_the_visible_set_with_its_tracks(api: Api, album: dict[str, Any]) -> None:
    """User list and detail show a visible set; the detail lists its tracks in position order."""
    sid = album["set"]["id"]
    assert sid in {s["id"] for s in api.walk(api.user, "/api/v1/user/music-sets")}
    r = api.user.get(f"/api/v1/user/music-sets/{sid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= SET_FIELDS
    assert body["track_count"] == 2
    assert [t["id"] for t in body["tracks"]] == [t["id"] for t in album["tracks"]]
    positions = [t["position"] for t in body["tracks"]]
    assert positions == sorted(positions)


@pytest.mark.parametrize("quality", ["low", "medium", "high"])
def test_stream_url_serves_the_tier(api: Api, album: dict[str, Any], quality: str) -> None:
    """The stream URL for each tier serves MP3/AAC bytes with an audio content type, and Range."""
    sid, tid = album["set"]["id"], album["tracks"][0]["id"]
    r = api.user.get(f"/api/v1/user/music-sets/{sid}/stream/{tid}", params={"quality": quality})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["quality"] == quality
    assert body["content_type"] in STREAM_TYPES
    assert body["url"]
    assert body["expires_at"]
    audio = api.fetch(body["url"])
    assert audio.status_code == 200, audio.text[:300]
    assert audio.headers["content-type"].split(";")[0] in STREAM_TYPES
    assert looks_like_audio(audio.content), audio.content[:16]
    part = api.fetch(body["url"], {"Range": "bytes=100-"})
    assert part.status_code == 206
    assert part.content == audio.content[100:]
    assert (
        part.headers["content-range"] == f"bytes 100-{len(audio.content) - 1}/{len(audio.content)}"
    )


def test_stream_tiers_differ_and_default_is_medium(api: Api, album: dict[str, Any]) -> None:
    """No quality means MEDIA_AUDIO_QUALITY_DEFAULT (medium); high is bigger than low."""
    sid, tid = album["set"]["id"], album["tracks"][0]["id"]
    path = f"/api/v1/user/music-sets/{sid}/stream/{tid}"
    default = api.user.get(path).json()
    assert default["quality"] == "medium"
    medium = api.user.get(path, params={"quality": "medium"}).json()
    assert api.fetch(default["url"]).content == api.fetch(medium["url"]).content
    sizes = {
        q: len(api.fetch(api.user.get(path, params={"quality": q}).json()["url"]).content)
        for q in ("low", "high")
    }
    assert sizes["high"] > sizes["low"], sizes


@pytest.mark.parametrize("quality", ["ultra", "original", "lossless"])
def test_unknown_quality_is_422(api: Api, album: dict[str, Any], quality: str) -> None:
    """A quality outside low|medium|high on the stream-URL endpoint is 422 invalid_input."""
    sid, tid = album["set"]["id"], album["tracks"][0]["id"]
    r = api.user.get(f"/api/v1/user/music-sets/{sid}/stream/{tid}", params={"quality": quality})
    assert_error(r, 422, "invalid_input")


def test_download_url_serves_the_original_as_attachment(api: Api, album: dict[str, Any]) -> None:
    """The download URL serves the original bytes with Content-Disposition attachment + name."""
    sid = album["set"]["id"]
    track = album["tracks"][1]
    r = api.user.get(f"/api/v1/user/music-sets/{sid}/download/{track['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["filename"] == "two.wav"
    assert body["expires_at"]
    got = api.fetch(body["url"])
    assert got.status_code == 200, got.text[:300]
    assert got.content == album["originals"]["two.wav"]
    disposition = got.headers["content-disposition"]
    assert disposition.lower().startswith("attachment")
    assert "two.wav" in disposition
    part = api.fetch(body["url"], {"Range": "bytes=0-11"})
    assert part.status_code == 206
    assert part.content == album["originals"]["two.wav"][:12]


def test_missing_set_or_track_is_404(api: Api, album: dict[str, Any]) -> None:
    """Unknown set or track ids, or a track under another set, are 404 not_found."""
    sid, tid = album["set"]["id"], album["tracks"][0]["id"]
    other = api.create_set(unique("other"), visible=True)
    for path in (
        f"/api/v1/user/music-sets/{FAKE_ID}",
        f"/api/v1/user/music-sets/{sid}/stream/{FAKE_ID}",
        f"/api/v1/user/music-sets/{FAKE_ID}/stream/{tid}",
        f"/api/v1/user/music-sets/{other['id']}/stream/{tid}",
        f"/api/v1/user/music-sets/{sid}/download/{FAKE_ID}",
        f"/api/v1/user/music-sets/{other['id']}/download/{tid}",
        f"/api/v1/user/media/{FAKE_ID}/stream",
    ):
        assert_error(api.user.get(path), 404, "not_found")
    for method, path, kwargs in (
        ("GET", f"/api/v1/admin/music-sets/{FAKE_ID}", {}),
        ("PUT", f"/api/v1/admin/music-sets/{FAKE_ID}", {"json": {"title": "x"}}),
        ("PUT", f"/api/v1/admin/music-sets/{FAKE_ID}/visibility", {"json": {"visible": True}}),
        ("DELETE", f"/api/v1/admin/music-sets/{FAKE_ID}", {}),
        ("PUT", f"/api/v1/admin/music-sets/{sid}/tracks/{FAKE_ID}", {"json": {"title": "x"}}),
        ("DELETE", f"/api/v1/admin/music-sets/{sid}/tracks/{FAKE_ID}", {}),
        ("PUT", f"/api/v1/admin/music-sets/{other['id']}/tracks/{tid}", {"json": {"title": "x"}}),
    ):
        assert_error(api.admin.request(method, path, **kwargs), 404, "not_found")
    r = api.upload_tracks(FAKE_ID, [("a.flac", audio_bytes("flac", 2.0), "audio/flac")])
    assert_error(r, 404, "not_found")


def test_hidden_set_is_404_on_every_user_path(api: Api, album: dict[str, Any]) -> None:
    """Hiding a set makes list, detail, stream URL, download URL and proxy 404 for users."""
    sid, tid = album["set"]["id"], album["tracks"][0]["id"]
    user_paths = [
        f"/api/v1/user/music-sets/{sid}",
        f"/api/v1/user/music-sets/{sid}/stream/{tid}",
        f"/api/v1/user/music-sets/{sid}/download/{tid}",
        f"/api/v1/user/media/{tid}/stream",
    ]
    r = api.admin.put(f"/api/v1/admin/music-sets/{sid}/visibility", json={"visible": False})
    assert r.status_code == 200, r.text
    assert r.json()["visible"] is False
    try:
        for path in user_paths:
            assert_error(api.user.get(path), 404, "not_found")
        assert sid not in {s["id"] for s in api.walk(api.user, "/api/v1/user/music-sets")}
        # admins still see it
        assert api.admin.get(f"/api/v1/admin/music-sets/{sid}").json()["visible"] is False
        assert sid in {s["id"] for s in api.walk(api.admin, "/api/v1/admin/music-sets")}
    finally:
        r = api.admin.put(f"/api/v1/admin/music-sets/{sid}/visibility", json={"visible": True})
        assert r.status_code == 200
    for path in user_paths:
        assert api.user.get(path).status_code == 200, path


@pytest.mark.parametrize("payload", [{}, {"visible": "maybe"}, {"visible": None}, {"visible": 7}])
def test_invalid_visibility_is_422(
    api: Api, album: dict[str, Any], payload: dict[str, Any]
) -> None:
    """The visibility body must be {"visible": <bool>}."""
    r = api.admin.put(f"/api/v1/admin/music-sets/{album['set']['id']}/visibility", json=payload)
    assert_error(r, 422, "invalid_input")


def test_update_set_metadata(api: Api) -> None:
    """PUT on a set changes title/description/visible and keeps the rest."""
    s = api.create_set(unique("meta"), visible=False, description="before")
    r = api.admin.put(f"/api/v1/admin/music-sets/{s['id']}", json={"title": "Renamed"})
    assert r.status_code == 200, r.text
    assert (r.json()["title"], r.json()["description"], r.json()["visible"]) == (
        "Renamed",
        "before",
        False,
    )
    r = api.admin.put(f"/api/v1/admin/music-sets/{s['id']}", json={"visible": True})
    assert r.json()["visible"] is True
    assert api.user.get(f"/api/v1/user/music-sets/{s['id']}").json()["title"] == "Renamed"
    assert_error(
        api.admin.put(f"/api/v1/admin/music-sets/{s['id']}", json={"title": ""}),
        422,
        "invalid_input",
    )


def test_track_update_reorder_and_delete(api: Api) -> None:
    """Tracks can be renamed, reordered (exactly the set's ids) and deleted."""
    s = api.create_set(unique("edit"), visible=True)
    sid = s["id"]
    tone = audio_bytes("flac", 2.0)
    r = api.upload_tracks(sid, [(f"t{i}.flac", tone, "audio/flac") for i in range(3)])
    assert r.status_code == 201, r.text
    ids = [t["id"] for t in r.json()["items"]]

    r = api.admin.put(f"/api/v1/admin/music-sets/{sid}/tracks/{ids[0]}", json={"title": "Intro"})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Intro"
    assert_error(
        api.admin.put(f"/api/v1/admin/music-sets/{sid}/tracks/{ids[0]}", json={"title": 3}),
        422,
        "invalid_input",
    )

    new_order = [ids[2], ids[0], ids[1]]
    r = api.admin.put(f"/api/v1/admin/music-sets/{sid}/tracks/order", json={"track_ids": new_order})
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["tracks"]] == new_order
    for tid in ids:  # users see ready tracks only
        api.wait_track(sid, tid)
    assert [t["id"] for t in api.user.get(f"/api/v1/user/music-sets/{sid}").json()["tracks"]] == (
        new_order
    )
    for bad in ([ids[0], ids[1]], [*new_order, FAKE_ID], [ids[0], ids[0], ids[1]], "x"):
        r = api.admin.put(f"/api/v1/admin/music-sets/{sid}/tracks/order", json={"track_ids": bad})
        assert r.status_code in (400, 422), (bad, r.text)
        assert_error(r, r.status_code)
    detail = api.admin.get(f"/api/v1/admin/music-sets/{sid}").json()
    assert [t["id"] for t in detail["tracks"]] == new_order

    for tid in ids:
        api.wait_track(sid, tid)
    stream = api.user.get(f"/api/v1/user/music-sets/{sid}/stream/{ids[1]}").json()
    assert api.fetch(stream["url"]).status_code == 200
    r = api.admin.delete(f"/api/v1/admin/music-sets/{sid}/tracks/{ids[1]}")
    assert r.status_code == 204
    detail = api.admin.get(f"/api/v1/admin/music-sets/{sid}").json()
    assert [t["id"] for t in detail["tracks"]] == [ids[2], ids[0]]
    assert detail["track_count"] == 2
    assert_error(api.user.get(f"/api/v1/user/music-sets/{sid}/stream/{ids[1]}"), 404, "not_found")
    assert api.fetch(stream["url"]).status_code in (403, 404)


def test_delete_set_removes_tracks_and_objects(api: Api) -> None:
    """DELETE on a set is 204; its tracks' URLs stop working and everything is 404."""
    s = api.create_set(unique("gone"), visible=True)
    sid = s["id"]
    r = api.upload_tracks(sid, [("gone.flac", audio_bytes("flac", 2.0), "audio/flac")])
    assert r.status_code == 201, r.text
    tid = r.json()["items"][0]["id"]
    assert api.wait_track(sid, tid)["status"] == "ready"
    urls = [
        api.user.get(f"/api/v1/user/music-sets/{sid}/stream/{tid}", params={"quality": q}).json()[
            "url"
        ]
        for q in ("low", "medium", "high")
    ]
    urls.append(api.user.get(f"/api/v1/user/music-sets/{sid}/download/{tid}").json()["url"])
    for url in urls:
        assert api.fetch(url).status_code == 200
    assert api.admin.delete(f"/api/v1/admin/music-sets/{sid}").status_code == 204
    assert_error(api.admin.get(f"/api/v1/admin/music-sets/{sid}"), 404, "not_found")
    assert_error(api.user.get(f"/api/v1/user/music-sets/{sid}"), 404, "not_found")
    assert_error(api.user.get(f"/api/v1/user/media/{tid}/stream"), 404, "not_found")
    assert sid not in {x["id"] for x in api.walk(api.admin, "/api/v1/admin/music-sets")}
    for url in urls:
        assert api.fetch(url).status_code in (403, 404), url


def test_track_upload_refuses_non_audio_with_415(api: Api) -> None:
    """A track upload whose content is not audio refuses the whole batch; nothing is added."""
    s = api.create_set(unique("bad-audio"), visible=False)
    r = api.upload_tracks(
        s["id"],
        [
            ("ok.flac", audio_bytes("flac", 2.0), "audio/flac"),
            ("fake.mp3", svg_bytes(), "audio/mpeg"),
        ],
    )
    assert_error(r, 415, "unsupported_media_type")
    detail = api.admin.get(f"/api/v1/admin/music-sets/{s['id']}").json()
    assert detail["tracks"] == []
    assert detail["track_count"] == 0


def test_track_upload_without_files_is_400(api: Api) -> None:
    """A track upload with no ``files`` part is 400."""
    s = api.create_set(unique("empty"), visible=False)
    r = api.admin.post(
        f"/api/v1/admin/music-sets/{s['id']}/tracks",
        files={"other": ("a.txt", b"x", "text/plain")},
    )
    assert_error(r, 400)


def test_undecodable_track_fails_and_its_tiers_are_409_not_ready(api: Api) -> None:
    """Audio that sniffs as WAV but cannot be decoded ends 'failed' with a reason; for an
    admin its tiers are 409 and its original downloadable, for users it does not exist."""
    s = api.create_set(unique("broken"), visible=True)
    r = api.upload_tracks(s["id"], [("broken.wav", broken_wav_bytes(), "audio/wav")])
    assert r.status_code == 201, r.text
    tid = r.json()["items"][0]["id"]
    track = api.wait_track(s["id"], tid)
    assert track["status"] == "failed", track
    assert track["failure_reason"]
    assert track["qualities"] == []
    for quality in ("low", "medium", "high"):
        path = f"/api/v1/user/music-sets/{s['id']}/stream/{tid}"
        assert_error(api.admin.get(path, params={"quality": quality}), 409, "not_ready")
        assert_error(api.user.get(path, params={"quality": quality}), 404, "not_found")
    # the original is still downloadable, by an admin only
    path = f"/api/v1/user/music-sets/{s['id']}/download/{tid}"
    r = api.admin.get(path)
    assert r.status_code == 200, r.text
    assert api.fetch(r.json()["url"]).content == broken_wav_bytes()
    assert_error(api.user.get(path), 404, "not_found")
