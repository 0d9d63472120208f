"""Authentication and authorisation over HTTP: only a bearer header authenticates, users
never reach admin routes, and nothing but the health check, the page and signed local URLs
answers without a token."""

from __future__ import annotations

import base64

import pytest

from tests.http_contract.harness import ADMIN_TOKEN, USER_TOKEN, Api, assert_error
from tests.security.conftest import raw_request, raw_status

ID = "AAAAAAAAAAAAAAAAAAAAAA"
ADMIN_ROUTES = [
    ("POST", "/api/v1/admin/images/upload"),
    ("GET", "/api/v1/admin/images"),
    ("GET", f"/api/v1/admin/images/{ID}"),
    ("PUT", f"/api/v1/admin/images/{ID}"),
    ("DELETE", f"/api/v1/admin/images/{ID}"),
    ("POST", "/api/v1/admin/music-sets"),
    ("GET", "/api/v1/admin/music-sets"),
    ("GET", f"/api/v1/admin/music-sets/{ID}"),
    ("PUT", f"/api/v1/admin/music-sets/{ID}"),
    ("PUT", f"/api/v1/admin/music-sets/{ID}/visibility"),
    ("DELETE", f"/api/v1/admin/music-sets/{ID}"),
    ("POST", f"/api/v1/admin/music-sets/{ID}/tracks"),
    ("PUT", f"/api/v1/admin/music-sets/{ID}/tracks/{ID}"),
    ("DELETE", f"/api/v1/admin/music-sets/{ID}/tracks/{ID}"),
    ("PUT", f"/api/v1/admin/music-sets/{ID}/tracks/order"),
]
USER_ROUTES = [
    ("GET", "/api/v1/user/images"),
    ("GET", f"/api/v1/user/images/{ID}"),
    ("GET", "/api/v1/user/music-sets"),
    ("GET", f"/api/v1/user/music-sets/{ID}"),
    ("GET", f"/api/v1/user/music-sets/{ID}/stream/{ID}"),
    ("GET", f"/api/v1/user/music-sets/{ID}/download/{ID}"),
    ("GET", f"/api/v1/user/media/{ID}/stream"),
    ("HEAD", f"/api/v1/user/media/{ID}/stream"),
]
BODIES = {
    "PUT": {"json": {"title": "x", "visible": True, "track_ids": []}},
    "POST": {"json": {"title": "x"}},
}


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_user_token_on_every_admin_route_is_403(sec: Api, method: str, path: str) -> None:
    """A valid user token on any admin route (existing id or not) is 403, never 404 or 2xx."""
    r = sec.user.request(method, path, **BODIES.get(method, {}))  # type: ignore[arg-type]
    assert_error(r, 403)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + USER_ROUTES)
def test_no_token_on_every_api_route_is_401(sec: Api, method: str, path: str) -> None:
    """No token: 401 with ``WWW-Authenticate: Bearer`` on every admin and user route."""
    r = sec.anon.request(method, path, **BODIES.get(method, {}))  # type: ignore[arg-type]
    assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
    assert r.headers["www-authenticate"].lower().startswith("bearer")
    if method != "HEAD":
        assert_error(r, 401)


@pytest.mark.parametrize(
    "params",
    [
        {"token": ADMIN_TOKEN},
        {"access_token": ADMIN_TOKEN},
        {"authorization": f"Bearer {ADMIN_TOKEN}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        {"bearer": ADMIN_TOKEN},
        {"api_key": ADMIN_TOKEN},
    ],
)
def test_token_in_query_string_does_not_authenticate(sec: Api, params: dict[str, str]) -> None:
    """A token in the URL (where logs and Referer headers would leak it) is never accepted."""
    assert sec.anon.get("/api/v1/admin/images", params=params).status_code == 401
    assert sec.anon.get("/api/v1/user/images", params=params).status_code == 401


def test_token_in_a_cookie_does_not_authenticate(sec: Api) -> None:
    """A bearer token sent as a cookie is not a credential (no ambient authority)."""
    for name in ("token", "access_token", "Authorization", "sessionid", "mediakit_token"):
        r = sec.anon.get("/api/v1/admin/images", headers={"Cookie": f"{name}={ADMIN_TOKEN}"})
        assert r.status_code == 401, name


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer  {USER_TOKEN}",
        f"Bearer\t{USER_TOKEN}",
        f"Bearer {USER_TOKEN} ",
        f"bearer {USER_TOKEN}",
        f"BEARER {USER_TOKEN}",
        f"Bearer {USER_TOKEN}x",
        f"Bearer {USER_TOKEN[:-1]}",
        f"Bearer {USER_TOKEN} {ADMIN_TOKEN}",
        f"Bearer {USER_TOKEN},Bearer {ADMIN_TOKEN}",
        f"Bearer{USER_TOKEN}",
        f"Token {USER_TOKEN}",
        f"Basic {base64.b64encode(USER_TOKEN.encode()).decode()}",
        f"Basic {base64.b64encode((USER_TOKEN + ':').encode()).decode()}",
        f"Basic {base64.b64encode((':' + ADMIN_TOKEN).encode()).decode()}",
        USER_TOKEN,
        "Bearer ",
        "Bearer",
        "",
    ],
)
def test_authorization_variants_never_escalate(sec: Api, header: str) -> None:
    """Whitespace and scheme variants of the header: each is either the user (200 on a user
    route, 403 on an admin one) or nobody (401); none is an admin and none is a 5xx."""
    user = _status_with(sec, "/api/v1/user/images", header)
    admin = _status_with(sec, "/api/v1/admin/images", header)
    assert user in (200, 401), (header, user)
    assert admin == (403 if user == 200 else 401), (header, admin)
    if any(bad in header for bad in ("x", "Token", "Basic", f"{USER_TOKEN[:-1]} ", ",")):
        assert user == 401, header


def _status_with(api: Api, path: str, authorization: str) -> int:
    """GET ``path`` with this exact ``Authorization`` value (raw: httpx refuses some)."""
    response = raw_request(
        api,
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
            "Connection: close\r\n\r\n"
        ).encode(),
    )
    return raw_status(response)


def test_two_authorization_headers_never_grant_the_admin(sec: Api) -> None:
    """A user token and the admin token in two ``Authorization`` headers: never admin."""
    for first, second in ((USER_TOKEN, ADMIN_TOKEN), (ADMIN_TOKEN + "x", ADMIN_TOKEN)):
        response = raw_request(
            sec,
            (
                "GET /api/v1/admin/images HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {first}\r\nAuthorization: Bearer {second}\r\n"
                "Connection: close\r\n\r\n"
            ).encode(),
        )
        assert raw_status(response) in (401, 403), response[:300]


@pytest.mark.parametrize("path", ["/healthz", "/", "/api/v1/media/local/x"])
def test_only_health_page_and_local_urls_answer_without_a_token(sec: Api, path: str) -> None:
    """The routes open to anonymous callers: the health check, the page, and local URLs
    (which need their signature instead: 403 without one)."""
    r = sec.anon.get(path)
    if path.startswith("/api/v1/media/local/"):
        assert_error(r, 403, "url_signature_invalid")
    else:
        assert r.status_code == 200, (path, r.status_code)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/user", "/api/v1/admin", "/api/v1/", "/api/v2/user/images", "/api/v1/user/images/"],
)
def test_unknown_api_paths_are_json_404_or_401(sec: Api, path: str) -> None:
    """Paths near the API answer a JSON 404 (or 401), not a framework page."""
    r = sec.anon.get(path)
    assert r.status_code in (401, 404), (path, r.status_code)
    assert r.headers["content-type"].startswith("application/json"), (path, r.headers)
