"""Users see only ready items (issue 14, defect 2), on both service twins: a pending,
processing or failed image or track is absent from listings and NotFound on every user
path, and failure_reason never reaches a user; admins see everything."""

from __future__ import annotations

import pytest

from mediakit.errors import NotFound
from mediakit.models import ProcessingStatus
from tests.service.kit import ADMIN, USER, Twin, make_kit, seed_image, seed_set

NOT_READY = [ProcessingStatus.PENDING, ProcessingStatus.PROCESSING, ProcessingStatus.FAILED]


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return Twin(make_kit(delivery="proxy"), request.param)


@pytest.mark.parametrize("status", NOT_READY)
def test_image_not_ready_is_absent_for_users(twin: Twin, status: ProcessingStatus) -> None:
    """Listing, get and the proxy (original and a thumbnail) hide it; admins see it."""
    ready = seed_image(twin.kit)
    image = seed_image(twin.kit)
    twin.kit.repos.images.update(image.id, {"status": status, "failure_reason": "boom"})
    listed = [i["id"] for i in twin.list_images(USER)["items"]]
    assert listed == [ready.id]
    for call in (
        lambda: twin.get_image(USER, image.id),
        lambda: twin.proxy(USER, image.id, method="GET", headers={}),
        lambda: twin.proxy(USER, image.id, method="GET", headers={}, size="w320"),
    ):
        with pytest.raises(NotFound):
            call()
    admin_view = twin.get_image(ADMIN, image.id, admin=True)
    assert (admin_view["status"], admin_view["failure_reason"]) == (str(status), "boom")
    assert image.id in [i["id"] for i in twin.list_images(ADMIN, admin=True)["items"]]


def test_user_listing_pages_stay_full(twin: Twin) -> None:
    """With failed images between ready ones, every page but the last holds `limit` items."""
    ids = []
    for n in range(7):
        image = seed_image(twin.kit)
        if n % 2:
            twin.kit.repos.images.update(image.id, {"status": ProcessingStatus.FAILED})
        else:
            ids.append(image.id)
    first = twin.list_images(USER, limit=2)
    assert len(first["items"]) == 2
    second = twin.list_images(USER, limit=2, cursor=first["next_cursor"])
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None
    assert {i["id"] for i in first["items"] + second["items"]} == set(ids)


def test_a_ready_row_with_a_stale_reason_shows_no_reason_to_users(twin: Twin) -> None:
    """failure_reason is for admins: even on a ready row a user's view has none."""
    image = seed_image(twin.kit)
    twin.kit.repos.images.update(image.id, {"failure_reason": "internal: /tmp/x failed"})
    assert twin.get_image(USER, image.id)["failure_reason"] is None
    assert [i["failure_reason"] for i in twin.list_images(USER)["items"]] == [None]
    assert twin.get_image(ADMIN, image.id)["failure_reason"] == "internal: /tmp/x failed"


@pytest.mark.parametrize("status", NOT_READY)
def test_track_not_ready_is_absent_for_users(twin: Twin, status: ProcessingStatus) -> None:
    """Left out of the set's tracks and track_count; stream, download and proxy NotFound."""
    music_set, (ok, bad) = seed_set(twin.kit, tracks=2)
    twin.kit.repos.tracks.update(bad.id, {"status": status, "failure_reason": "ffmpeg said no"})
    detail = twin.get_music_set(USER, music_set.id)
    assert [t["id"] for t in detail["tracks"]] == [ok.id]
    assert detail["track_count"] == 1
    assert [s["track_count"] for s in twin.list_music_sets(USER)["items"]] == [1]
    for call in (
        lambda: twin.stream_url(USER, music_set.id, bad.id),
        lambda: twin.download_url(USER, music_set.id, bad.id),
        lambda: twin.proxy(USER, bad.id, method="GET", headers={}),
        lambda: twin.proxy(USER, bad.id, method="GET", headers={}, quality="original"),
    ):
        with pytest.raises(NotFound):
            call()
    admin = twin.get_music_set(ADMIN, music_set.id, admin=True)
    assert [t["id"] for t in admin["tracks"]] == [ok.id, bad.id]
    assert admin["tracks"][1]["failure_reason"] == "ffmpeg said no"
    assert [s["track_count"] for s in twin.list_music_sets(ADMIN, admin=True)["items"]] == [2]
    assert twin.stream_url(USER, music_set.id, ok.id)["url"]
