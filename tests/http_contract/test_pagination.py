"""Pagination: limits, opaque cursors, no duplicates or gaps, hidden items excluded."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.http_contract.harness import Api, assert_error, jpeg_small

LISTS = [
    "/api/v1/user/images",
    "/api/v1/admin/images",
    "/api/v1/user/music-sets",
    "/api/v1/admin/music-sets",
]


@pytest.fixture(scope="module")
def seeded(api: Api) -> dict[str, list[str]]:
    """7 visible + 2 hidden images and 4 visible + 1 hidden sets, under one unique title each."""
    title = f"page-{uuid.uuid4().hex[:8]}"
    r = api.upload_images(
        [(f"{i}.jpg", jpeg_small(), "image/jpeg") for i in range(5)], title=title, visible=True
    )
    assert r.status_code == 201, r.text
    visible = [i["id"] for i in r.json()["items"]]
    r = api.upload_images(
        [(f"{i}.jpg", jpeg_small(), "image/jpeg") for i in range(2)], title=title, visible=True
    )
    visible += [i["id"] for i in r.json()["items"]]
    r = api.upload_images(
        [(f"h{i}.jpg", jpeg_small(), "image/jpeg") for i in range(2)], title=title, visible=False
    )
    hidden = [i["id"] for i in r.json()["items"]]
    for image_id in visible + hidden:  # users see ready images only
        assert api.wait_image(image_id)["status"] == "ready"
    sets = [api.create_set(f"{title}-{i}", visible=True)["id"] for i in range(4)]
    hidden_sets = [api.create_set(f"{title}-hidden", visible=False)["id"]]
    return {"visible": visible, "hidden": hidden, "sets": sets, "hidden_sets": hidden_sets}


def walk_pages(api: Api, path: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        client = api.admin if "/admin/" in path else api.user
        r = client.get(path, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) >= {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert isinstance(cursor, str)
        assert cursor
        params = {"limit": limit, "cursor": cursor}
        assert len(pages) < 500


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_cursor_walk_has_no_duplicates_or_gaps(
    api: Api, seeded: dict[str, list[str]], limit: int
) -> None:
    """Walking the user image list page by page returns each visible image exactly once."""
    pages = walk_pages(api, "/api/v1/user/images", limit)
    assert all(len(p) <= limit for p in pages)
    assert all(len(p) == limit for p in pages[:-1])
    ids = [i["id"] for p in pages for i in p]
    assert len(ids) == len(set(ids)), "duplicate items across pages"
    assert set(seeded["visible"]) <= set(ids)
    assert not set(seeded["hidden"]) & set(ids)
    # one big page agrees with the walk
    full = api.user.get("/api/v1/user/images", params={"limit": 100}).json()
    if full["next_cursor"] is None:
        assert [i["id"] for i in full["items"]] == ids


def test_admin_list_includes_hidden(api: Api, seeded: dict[str, list[str]]) -> None:
    """Admin listings of images and sets include hidden items; user listings do not."""
    admin_images = {i["id"] for p in walk_pages(api, "/api/v1/admin/images", 4) for i in p}
    assert set(seeded["visible"] + seeded["hidden"]) <= admin_images
    admin_sets = {i["id"] for p in walk_pages(api, "/api/v1/admin/music-sets", 2) for i in p}
    assert set(seeded["sets"] + seeded["hidden_sets"]) <= admin_sets
    user_sets = {i["id"] for p in walk_pages(api, "/api/v1/user/music-sets", 2) for i in p}
    assert set(seeded["sets"]) <= user_sets
    assert not set(seeded["hidden_sets"]) & user_sets


def test_default_limit_is_50(api: Api, seeded: dict[str, list[str]]) -> None:
    """Without ?limit a page holds at most 50 items, and only the last page is short."""
    for path in LISTS:
        client = api.admin if "/admin/" in path else api.user
        r = client.get(path)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 50
        if len(body["items"]) < 50:
            # a short page is the last one
            assert body["next_cursor"] is None


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc"])
def test_limit_out_of_range_is_422(api: Api, path: str, limit: str) -> None:
    """?limit outside 1..100 or not a number is 422 invalid_input."""
    client = api.admin if "/admin/" in path else api.user
    assert_error(client.get(path, params={"limit": limit}), 422, "invalid_input")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", ["!!!not-a-cursor!!!", "AAAA", "eyJ4IjogMX0"])
def test_bad_cursor_is_400(api: Api, path: str, cursor: str) -> None:
    """A cursor the server did not issue is 400."""
    client = api.admin if "/admin/" in path else api.user
    assert_error(client.get(path, params={"cursor": cursor}), 400)
