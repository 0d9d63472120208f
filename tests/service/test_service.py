"""The service twins over memory parts: visibility, qualities, downloads, deletes, tracks,
uploads. Every test runs against the sync service and the async twin."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from mediakit import keys
from mediakit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    UnprocessableEntity,
    UnsupportedMediaType,
)
from mediakit.models import Principal
from mediakit.repositories.sql import SqlRepositories
from mediakit.service import MediaKit, build_service
from mediakit.settings import Settings
from tests import servers
from tests.fixtures_media import ffmpeg_exe, jpeg_bytes, png_bytes, sine_audio
from tests.media_samples import svg_bytes
from tests.service.kit import ADMIN, USER, Twin, make_kit, multipart, seed_image, seed_set


def fetch(svc: Twin, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """GET a local signed URL through the service's local-file route."""
    parts = urlsplit(url)
    key = parts.path.removeprefix("/api/v1/media/local/")
    result: tuple[int, dict[str, str], bytes] = svc.serve_local(
        key, dict(parse_qsl(parts.query)), method="GET", headers=headers
    )
    return result


def keys_under(kit: MediaKit, prefix: str) -> list[str]:
    return list(kit.store.list_keys(prefix))


# --- visibility -----------------------------------------------------------------------


def test_hidden_image_is_absent_for_users_on_every_path(svc: Twin, kit: MediaKit) -> None:
    """A hidden image is missing from the user list and 404 on get and proxy."""
    shown, hidden = seed_image(kit, visible=True), seed_image(kit, visible=False)
    assert [i["id"] for i in svc.list_images(USER)["items"]] == [shown.id]
    with pytest.raises(NotFound) as absent:
        svc.get_image(USER, "nosuchimage")
    with pytest.raises(NotFound) as hid:
        svc.get_image(USER, hidden.id)
    assert hid.value.code == absent.value.code == "not_found"
    assert hid.value.message == absent.value.message.replace("nosuchimage", hidden.id)
    with pytest.raises(NotFound):
        svc.proxy(USER, hidden.id, method="GET", headers={})
    with pytest.raises(NotFound):
        svc.proxy(USER, hidden.id, method="GET", headers={}, size="w320")


def test_admin_sees_hidden_images_and_admin_listing_includes_them(svc: Twin, kit: MediaKit) -> None:
    """Admin listings include hidden images; admins may fetch and proxy them."""
    hidden = seed_image(kit, visible=False)
    assert [i["id"] for i in svc.list_images(ADMIN, admin=True)["items"]] == [hidden.id]
    assert svc.list_images(ADMIN)["items"] == []  # the user listing stays visible-only
    assert svc.get_image(ADMIN, hidden.id, admin=True)["visible"] is False
    status, _, body = svc.proxy(ADMIN, hidden.id, method="GET", headers={})
    assert (status, body) == (200, b"J" * 1000)


def test_hidden_music_set_is_absent_for_users_on_every_path(svc: Twin, kit: MediaKit) -> None:
    """Hidden set: not listed; get, stream URL, download URL and proxy of its tracks are 404."""
    shown, _ = seed_set(kit, visible=True)
    hidden, tracks = seed_set(kit, visible=False)
    assert [s["id"] for s in svc.list_music_sets(USER)["items"]] == [shown.id]
    track = tracks[0].id
    for call in (
        lambda: svc.get_music_set(USER, hidden.id),
        lambda: svc.stream_url(USER, hidden.id, track),
        lambda: svc.stream_url(USER, hidden.id, track, "high"),
        lambda: svc.download_url(USER, hidden.id, track),
        lambda: svc.proxy(USER, track, method="GET", headers={}),
        lambda: svc.proxy(USER, track, method="HEAD", headers={}, quality="original"),
    ):
        with pytest.raises(NotFound):
            call()
    assert {s["id"] for s in svc.list_music_sets(ADMIN, admin=True)["items"]} == {
        shown.id,
        hidden.id,
    }
    assert svc.stream_url(ADMIN, hidden.id, track)["quality"] == "medium"


def test_track_of_another_set_is_not_found(svc: Twin, kit: MediaKit) -> None:
    """A track id only resolves under its own set."""
    a, _ = seed_set(kit)
    _, tracks_b = seed_set(kit)
    with pytest.raises(NotFound):
        svc.stream_url(USER, a.id, tracks_b[0].id)


def test_user_is_forbidden_on_every_admin_use_case(svc: Twin, kit: MediaKit) -> None:
    """Admin use cases refuse a non-admin with Forbidden, before touching anything."""
    image = seed_image(kit)
    music_set, tracks = seed_set(kit)
    body, ct = multipart([("a.png", png_bytes())])
    for call in (
        lambda: svc.list_images(USER, admin=True),
        lambda: svc.get_image(USER, image.id, admin=True),
        lambda: svc.update_image(USER, image.id, title="x"),
        lambda: svc.delete_image(USER, image.id),
        lambda: svc.create_music_set(USER, title="x"),
        lambda: svc.list_music_sets(USER, admin=True),
        lambda: svc.update_music_set(USER, music_set.id, title="x"),
        lambda: svc.set_music_set_visibility(USER, music_set.id, False),
        lambda: svc.delete_music_set(USER, music_set.id),
        lambda: svc.update_track(USER, music_set.id, tracks[0].id, title="x"),
        lambda: svc.delete_track(USER, music_set.id, tracks[0].id),
        lambda: svc.reorder_tracks(USER, music_set.id, [t.id for t in tracks]),
        lambda: svc.upload_images(USER, body=body, content_type=ct),
        lambda: svc.upload_tracks(USER, music_set.id, body=body, content_type=ct),
    ):
        with pytest.raises(Forbidden):
            call()
    assert kit.repos.images.get(image.id) is not None
    assert len(kit.repos.tracks.list_for_set(music_set.id)) == 2


# --- URLs, qualities, downloads -------------------------------------------------------


def test_image_json_has_working_urls_for_original_and_thumbnails(svc: Twin, kit: MediaKit) -> None:
    """`url` serves the original inline; `thumbnails` maps size names to their URLs."""
    image = seed_image(kit)
    view = svc.get_image(USER, image.id)
    assert set(view["thumbnails"]) == {"w320", "w640"}
    assert view["expires_at"].endswith("Z")
    status, headers, body = fetch(svc, view["url"])
    assert (status, body) == (200, b"J" * 1000)
    assert headers["Content-Disposition"].startswith("inline;")
    assert fetch(svc, view["thumbnails"]["w640"])[2] == b"W" * 640


def test_stream_quality_defaults_to_setting_and_honours_override(kit: MediaKit) -> None:
    """No quality -> MEDIA_AUDIO_QUALITY_DEFAULT; ?quality picks the tier; bytes match."""
    for mode in ("sync", "async"):
        low_kit = make_kit(audio_quality_default="low")
        svc = Twin(low_kit, mode)
        music_set, tracks = seed_set(low_kit)
        default = svc.stream_url(USER, music_set.id, tracks[0].id)
        assert (default["quality"], default["content_type"]) == ("low", "audio/mp4")
        assert fetch(svc, default["url"])[2] == b"low" * 100
        high = svc.stream_url(USER, music_set.id, tracks[0].id, "high")
        assert (high["quality"], high["content_type"]) == ("high", "audio/mpeg")
        assert fetch(svc, high["url"])[2] == b"high" * 100
        with pytest.raises(UnprocessableEntity):
            svc.stream_url(USER, music_set.id, tracks[0].id, "ultra")
        low_kit.close()


def test_tier_not_encoded_yet_is_conflict_not_ready(svc: Twin, kit: MediaKit) -> None:
    """A tier that is not encoded yet answers 409 `not_ready`."""
    music_set, tracks = seed_set(kit, tiers=("low",))
    with pytest.raises(Conflict) as exc:
        svc.stream_url(USER, music_set.id, tracks[0].id, "high")
    assert (exc.value.code, exc.value.http_status) == ("not_ready", 409)
    assert svc.stream_url(USER, music_set.id, tracks[0].id, "low")["quality"] == "low"


def test_download_serves_original_as_attachment_with_its_filename(svc: Twin, kit: MediaKit) -> None:
    """The download URL serves the original with Content-Disposition: attachment and the name."""
    music_set, tracks = seed_set(kit)
    view = svc.download_url(USER, music_set.id, tracks[0].id)
    assert view["filename"] == "Track 0 \u2013 naïve.flac"
    status, headers, body = fetch(svc, view["url"])
    assert (status, body) == (200, b"F" * 500)
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Track%200%20%E2%80%93%20na%C3%AFve.flac" in disposition


def test_proxy_serves_ranges_and_original_as_attachment(svc: Twin, kit: MediaKit) -> None:
    """The proxy answers Range with 206, HEAD without a body, `original` as an attachment."""
    _, tracks = seed_set(kit)
    status, headers, body = svc.proxy(
        USER, tracks[0].id, method="GET", headers={"Range": "bytes=0-5"}
    )
    assert (status, body, headers["Content-Range"]) == (206, b"medium", "bytes 0-5/600")
    status, headers, body = svc.proxy(USER, tracks[0].id, method="HEAD", headers={}, quality="low")
    assert (status, body, headers["Content-Length"]) == (200, b"", "300")
    status, headers, body = svc.proxy(
        USER, tracks[0].id, method="GET", headers={}, quality="original"
    )
    assert body == b"F" * 500
    assert headers["Content-Disposition"].startswith("attachment;")
    with pytest.raises(NotFound):
        svc.proxy(USER, "nosuchmedia", method="GET", headers={})


def test_proxy_delivery_hands_out_proxy_urls() -> None:
    """With MEDIA_DELIVERY=proxy every URL points at the Range proxy (with a grant)."""
    kit = make_kit(delivery="proxy", prefix="/media")
    svc = Twin(kit, "async")
    image = seed_image(kit)
    music_set, tracks = seed_set(kit)
    view = svc.get_image(USER, image.id)
    assert view["url"].startswith(f"/media/api/v1/user/media/{image.id}/stream?exp=")
    assert view["thumbnails"]["w320"].startswith(
        f"/media/api/v1/user/media/{image.id}/stream?size=w320&exp="
    )
    stream = svc.stream_url(USER, music_set.id, tracks[0].id, "high")
    assert stream["url"].startswith(
        f"/media/api/v1/user/media/{tracks[0].id}/stream?quality=high&exp="
    )
    download = svc.download_url(USER, music_set.id, tracks[0].id)
    assert "?quality=original&exp=" in download["url"]
    kit.close()


def test_tampered_local_url_is_forbidden(svc: Twin, kit: MediaKit) -> None:
    """A local URL whose key was changed is refused."""
    a, b = seed_image(kit), seed_image(kit)
    url = svc.get_image(USER, a.id)["url"].replace(a.id, b.id)
    with pytest.raises(Forbidden):
        fetch(svc, url)


# --- updates and deletes --------------------------------------------------------------


def test_update_image_changes_fields_and_visibility(svc: Twin, kit: MediaKit) -> None:
    """PUT fields change; visibility flips what users can see."""
    image = seed_image(kit, visible=False)
    view = svc.update_image(ADMIN, image.id, title="  New  ", description="d", visible=True)
    assert (view["title"], view["description"], view["visible"]) == ("New", "d", True)
    assert svc.get_image(USER, image.id)["title"] == "New"
    with pytest.raises(UnprocessableEntity):
        svc.update_image(ADMIN, image.id, title="x" * 201)
    with pytest.raises(NotFound):
        svc.update_image(ADMIN, "nosuchimage", title="x")


def test_delete_image_removes_every_object_it_owns(svc: Twin, kit: MediaKit) -> None:
    """Deleting an image removes its row, original, thumbnails and stray objects under its prefix."""
    image, other = seed_image(kit), seed_image(kit)
    stray = keys.image_thumbnail(image.id, 99, "old")
    kit.store.put_bytes(stray, b"x", content_type="image/webp")
    svc.delete_image(ADMIN, image.id)
    assert kit.repos.images.get(image.id) is None
    assert keys_under(kit, keys.image_prefix(image.id)) == []
    assert len(keys_under(kit, keys.image_prefix(other.id))) == 3
    with pytest.raises(NotFound):
        svc.delete_image(ADMIN, image.id)


def test_delete_music_set_removes_tracks_and_their_objects(svc: Twin, kit: MediaKit) -> None:
    """Deleting a set removes its row, its tracks and every object of theirs."""
    music_set, tracks = seed_set(kit)
    other, _ = seed_set(kit)
    svc.delete_music_set(ADMIN, music_set.id)
    assert kit.repos.music_sets.get(music_set.id) is None
    assert all(kit.repos.tracks.get(t.id) is None for t in tracks)
    assert keys_under(kit, keys.music_set_prefix(music_set.id)) == []
    assert keys_under(kit, keys.music_set_prefix(other.id))


def test_create_update_and_visibility_of_music_sets(svc: Twin, kit: MediaKit) -> None:
    """Sets start hidden; PUT and PUT visibility change them; titles are validated."""
    created = svc.create_music_set(ADMIN, title="Live", description="2024")
    assert (created["visible"], created["track_count"], created["tracks"]) == (False, 0, [])
    with pytest.raises(NotFound):
        svc.get_music_set(USER, created["id"])
    shown = svc.set_music_set_visibility(ADMIN, created["id"], True)
    assert shown["visible"] is True
    assert svc.get_music_set(USER, created["id"])["title"] == "Live"
    assert svc.update_music_set(ADMIN, created["id"], title="Live!")["title"] == "Live!"
    for bad in ("", "x" * 201):
        with pytest.raises(UnprocessableEntity):
            svc.create_music_set(ADMIN, title=bad)
        with pytest.raises(UnprocessableEntity):
            svc.update_music_set(ADMIN, created["id"], title=bad)


def test_track_update_reorder_and_delete(svc: Twin, kit: MediaKit) -> None:
    """Tracks can be renamed, reordered (exactly the set's tracks) and deleted with their objects."""
    music_set, tracks = seed_set(kit, tracks=3)
    a, b, c = (t.id for t in tracks)
    assert svc.update_track(ADMIN, music_set.id, b, title="Bee")["title"] == "Bee"
    detail = svc.reorder_tracks(ADMIN, music_set.id, [c, a, b])
    assert [t["id"] for t in detail["tracks"]] == [c, a, b]
    assert [t["position"] for t in detail["tracks"]] == sorted(
        t["position"] for t in detail["tracks"]
    )
    for bad in ([a, b], [a, b, c, c], [a, b, "nosuchtrack"]):
        with pytest.raises(UnprocessableEntity):
            svc.reorder_tracks(ADMIN, music_set.id, bad)
    svc.delete_track(ADMIN, music_set.id, a)
    assert [t["id"] for t in svc.get_music_set(USER, music_set.id)["tracks"]] == [c, b]
    assert keys_under(kit, keys.track_prefix(music_set.id, a)) == []
    assert keys_under(kit, keys.track_prefix(music_set.id, b))
    with pytest.raises(NotFound):
        svc.delete_track(ADMIN, music_set.id, a)


def test_track_json_lists_available_qualities(svc: Twin, kit: MediaKit) -> None:
    """A track's `qualities` are its encoded tiers, lowest first."""
    music_set, _ = seed_set(kit, tiers=("high", "low"))
    track = svc.get_music_set(USER, music_set.id)["tracks"][0]
    assert track["qualities"] == ["low", "high"]
    assert track["status"] == "ready"


def test_music_set_listing_counts_each_sets_tracks(svc: Twin, kit: MediaKit) -> None:
    """A listed set's ``track_count`` is its number of tracks (0 for an empty set), as in
    its detail view; a deleted track is no longer counted."""
    seeded = [seed_set(kit, tracks=n) for n in (0, 1, 3)]
    listed = {s["id"]: s["track_count"] for s in svc.list_music_sets(USER)["items"]}
    assert listed == {s.id: len(tracks) for s, tracks in seeded}
    for s, tracks in seeded:
        detail = svc.get_music_set(USER, s.id)
        assert detail["track_count"] == len(detail["tracks"]) == len(tracks)
    big, tracks = seeded[2]
    svc.delete_track(ADMIN, big.id, tracks[0].id)
    page = svc.list_music_sets(ADMIN, admin=True, limit=1)  # newest first, one per page
    counts = {s["id"]: s["track_count"] for s in page["items"]}
    while page["next_cursor"]:
        page = svc.list_music_sets(ADMIN, admin=True, limit=1, cursor=page["next_cursor"])
        counts.update((s["id"], s["track_count"]) for s in page["items"])
    assert counts == {seeded[0][0].id: 0, seeded[1][0].id: 1, big.id: 2}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_music_set_listing_reads_track_counts_in_one_query(tmp_path: Path, mode: str) -> None:
    """Listing sets costs the same number of SQL queries for 1 set as for 12 (no query
    per set): the page, then one count."""
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path}/mediakit.db")
    kit = build_service(
        Settings(storage_backend="memory", job_runner="inline", signing_secret="s" * 32),
        repos=repos,
    )
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    try:
        svc = Twin(kit, mode)
        seed_set(kit, tracks=2)
        sa.event.listen(repos.engine, "before_cursor_execute", count)
        assert [s["track_count"] for s in svc.list_music_sets(USER)["items"]] == [2]
        one = len(statements)
        for _ in range(11):
            seed_set(kit, tracks=1)
        statements.clear()
        items = svc.list_music_sets(USER)["items"]
        assert sorted(s["track_count"] for s in items) == [1] * 11 + [2]
        assert len(statements) == one == 2  # the page, then the counts
    finally:
        sa.event.remove(repos.engine, "before_cursor_execute", count)
        kit.close()
        repos.close()


def test_list_pagination_and_limit_bounds(svc: Twin, kit: MediaKit) -> None:
    """Pages follow next_cursor to the end; limit outside 1..100 is invalid input."""
    ids = {seed_image(kit).id for _ in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        page = svc.list_images(USER, limit=2, cursor=cursor)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    for bad in (0, 101):
        with pytest.raises(UnprocessableEntity):
            svc.list_images(USER, limit=bad)
    with pytest.raises(BadRequest):
        svc.list_images(USER, cursor="not-a-cursor")


# --- uploads --------------------------------------------------------------------------


def test_upload_images_stores_processes_and_applies_fields(svc: Twin, kit: MediaKit) -> None:
    """Uploaded images are stored, processed (inline runner) and get the title/visible fields."""
    body, ct = multipart(
        [("a.jpg", jpeg_bytes(400, 300)), ("b.png", png_bytes())],
        {"title": "Trip", "visible": "true"},
    )
    items = svc.upload_images(ADMIN, body=body, content_type=ct)["items"]
    assert [i["filename"] for i in items] == ["a.jpg", "b.png"]
    assert all(i["title"] == "Trip" and i["visible"] for i in items)
    assert all(i["status"] == "ready" and i["thumbnails"] for i in items)
    assert {i["id"] for i in svc.list_images(USER)["items"]} == {i["id"] for i in items}
    assert fetch(svc, items[0]["url"])[1]["Content-Type"] == "image/jpeg"


def test_upload_refuses_whole_batch_with_a_bad_file(svc: Twin, kit: MediaKit) -> None:
    """One disallowed file refuses the batch: nothing stored, no row."""
    body, ct = multipart([("a.jpg", jpeg_bytes()), ("x.svg", svg_bytes())])
    with pytest.raises(UnsupportedMediaType):
        svc.upload_images(ADMIN, body=body, content_type=ct)
    assert keys_under(kit, "images/") == []
    assert svc.list_images(ADMIN, admin=True)["items"] == []
    empty, ct = multipart([], {"title": "x"})
    with pytest.raises(BadRequest):
        svc.upload_images(ADMIN, body=empty, content_type=ct)
    for fields in ({"visible": "maybe"}, {"title": "x" * 201}):
        body, ct = multipart([("a.jpg", jpeg_bytes())], fields)
        with pytest.raises(UnprocessableEntity):
            svc.upload_images(ADMIN, body=body, content_type=ct)
    body, ct = multipart([("a.jpg", jpeg_bytes())], after={"visible": "maybe"})
    with pytest.raises(UnprocessableEntity):  # a bad field after the files fails too
        svc.upload_images(ADMIN, body=body, content_type=ct)
    assert keys_under(kit, "images/") == []
    assert svc.list_images(ADMIN, admin=True)["items"] == []


def test_upload_over_concurrency_cap_is_too_many_requests(svc: Twin, kit: MediaKit) -> None:
    """With every upload slot of an admin held, another upload gets 429 with Retry-After."""
    body, ct = multipart([("a.jpg", jpeg_bytes())])
    with (
        kit.limiter.hold(ADMIN.id),
        kit.limiter.hold(ADMIN.id),
        pytest.raises(TooManyRequests) as exc,
    ):
        svc.upload_images(ADMIN, body=body, content_type=ct)
    assert "Retry-After" in exc.value.headers
    other = Principal("admin-2", is_admin=True)
    assert len(svc.upload_images(other, body=body, content_type=ct)["items"]) == 1


def test_upload_tracks_into_missing_set_is_not_found(svc: Twin) -> None:
    """Tracks can only be added to an existing set."""
    body, ct = multipart([("a.wav", b"RIFF")])
    with pytest.raises(NotFound):
        svc.upload_tracks(ADMIN, "nosuchset", body=body, content_type=ct)


@pytest.mark.ffmpeg
def test_upload_tracks_encodes_tiers_and_streams_them(
    svc: Twin, kit: MediaKit, tmp_path: Path
) -> None:
    """A real audio upload is encoded (inline runner) into every tier; the stream URL serves one."""
    exe = ffmpeg_exe()
    servers.need(
        exe is not None, "ffmpeg is needed (apt-get install ffmpeg or pip install imageio-ffmpeg)"
    )
    audio = sine_audio(tmp_path, "wav", seconds=1.0).read_bytes()
    created = svc.create_music_set(ADMIN, title="Tones", visible=True)
    body, ct = multipart([("tone.wav", audio)], {"title": "Tone"})
    [item] = svc.upload_tracks(ADMIN, created["id"], body=body, content_type=ct)["items"]
    assert (item["title"], item["status"], item["qualities"]) == (
        "Tone",
        "ready",
        ["low", "medium", "high"],
    )
    stream = svc.stream_url(USER, created["id"], item["id"])
    status, headers, data = fetch(svc, stream["url"], Range="bytes=0-3")
    assert (status, headers["Content-Type"], len(data)) == (206, "audio/mpeg", 4)


def test_upload_fields_after_the_files_still_apply(svc: Twin) -> None:
    """`title`/`visible` sent after the files (any multipart order) apply to every file."""
    body, ct = multipart([("a.jpg", jpeg_bytes())], after={"title": "Late", "visible": "true"})
    [item] = svc.upload_images(ADMIN, body=body, content_type=ct)["items"]
    assert (item["title"], item["visible"]) == ("Late", True)
