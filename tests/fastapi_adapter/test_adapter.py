"""The FastAPI adapter in process (httpx over ASGI): routing, auth, error mapping,
streaming routes and OpenAPI. The black-box suite over a real server is tests/http_contract."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from examples.fastapi_server.app import DemoTokens, create_app
from fastapi import FastAPI

from mediakit import errors
from mediakit.models import Principal
from mediakit.service import MediaKit
from mediakit_fastapi import bearer_token_principal, create_router, install_error_handlers
from tests.fastapi_adapter.client import Client
from tests.fixtures_media import jpeg_bytes
from tests.service.kit import make_kit, multipart, seed_image, seed_set

TOKENS = DemoTokens(admin="admin-token", user="user-token", generated=False)
ADMIN = {"Authorization": "Bearer admin-token"}
USER = {"Authorization": "Bearer user-token"}


@pytest.fixture
def kit() -> Iterator[MediaKit]:
    k = make_kit()
    yield k
    k.close()


@pytest.fixture
def client(kit: MediaKit) -> Client:
    return Client(create_app(kit.settings, TOKENS, kit=kit, web_dir=None))


def _all_subclasses(cls: type[errors.MediaKitError]) -> list[type[errors.MediaKitError]]:
    out: list[type[errors.MediaKitError]] = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


def _instance(cls: type[errors.MediaKitError]) -> errors.MediaKitError:
    if cls is errors.ConfigurationError:
        return errors.ConfigurationError("MEDIAKIT_X", "bad")
    if cls is errors.RangeNotSatisfiable:
        return errors.RangeNotSatisfiable(100)
    if cls is errors.Unauthorized:
        return cls()
    return cls("Something happened.")


ERROR_CLASSES = sorted(_all_subclasses(errors.MediaKitError), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_mediakit_error_maps_to_its_status_and_json_shape(
    cls: type[errors.MediaKitError],
) -> None:
    """Each MediaKitError subclass answers its http_status, the error JSON and its headers."""
    exc = _instance(cls)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    response = Client(app).get("/boom")
    assert response.status_code == exc.http_status
    assert response.json() == exc.to_dict()
    public = exc.message if exc.http_status < 500 else exc.public_message
    assert response.json()["error"]["message"] == public
    for name, value in exc.headers.items():
        assert response.headers[name] == value


def test_error_classes_cover_the_contract_statuses() -> None:
    """The hierarchy has a class for every status the contract names."""
    statuses = {c.http_status for c in ERROR_CLASSES}
    assert {400, 401, 403, 404, 409, 412, 413, 415, 416, 422, 429, 502, 503} <= statuses


def test_framework_errors_use_the_same_shape(client: Client) -> None:
    """Unknown route 404, wrong method 405, bad JSON and wrong types 422 invalid_input."""
    r = client.get("/api/v1/nope")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = client.patch("/api/v1/user/images", headers=USER)
    assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")
    r = client.post(
        "/api/v1/admin/music-sets",
        headers={**ADMIN, "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_input")
    r = client.put("/api/v1/admin/music-sets/x/visibility", headers=ADMIN, json={"visible": "yes"})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_input")
    assert "visible" in r.json()["error"]["message"]
    r = client.get("/api/v1/user/images?limit=0", headers=USER)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_input")


def test_unexpected_exception_is_a_json_500_with_framework_errors() -> None:
    """With ``framework_errors=True`` (the reference server) a bug answers 500 in the error
    shape, not a traceback; without it the app's own 500 handling is left alone."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    def app_bug() -> None:
        raise RuntimeError("oops")

    r = Client(app, raise_server_exceptions=False).get("/bug")
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    app = FastAPI()
    install_error_handlers(app, framework_errors=True)

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("oops")

    r = Client(app, raise_server_exceptions=False).get("/bug")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"


def test_bearer_auth_401_and_403(client: Client) -> None:
    """No/unknown token: 401 with WWW-Authenticate; user token on admin routes: 403."""
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YTpi"}):
        r = client.get("/api/v1/user/images", headers=headers)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "unauthorized"
    r = client.get("/api/v1/admin/images", headers=USER)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    assert client.get("/api/v1/user/images", headers=USER).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert client.get("/healthz").json() == {"status": "ok"}


def test_crud_flow_over_http(client: Client, kit: MediaKit) -> None:
    """Sets: create 201, visibility, track reorder/update/delete 204, delete 204 then 404."""
    r = client.post("/api/v1/admin/music-sets", headers=ADMIN, json={"title": "Mix"})
    assert (r.status_code, r.json()["visible"]) == (201, False)
    set_id = r.json()["id"]
    assert client.get(f"/api/v1/user/music-sets/{set_id}", headers=USER).status_code == 404
    r = client.put(
        f"/api/v1/admin/music-sets/{set_id}/visibility", headers=ADMIN, json={"visible": True}
    )
    assert r.json()["visible"] is True
    music_set, tracks = seed_set(kit, visible=True, tracks=2)
    a, b = (t.id for t in tracks)
    r = client.put(
        f"/api/v1/admin/music-sets/{music_set.id}/tracks/order",
        headers=ADMIN,
        json={"track_ids": [b, a]},
    )
    assert [t["id"] for t in r.json()["tracks"]] == [b, a]
    r = client.put(
        f"/api/v1/admin/music-sets/{music_set.id}/tracks/{a}", headers=ADMIN, json={"title": "A"}
    )
    assert r.json()["title"] == "A"
    r = client.get(f"/api/v1/user/music-sets/{music_set.id}/stream/{a}?quality=low", headers=USER)
    assert r.json()["quality"] == "low"
    r = client.get(f"/api/v1/user/music-sets/{music_set.id}/stream/{a}?quality=ultra", headers=USER)
    assert r.status_code == 422
    assert (
        client.delete(
            f"/api/v1/admin/music-sets/{music_set.id}/tracks/{a}", headers=ADMIN
        ).status_code
        == 204
    )
    assert (
        client.delete(f"/api/v1/admin/music-sets/{music_set.id}", headers=ADMIN).status_code == 204
    )
    assert client.get(f"/api/v1/admin/music-sets/{music_set.id}", headers=ADMIN).status_code == 404


def test_upload_streams_request_body_and_answers_201(client: Client) -> None:
    """A multipart upload answers 201 with the created images; a bad type is 415."""
    body, ct = multipart([("a.jpg", jpeg_bytes())], {"visible": "true"})
    r = client.post(
        "/api/v1/admin/images/upload", headers={**ADMIN, "Content-Type": ct}, content=body
    )
    assert r.status_code == 201, r.text
    [item] = r.json()["items"]
    assert (item["visible"], item["status"]) == (True, "ready")
    body, ct = multipart([("a.txt", b"hello world, not an image")])
    r = client.post(
        "/api/v1/admin/images/upload", headers={**ADMIN, "Content-Type": ct}, content=body
    )
    assert (r.status_code, r.json()["error"]["code"]) == (415, "unsupported_media_type")
    r = client.post(
        "/api/v1/admin/images/upload", headers={**ADMIN, "Content-Type": "text/plain"}, content=b"x"
    )
    assert r.status_code in (400, 415)


def test_proxy_and_local_routes_stream_with_range_and_head(client: Client, kit: MediaKit) -> None:
    """Proxy: 206 for a Range, HEAD headers without body, 416 shape; local URL works, tampered 403."""
    image = seed_image(kit)
    path = f"/api/v1/user/media/{image.id}/stream"
    r = client.get(path, headers={**USER, "Range": "bytes=10-19"})
    assert (r.status_code, r.content, r.headers["Content-Range"]) == (
        206,
        b"J" * 10,
        "bytes 10-19/1000",
    )
    assert r.headers["Accept-Ranges"] == "bytes"
    r = client.head(path, headers=USER)
    assert (r.status_code, r.content, r.headers["Content-Length"]) == (200, b"", "1000")
    r = client.get(path, headers={**USER, "Range": "bytes=5000-"})
    assert (r.status_code, r.headers["Content-Range"]) == (416, "bytes */1000")
    r = client.get(
        path, headers={**USER, "If-None-Match": client.head(path, headers=USER).headers["ETag"]}
    )
    assert r.status_code == 304
    url = client.get(f"/api/v1/user/images/{image.id}", headers=USER).json()["url"]
    r = client.get(url, headers={"Range": "bytes=0-0"})
    assert (r.status_code, r.content) == (206, b"J")
    r = client.get(url.replace("sig=", "sig=A"))
    assert r.status_code == 403
    assert r.json()["error"]["code"].startswith("url_")
    assert client.get(path).status_code == 401


def test_router_prefix_and_kit_prefix_need_not_agree() -> None:
    """URLs follow where the request reached the router, whatever prefix the kit was
    built for (the build-time prefix is only the default outside a request)."""
    kit = make_kit(prefix="/old")
    app = FastAPI()
    principal = bearer_token_principal({"t": Principal("u")})
    app.include_router(create_router(kit, get_principal=principal, prefix="/media"))
    image = seed_image(kit)
    client = Client(app)
    view = client.get(
        f"/media/api/v1/user/images/{image.id}", headers={"Authorization": "Bearer t"}
    ).json()
    assert view["url"].startswith("/media/api/v1/media/local/")
    assert client.get(view["url"]).content == b"J" * 1000
    kit.close()


CONTRACT: list[tuple[str, str]] = [
    ("post", "/api/v1/admin/images/upload"),
    ("get", "/api/v1/admin/images"),
    ("get", "/api/v1/admin/images/{image_id}"),
    ("put", "/api/v1/admin/images/{image_id}"),
    ("delete", "/api/v1/admin/images/{image_id}"),
    ("post", "/api/v1/admin/music-sets"),
    ("get", "/api/v1/admin/music-sets"),
    ("get", "/api/v1/admin/music-sets/{set_id}"),
    ("put", "/api/v1/admin/music-sets/{set_id}"),
    ("put", "/api/v1/admin/music-sets/{set_id}/visibility"),
    ("delete", "/api/v1/admin/music-sets/{set_id}"),
    ("post", "/api/v1/admin/music-sets/{set_id}/tracks"),
    ("put", "/api/v1/admin/music-sets/{set_id}/tracks/{track_id}"),
    ("delete", "/api/v1/admin/music-sets/{set_id}/tracks/{track_id}"),
    ("put", "/api/v1/admin/music-sets/{set_id}/tracks/order"),
    ("get", "/api/v1/user/images"),
    ("get", "/api/v1/user/images/{image_id}"),
    ("get", "/api/v1/user/music-sets"),
    ("get", "/api/v1/user/music-sets/{set_id}"),
    ("get", "/api/v1/user/music-sets/{set_id}/stream/{track_id}"),
    ("get", "/api/v1/user/music-sets/{set_id}/download/{track_id}"),
    ("get", "/api/v1/user/media/{media_id}/stream"),
    ("head", "/api/v1/user/media/{media_id}/stream"),
    ("get", "/api/v1/media/local/{key}"),
    ("head", "/api/v1/media/local/{key}"),
]


def test_openapi_documents_every_contract_endpoint_with_errors(client: Client) -> None:
    """OpenAPI lists every contract path and method, each with a summary and error responses."""
    spec: dict[str, Any] = client.get("/openapi.json").json()
    for method, path in CONTRACT:
        assert path in spec["paths"], path
        op = spec["paths"][path].get(method)
        assert op is not None, f"{method.upper()} {path}"
        assert op.get("description") or op.get("summary")
        errors_documented = [code for code in op["responses"] if code.startswith(("4", "5"))]
        assert errors_documented, f"{method.upper()} {path} documents no error"
        for code in errors_documented:
            schema = (
                op["responses"][code]
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            assert schema.get("$ref", "").endswith("/ErrorBody"), (path, code)
    stream = spec["paths"]["/api/v1/user/music-sets/{set_id}/stream/{track_id}"]["get"]
    quality = next(p for p in stream["parameters"] if p["name"] == "quality")
    assert "low" in str(quality["schema"])
    upload = spec["paths"]["/api/v1/admin/images/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


@pytest.mark.anyio
async def test_async_client_over_asgi_transport(kit: MediaKit) -> None:
    """The app works under an async client too (the path a real ASGI server takes)."""
    image = seed_image(kit)
    app = create_app(kit.settings, TOKENS, kit=kit, web_dir=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.get(
            f"/api/v1/user/media/{image.id}/stream", headers={**USER, "Range": "bytes=-3"}
        )
        assert (r.status_code, r.content) == (206, b"JJJ")
        body, ct = multipart([("a.jpg", jpeg_bytes())])

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 1000):
                yield body[i : i + 1000]

        r = await c.post(
            "/api/v1/admin/images/upload", headers={**ADMIN, "Content-Type": ct}, content=chunks()
        )
        assert r.status_code == 201, r.text


def test_json_bodies_are_the_compact_utf8_json_dumps_would_give(
    client: Client, kit: MediaKit
) -> None:
    """The fast renderer changes no byte: compact separators, non-ASCII unescaped."""
    image = seed_image(kit)
    kit.repos.images.update(image.id, {"title": "Été à Zürich ✓", "description": 'a "b" \\ c'})
    r = client.get("/api/v1/user/images?limit=10", headers=USER)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["items"][0]["title"] == "Été à Zürich ✓"
    expected = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert r.content == expected.encode("utf-8")
    assert int(r.headers["content-length"]) == len(r.content)
