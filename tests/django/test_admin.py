"""The Django admin pages: lists with status and previews, visibility actions, tracks inline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mediakit.keys import image_prefix
from mediakit.models import Principal
from mediakit.service import MediaKit
from mediakit.testing import builders as b
from tests.django.support import ADMIN_TOKEN, ensure_django
from tests.fixtures_media import ffmpeg_exe, jpeg_bytes, sine_audio
from tests.servers import need

ensure_django()

from django.contrib.auth.models import User  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import Client  # noqa: E402

IMAGES = "/admin/mediakit_django/mediaimage/"
SETS = "/admin/mediakit_django/mediamusicset/"
WHO = Principal("test-admin", is_admin=True)


def _admin_client() -> Client:
    user = User.objects.create_superuser(f"root-{User.objects.count()}", password="x")
    client = Client()
    client.force_login(user)
    return client


def _image(visible: bool = True) -> dict[str, Any]:
    r = Client().post(
        "/api/v1/admin/images/upload",
        {
            "files": [SimpleUploadedFile("p.jpg", jpeg_bytes(80, 60), content_type="image/jpeg")],
            "visible": "true" if visible else "false",
            "title": "pic",
        },
        HTTP_AUTHORIZATION=f"Bearer {ADMIN_TOKEN}",
    )
    assert r.status_code == 201, r.content
    return dict(r.json()["items"][0])


def test_image_list_shows_status_and_a_working_thumbnail_preview(kit: MediaKit) -> None:
    """The changelist renders each image's status and a signed thumbnail URL that serves it."""
    image = _image()
    client = _admin_client()
    page = client.get(IMAGES)
    assert page.status_code == 200
    html = page.content.decode()
    assert "ready" in html.lower()
    (src,) = re.findall(r'<img src="([^"]+)" alt=""', html)
    preview = Client().get(src.replace("&amp;", "&"))
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/webp"
    assert client.get(f"{IMAGES}{image['id']}/change/").status_code == 200


def test_visibility_actions_go_through_the_service(kit: MediaKit) -> None:
    """ "Hide" and "show" flip visibility and move updated_at, like the API."""
    image = _image(visible=True)
    client = _admin_client()
    r = client.post(IMAGES, {"action": "make_hidden", "_selected_action": [image["id"]]})
    assert r.status_code == 302
    hidden = kit.repos.images.get(image["id"])
    assert hidden is not None
    assert hidden.visible is False
    assert hidden.updated_at.isoformat() > image["updated_at"].rstrip("Z")
    client.post(IMAGES, {"action": "make_visible", "_selected_action": [image["id"]]})
    shown = kit.repos.images.get(image["id"])
    assert shown is not None
    assert shown.visible is True


def test_editing_an_image_saves_only_the_editable_fields(kit: MediaKit) -> None:
    """The change form updates title/description/visibility, never thumbnails or status."""
    image = _image()
    client = _admin_client()
    r = client.post(
        f"{IMAGES}{image['id']}/change/",
        {"title": "renamed", "description": "d", "visible": "on"},
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    row = kit.repos.images.get(image["id"])
    assert row is not None
    assert (row.title, row.description, row.status.value) == ("renamed", "d", "ready")
    assert row.thumbnails


def test_deleting_an_image_in_the_admin_removes_its_objects(kit: MediaKit) -> None:
    """The admin's delete goes through the service: row and stored objects are gone."""
    image = _image()
    row = kit.repos.images.get(image["id"])
    assert row is not None
    prefix = image_prefix(image["id"])
    assert set(row.object_keys()) <= set(kit.store.list_keys(prefix))
    client = _admin_client()
    r = client.post(f"{IMAGES}{image['id']}/delete/", {"post": "yes"})
    assert r.status_code == 302
    assert kit.repos.images.get(image["id"]) is None
    assert list(kit.store.list_keys(prefix)) == []


def test_music_set_pages_render_tracks_inline(kit: MediaKit) -> None:
    """The set list shows visibility and track counts; the change page lists the tracks."""
    created = kit.service.create_music_set(WHO, title="Album", visible=False)
    set_id = created["id"]
    kit.repos.tracks.add_many(
        [b.track(set_id, title="First song", renditions=b.tiers(set_id, "t1")), b.track(set_id)]
    )
    client = _admin_client()
    listing = client.get(SETS)
    assert listing.status_code == 200
    assert "Album" in listing.content.decode()
    page = client.get(f"{SETS}{set_id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "First song" in html
    assert "low, high" in html
    client.post(SETS, {"action": "make_visible", "_selected_action": [set_id]})
    music_set = kit.repos.music_sets.get(set_id)
    assert music_set is not None
    assert music_set.visible is True


# --- uploads from the admin -------------------------------------------------------------


def _csrf_admin() -> tuple[Client, str]:
    """A logged-in superuser whose client enforces CSRF, and the CSRF token of a page."""
    user = User.objects.create_superuser(f"up-{User.objects.count()}", password="x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(f"{IMAGES}add/")
    assert page.status_code == 200, page.status_code
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert tokens
    return client, tokens[-1]


def test_the_add_image_page_is_an_upload_form(kit: MediaKit) -> None:
    """ "Add image" renders a multiple-file upload form (it used to be 403)."""
    client, _ = _csrf_admin()
    html = client.get(f"{IMAGES}add/").content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input[^>]+type="file"[^>]+name="images"[^>]+multiple', html)
    assert "Upload images" in html


def test_images_uploaded_in_the_admin_are_stored_and_processed_by_the_service(
    kit: MediaKit,
) -> None:
    """Two files, a title and visibility: rows, objects and thumbnails, like the API."""
    client, token = _csrf_admin()
    r = client.post(
        f"{IMAGES}add/",
        {
            "csrfmiddlewaretoken": token,
            "images": [
                SimpleUploadedFile("one.jpg", jpeg_bytes(90, 60), content_type="image/jpeg"),
                SimpleUploadedFile("zwei Größe.jpg", jpeg_bytes(40, 30), content_type="image/jpeg"),
            ],
            "title": "From the admin",
            "visible": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()[-1500:]
    assert r["Location"] == IMAGES
    rows = kit.repos.images.list(visible_only=False).items
    assert sorted(i.filename for i in rows) == ["one.jpg", "zwei Größe.jpg"]
    for image in rows:
        assert (image.title, image.visible, image.status.value) == ("From the admin", True, "ready")
        assert image.thumbnails
        assert set(image.object_keys()) <= set(kit.store.list_keys(image_prefix(image.id)))
    listing = client.get(IMAGES).content.decode()
    assert "2 image(s) uploaded" in listing


def test_a_file_that_is_not_an_image_is_refused_in_the_admin_and_nothing_is_kept(
    kit: MediaKit,
) -> None:
    """Content sniffing applies: the form comes back with the service's message."""
    client, token = _csrf_admin()
    r = client.post(
        f"{IMAGES}add/",
        {
            "csrfmiddlewaretoken": token,
            "images": [
                SimpleUploadedFile("ok.jpg", jpeg_bytes(20, 20), content_type="image/jpeg"),
                SimpleUploadedFile(
                    "evil.jpg", b"#!/bin/sh\necho hi\n" * 50, content_type="image/jpeg"
                ),
            ],
        },
    )
    assert r.status_code == 400
    assert "evil.jpg" in r.content.decode()
    assert kit.repos.images.list(visible_only=False).items == []
    assert list(kit.store.list_keys("images/")) == []


def test_admin_uploads_respect_the_upload_limits(kit: MediaKit) -> None:
    """MEDIA_MAX_FILES_PER_REQUEST applies to the admin too."""
    import attrs

    client, token = _csrf_admin()
    old = kit.service._limits
    kit.service._limits = attrs.evolve(old, max_files_per_request=1)
    try:
        r = client.post(
            f"{IMAGES}add/",
            {
                "csrfmiddlewaretoken": token,
                "images": [
                    SimpleUploadedFile(f"{n}.jpg", jpeg_bytes(20, 20), content_type="image/jpeg")
                    for n in range(2)
                ],
            },
        )
    finally:
        kit.service._limits = old
    assert r.status_code == 400
    assert kit.repos.images.list(visible_only=False).items == []


def test_the_admin_upload_needs_the_csrf_token(kit: MediaKit) -> None:
    """The admin's forms keep Django's CSRF protection."""
    client, _ = _csrf_admin()
    r = client.post(
        f"{IMAGES}add/",
        {"images": [SimpleUploadedFile("a.jpg", jpeg_bytes(20, 20), content_type="image/jpeg")]},
    )
    assert r.status_code == 403
    assert kit.repos.images.list(visible_only=False).items == []


@pytest.mark.ffmpeg
def test_a_music_set_and_its_tracks_are_added_in_the_admin(kit: MediaKit, tmp_path: Path) -> None:
    """ "Add music set" creates the set with its tracks; "Upload tracks" appends more."""
    exe = ffmpeg_exe()
    need(exe is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    audio = sine_audio(tmp_path, "wav", seconds=0.5).read_bytes()
    client, token = _csrf_admin()
    assert client.get(f"{SETS}add/").status_code == 200
    r = client.post(
        f"{SETS}add/",
        {
            "csrfmiddlewaretoken": token,
            "title": "Admin album",
            "description": "",
            "tracks": [SimpleUploadedFile("first.wav", audio, content_type="audio/wav")],
        },
    )
    assert r.status_code == 302, r.content.decode()[-1500:]
    (music_set,) = kit.repos.music_sets.list(visible_only=False).items
    assert r["Location"] == f"{SETS}{music_set.id}/change/"
    page = client.get(r["Location"]).content.decode()
    assert f"{SETS}{music_set.id}/upload/" in page
    r = client.post(
        f"{SETS}{music_set.id}/upload/",
        {
            "csrfmiddlewaretoken": token,
            "tracks": [SimpleUploadedFile("second.wav", audio, content_type="audio/wav")],
        },
    )
    assert r.status_code == 302, r.content.decode()[-1500:]
    tracks = kit.repos.tracks.list_for_set(music_set.id)
    assert [t.filename for t in tracks] == ["first.wav", "second.wav"]
    assert {t.status.value for t in tracks} == {"ready"}


def test_a_music_set_whose_tracks_are_refused_is_not_created(kit: MediaKit) -> None:
    """All or nothing: a refused track file leaves no set behind."""
    client, token = _csrf_admin()
    r = client.post(
        f"{SETS}add/",
        {
            "csrfmiddlewaretoken": token,
            "title": "Broken album",
            "tracks": [
                SimpleUploadedFile("x.wav", b"not audio at all" * 10, content_type="audio/wav")
            ],
        },
    )
    assert r.status_code == 400
    assert "x.wav" in r.content.decode()
    assert kit.repos.music_sets.list(visible_only=False).items == []
