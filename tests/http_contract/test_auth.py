"""Authentication and authorization: 401 without or with a bad token, 403 for users on admin routes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http_contract.harness import Api, assert_error

FAKE_ID = "00000000000000000000000000"

ADMIN_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/admin/images/upload", {"files": [("files", ("a.jpg", b"x", "image/jpeg"))]}),
    ("GET", "/api/v1/admin/images", {}),
    ("GET", f"/api/v1/admin/images/{FAKE_ID}", {}),
    ("PUT", f"/api/v1/admin/images/{FAKE_ID}", {"json": {"title": "t"}}),
    ("DELETE", f"/api/v1/admin/images/{FAKE_ID}", {}),
    ("POST", "/api/v1/admin/music-sets", {"json": {"title": "t"}}),
    ("GET", "/api/v1/admin/music-sets", {}),
    ("GET", f"/api/v1/admin/music-sets/{FAKE_ID}", {}),
    ("PUT", f"/api/v1/admin/music-sets/{FAKE_ID}", {"json": {"title": "t"}}),
    ("PUT", f"/api/v1/admin/music-sets/{FAKE_ID}/visibility", {"json": {"visible": True}}),
    ("DELETE", f"/api/v1/admin/music-sets/{FAKE_ID}", {}),
    (
        "POST",
        f"/api/v1/admin/music-sets/{FAKE_ID}/tracks",
        {"files": [("files", ("a.wav", b"x", "audio/wav"))]},
    ),
    ("PUT", f"/api/v1/admin/music-sets/{FAKE_ID}/tracks/{FAKE_ID}", {"json": {"title": "t"}}),
    ("DELETE", f"/api/v1/admin/music-sets/{FAKE_ID}/tracks/{FAKE_ID}", {}),
    ("PUT", f"/api/v1/admin/music-sets/{FAKE_ID}/tracks/order", {"json": {"track_ids": []}}),
]

USER_ROUTES: list[str] = [
    "/api/v1/user/images",
    f"/api/v1/user/images/{FAKE_ID}",
    "/api/v1/user/music-sets",
    f"/api/v1/user/music-sets/{FAKE_ID}",
    f"/api/v1/user/music-sets/{FAKE_ID}/stream/{FAKE_ID}",
    f"/api/v1/user/music-sets/{FAKE_ID}/download/{FAKE_ID}",
    f"/api/v1/user/media/{FAKE_ID}/stream",
]


def test_healthz_needs_no_token(api: Api) -> None:
    """GET /healthz answers 200 {"status": "ok"} without credentials."""
    r = api.anon.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_ROUTES)
def test_admin_routes_without_token_are_401(
    api: Api, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    """Every admin route answers 401 with WWW-Authenticate: Bearer when no token is sent."""
    r = api.anon.request(method, path, **kwargs)
    assert_error(r, 401)
    assert r.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(("method", "path", "kwargs"), ADMIN_ROUTES)
def test_admin_routes_with_user_token_are_403(
    api: Api, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    """A valid user token on an admin route is 403, whether or not the target exists."""
    assert_error(api.user.request(method, path, **kwargs), 403)


@pytest.mark.parametrize("path", USER_ROUTES)
def test_user_routes_without_token_are_401(api: Api, path: str) -> None:
    """User routes answer 401 without a token, before revealing whether anything exists."""
    r = api.anon.get(path)
    assert_error(r, 401)
    assert r.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Bearer", "Basic dXNlcjpwYXNz", "contract-user-token-0123456789"],
)
def test_bad_credentials_are_401(api: Api, header: str) -> None:
    """A wrong token, an empty one, another scheme or a missing scheme are all 401."""
    for path in ("/api/v1/user/images", "/api/v1/admin/images"):
        r = api.raw.get(api.absolute(path), headers={"Authorization": header})
        assert_error(r, 401)
        assert r.headers["www-authenticate"].lower().startswith("bearer")


def test_admin_token_is_accepted_on_user_routes(api: Api) -> None:
    """An admin is also a user: the user listing answers 200 for the admin token."""
    assert api.admin.get("/api/v1/user/images").status_code == 200


def test_unknown_route_is_404_in_the_error_shape(api: Api) -> None:
    """An unknown API route is 404 with the same JSON error body."""
    assert_error(api.admin.get("/api/v1/no-such-route"), 404)
