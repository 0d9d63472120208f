"""mediakit's router inside a third-party-style app (tests/fastapi_adapter/thirdparty.py):
mounted under a prefix, nested, with the prefix on the router, in a sub-application and
behind a ``root_path``; the app's own errors keep the app's shape, mediakit's errors get
mediakit's, and every URL handed out works when fetched. In process, over httpx's ASGI
transport; test_embedding_server.py runs the same app under uvicorn behind nginx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import assume, given
from hypothesis import strategies as st

from mediakit.errors import NotFound
from mediakit.service import MediaKit, current_mount, mounted_at
from mediakit_fastapi import install_error_handlers
from mediakit_fastapi._routing import mount_point
from tests.fastapi_adapter.client import Client
from tests.fastapi_adapter.thirdparty import MOUNTS, create_app, media_base
from tests.fixtures_media import jpeg_bytes
from tests.service.kit import make_kit, multipart, seed_image, seed_set

ADMIN = {"X-Api-Key": "admin-key"}
USER = {"X-Api-Key": "user-key"}


@pytest.fixture
def kit() -> Iterator[MediaKit]:
    k = make_kit()
    yield k
    k.close()


def _mediakit_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}, r.text
    assert r.json()["error"]["code"] == code


def _app_error(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert set(r.json()) == {"app_error"}, r.text
    assert r.json()["app_error"]["status"] == status


@pytest.mark.parametrize("mount", MOUNTS)
def test_app_errors_keep_the_apps_shape_and_mediakits_get_mediakits(
    kit: MediaKit, mount: str
) -> None:
    """No handler installed: the app's 404/405/HTTPException/own errors stay the app's;
    mediakit's 401/403/404/422 answer in mediakit's shape (not a bare 500)."""
    client = Client(create_app(kit, mount))
    base = media_base(mount)
    hidden = seed_image(kit, visible=False)
    # the app's own routes and errors
    assert client.get("/items/1").json() == {"id": 1}
    _app_error(client.get("/items/2"), 404)
    assert client.get("/items/2").json()["app_error"]["detail"] == "No such item."
    _app_error(client.get("/no-such-page"), 404)
    _app_error(client.get(f"{base}/api/v1/no-such-route", headers=USER), 404)
    r = client.patch(f"{base}/api/v1/user/images", headers=USER)
    _app_error(r, 405)
    assert "GET" in r.headers["allow"]
    r = client.get("/items/x")  # the app's validation error: FastAPI's default shape
    assert (r.status_code, set(r.json())) == (422, {"detail"})
    r = Client(create_app(kit, mount), raise_server_exceptions=False).get("/boom")
    assert (r.status_code, r.json()["app_error"]["detail"]) == (418, "the app's own failure")
    # the app's own dependency on mediakit's routes raises the app's HTTPException
    r = client.get(f"{base}/api/v1/user/images", headers={**USER, "X-Tenant": "blocked"})
    _app_error(r, 403)
    # mediakit's errors
    r = client.get(f"{base}/api/v1/user/images")
    _mediakit_error(r, 401, "unauthorized")
    assert r.json()["error"]["message"] == "Send your API key in the X-Api-Key header."
    _mediakit_error(client.get(f"{base}/api/v1/admin/images", headers=USER), 403, "forbidden")
    _mediakit_error(
        client.get(f"{base}/api/v1/user/images/{hidden.id}", headers=USER), 404, "not_found"
    )
    _mediakit_error(
        client.get(f"{base}/api/v1/user/images?limit=0", headers=USER), 422, "invalid_input"
    )
    r = client.put(
        f"{base}/api/v1/admin/music-sets/x/visibility", headers=ADMIN, json={"visible": "yes"}
    )
    _mediakit_error(r, 422, "invalid_input")
    r = client.post(
        f"{base}/api/v1/admin/music-sets",
        headers={**ADMIN, "Content-Type": "application/json"},
        content=b"{" + b" " * 3_000_000,
    )
    _mediakit_error(r, 413, "request_too_large")


def test_unexpected_errors_in_mediakit_routes_go_to_the_app(kit: MediaKit) -> None:
    """A bug (here in the principal resolver) is the app's 500, not mediakit's JSON: the
    app's error reporting sees it; an HTTPException of the resolver keeps the app's shape."""
    from fastapi import APIRouter, HTTPException

    from mediakit_fastapi import create_router
    from tests.fastapi_adapter.thirdparty import _app_errors

    def broken() -> None:
        raise RuntimeError("resolver bug")

    def refusing() -> None:
        raise HTTPException(401, "Log in through the app.")

    app = FastAPI()
    _app_errors(app)
    for name, resolver in (("broken", broken), ("refusing", refusing)):
        router = APIRouter(prefix=f"/{name}")
        router.include_router(create_router(kit, get_principal=resolver))
        app.include_router(router)
    client = Client(app, raise_server_exceptions=False)
    r = client.get("/broken/api/v1/user/images")
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    _app_error(client.get("/refusing/api/v1/user/images"), 401)
    with pytest.raises(RuntimeError, match="resolver bug"):
        Client(app).get("/broken/api/v1/user/images")


@pytest.mark.parametrize("mount", MOUNTS)
def test_urls_handed_out_follow_the_mount_point_and_work(kit: MediaKit, mount: str) -> None:
    """Local-file URLs of uploaded and listed images point below the mount point and serve
    the bytes (ranges too); the admin flow works through the prefix."""
    client = Client(create_app(kit, mount))
    base = media_base(mount)
    body, ct = multipart([("a.jpg", jpeg_bytes())], {"visible": "true"})
    r = client.post(
        f"{base}/api/v1/admin/images/upload", headers={**ADMIN, "Content-Type": ct}, content=body
    )
    assert r.status_code == 201, r.text
    [uploaded] = r.json()["items"]
    assert uploaded["url"].startswith(f"{base}/api/v1/media/local/images/")
    [listed] = client.get(f"{base}/api/v1/user/images", headers=USER).json()["items"]
    assert listed["url"] == uploaded["url"]
    original = client.get(listed["url"])
    assert (original.status_code, original.content) == (200, jpeg_bytes())
    r = client.get(listed["url"], headers={"Range": "bytes=0-1"})
    assert (r.status_code, r.content) == (206, jpeg_bytes()[:2])
    assert listed["thumbnails"]
    for url in listed["thumbnails"].values():
        assert url.startswith(f"{base}/api/v1/media/local/")
        assert client.get(url).headers["content-type"] == "image/webp"


@pytest.mark.parametrize("mount", ["include", "nested"])
def test_proxy_urls_follow_the_mount_point(mount: str) -> None:
    """In proxy delivery, stream and image URLs point at the proxy below the mount point."""
    kit = make_kit(delivery="proxy")
    try:
        client = Client(create_app(kit, mount))
        base = media_base(mount)
        image = seed_image(kit)
        view = client.get(f"{base}/api/v1/user/images/{image.id}", headers=USER).json()
        assert view["url"].startswith(f"{base}/api/v1/user/media/{image.id}/stream")
        r = client.get(view["url"], headers={**USER, "Range": "bytes=0-9"})
        assert (r.status_code, r.content) == (206, b"J" * 10)
        music_set, [track] = seed_set(kit, visible=True, tracks=1)
        r = client.get(
            f"{base}/api/v1/user/music-sets/{music_set.id}/stream/{track.id}?quality=low",
            headers=USER,
        )
        assert r.json()["url"].startswith(f"{base}/api/v1/user/media/{track.id}/stream")
        assert client.get(r.json()["url"], headers=USER).status_code == 200
    finally:
        kit.close()


def test_urls_follow_root_path_in_both_asgi_readings(kit: MediaKit) -> None:
    """Behind a proxy (``root_path="/behind"``) URLs start with it, whether the server puts
    the root path into ``path`` (uvicorn) or not (the spec's older reading)."""
    app = create_app(kit, "nested")
    image = seed_image(kit)
    transport = httpx.ASGITransport(app=app, root_path="/behind")

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            for path in (
                f"/behind/api/media/api/v1/user/images/{image.id}",  # path includes root_path
                f"/api/media/api/v1/user/images/{image.id}",  # path without it
            ):
                view = (await c.get(path, headers=USER)).json()
                assert view["url"].startswith("/behind/api/media/api/v1/media/local/"), view
                r = await c.get(view["url"])
                assert (r.status_code, r.content) == (200, b"J" * 1000)

    anyio.run(go)


def test_tags_and_dependencies_pass_through_to_openapi(kit: MediaKit) -> None:
    """``tags`` are added to each route's own; the prefix is given once; the app's
    dependency's header is documented on mediakit's routes."""
    spec: dict[str, Any] = create_app(kit, "nested").openapi()
    paths = spec["paths"]
    assert "/api/media/api/v1/user/images" in paths
    assert not any(p.startswith("/api/v1/") for p in paths)
    op = paths["/api/media/api/v1/user/images"]["get"]
    assert set(op["tags"]) == {"media-kit", "user"}
    assert "x-tenant" in {p["name"] for p in op["parameters"]}
    assert "x-api-key" in {p["name"] for p in op["parameters"]}
    assert paths["/items/{item_id}"]["get"].get("tags", []) == []


def test_install_error_handlers_is_scoped_to_mediakit_errors_by_default(kit: MediaKit) -> None:
    """``install_error_handlers(app)``: an app route raising a MediaKitError answers in
    mediakit's shape; the app's HTTPException/404 keep FastAPI's. ``framework_errors=True``
    puts those in mediakit's shape too."""
    for framework_errors in (False, True):
        app = FastAPI()
        install_error_handlers(app, framework_errors=framework_errors)

        @app.get("/mine")
        def mine() -> None:
            raise NotFound("No such thing of mine.")

        client = Client(app)
        _mediakit_error(client.get("/mine"), 404, "not_found")
        r = client.get("/nowhere")
        assert r.status_code == 404
        if framework_errors:
            assert r.json()["error"]["code"] == "not_found"
        else:
            assert r.json() == {"detail": "Not Found"}


def test_the_service_builds_urls_below_the_mount_it_is_told(kit: MediaKit) -> None:
    """``mounted_at`` moves local URLs (both twins) and resets on exit; outside it the
    kit's build-time prefix applies."""
    from tests.service.kit import ADMIN as ADMIN_PRINCIPAL

    image = seed_image(kit)
    assert current_mount() is None
    assert kit.service.get_image(ADMIN_PRINCIPAL, image.id)["url"].startswith("/api/v1/media/")
    with mounted_at("/x/y/"):
        assert current_mount() == "/x/y"
        view = kit.service.get_image(ADMIN_PRINCIPAL, image.id)
        assert view["url"].startswith("/x/y/api/v1/media/local/")
        assert all(u.startswith("/x/y/") for u in view["thumbnails"].values())
    assert current_mount() is None
    prefixed = make_kit(prefix="/pre")
    try:
        pre_image = seed_image(prefixed)
        url = prefixed.service.get_image(ADMIN_PRINCIPAL, pre_image.id)["url"]
        assert url.startswith("/pre/api/v1/media/local/")
        with mounted_at("/elsewhere"):
            url = prefixed.service.get_image(ADMIN_PRINCIPAL, pre_image.id)["url"]
        assert url.startswith("/elsewhere/api/v1/media/local/")
    finally:
        prefixed.close()


_SEGMENT = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N"), include_characters="-_.~"),
    min_size=1,
    max_size=8,
)


@given(
    root=st.lists(_SEGMENT, max_size=2),
    mount=st.lists(_SEGMENT, max_size=3),
    item=_SEGMENT,
    key=st.lists(_SEGMENT, min_size=1, max_size=4),
    root_in_path=st.booleans(),
)
def test_mount_point_is_the_public_path_minus_the_matched_route(
    root: list[str], mount: list[str], item: str, key: list[str], root_in_path: bool
) -> None:
    """For any root path, prefixes (even ones repeating the API's own segments) and ids,
    the mount point is exactly root path + prefixes, in both ASGI path readings."""
    root_path = "".join(f"/{s}" for s in root)
    prefix = "".join(f"/{s}" for s in mount)
    for template, params, rendered in (
        ("/api/v1/user/images/{image_id}", {"image_id": item}, f"/api/v1/user/images/{item}"),
        ("/api/v1/media/local/{key:path}", {"key": "/".join(key)}, "/api/v1/media/local/"),
    ):
        if template.endswith("{key:path}"):
            rendered += "/".join(key)
        path = (root_path if root_in_path else "") + prefix + rendered
        # The older reading is ambiguous when the path happens to start with the root
        # path; Starlette's routing reads it as included then, and so does mount_point.
        assume(root_in_path or not (root_path and path.startswith(root_path + "/")))
        scope = {"path": path, "root_path": root_path}
        assert mount_point(scope, template, params) == root_path + prefix
    scope = {"path": "/elsewhere", "root_path": ""}
    assert mount_point(scope, "/api/v1/user/images/{image_id}", {"image_id": item}) is None
