"""The Django admin pages: lists with status and previews, visibility actions, tracks inline."""

from __future__ import annotations

import re
from typing import Any

from mediakit.keys import image_prefix
from mediakit.models import Principal
from mediakit.service import MediaKit
from tests.django.support import ADMIN_TOKEN, ensure_django
from tests.fixtures_media import jpeg_bytes
from tests.repositories import builders as b

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
