"""The views in-process (Django test clients): auth, CSRF, sync and async streaming.

The full HTTP contract runs black-box against the reference server
(tests/http_contract, kinds ``django-sqlite``, ``django-postgres`` and
``django-asgi-postgres``); these tests cover what only Django has: session
authentication and CSRF, both view flavours, and the JSON answers for Django's own
routing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from mediakit.service import MediaKit
from tests.django.support import ADMIN_TOKEN, USER_TOKEN, ensure_django
from tests.fixtures_media import jpeg_bytes

ensure_django()

from django.contrib.auth.models import User  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402

ADMIN = {"HTTP_AUTHORIZATION": f"Bearer {ADMIN_TOKEN}"}
USER = {"HTTP_AUTHORIZATION": f"Bearer {USER_TOKEN}"}
CSRF_SECRET = "A" * 16 + "b" * 16  # a 32-character CSRF secret, as Django's cookie holds
SETS = "/api/v1/admin/music-sets"
UPLOAD = "/api/v1/admin/images/upload"


def _user(staff: bool) -> User:
    name = f"{'staff' if staff else 'member'}-{User.objects.count()}"
    return User.objects.create_user(name, password="x", is_staff=staff)


def _session_client(staff: bool = True) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(_user(staff))
    return client


def _jpeg_upload(name: str = "a.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(64, 48), content_type="image/jpeg")


def _error(response: Any) -> dict[str, str]:
    body = json.loads(response.content)
    assert set(body) == {"error"}
    return dict(body["error"])


# --- authentication -----------------------------------------------------------------


def test_no_credentials_is_401_with_a_bearer_challenge(kit: MediaKit) -> None:
    """Without a token or session the API answers 401 + WWW-Authenticate: Bearer."""
    r = Client().get("/api/v1/user/images")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Bearer"
    assert _error(r)["code"] == "unauthorized"


def test_an_unknown_bearer_token_is_401_even_with_a_session(kit: MediaKit) -> None:
    """A request sending Authorization is judged by the token alone."""
    client = _session_client()
    r = client.get("/api/v1/user/images", HTTP_AUTHORIZATION="Bearer wrong")
    assert r.status_code == 401


def test_a_session_user_is_a_principal_and_staff_are_admins(kit: MediaKit) -> None:
    """request.user resolves to a principal; is_staff makes it an admin."""
    member = _session_client(staff=False)
    assert member.get("/api/v1/user/images").status_code == 200
    assert _error(member.get("/api/v1/admin/images"))["code"] == "forbidden"
    assert _session_client(staff=True).get("/api/v1/admin/images").status_code == 200


# --- CSRF ---------------------------------------------------------------------------


def test_session_writes_without_a_csrf_token_are_refused(kit: MediaKit) -> None:
    """A cookie-authenticated POST without the CSRF token is 403 csrf_failed; nothing happens."""
    client = _session_client()
    r = client.post(SETS, {"title": "no token"}, content_type="application/json")
    assert r.status_code == 403
    assert _error(r)["code"] == "csrf_failed"
    assert kit.repos.music_sets.list(visible_only=False).items == []


def test_session_writes_with_the_csrf_token_pass(kit: MediaKit) -> None:
    """With the csrftoken cookie echoed in X-CSRFToken the same POST succeeds."""
    client = _session_client()
    client.cookies["csrftoken"] = CSRF_SECRET
    r = client.post(
        SETS, {"title": "with token"}, content_type="application/json", HTTP_X_CSRFTOKEN=CSRF_SECRET
    )
    assert r.status_code == 201, r.content
    assert r.json()["title"] == "with token"


def test_bearer_token_writes_need_no_csrf_token(kit: MediaKit) -> None:
    """A bearer token is not ambient authority: the JSON API is CSRF-exempt for it."""
    client = Client(enforce_csrf_checks=True)
    r = client.post(SETS, {"title": "bearer"}, content_type="application/json", **ADMIN)
    assert r.status_code == 201, r.content


def test_session_uploads_check_csrf_without_parsing_the_body(kit: MediaKit) -> None:
    """A multipart upload by session needs X-CSRFToken; refused, it stores nothing."""
    client = _session_client()
    r = client.post(UPLOAD, {"files": [_jpeg_upload()]})
    assert _error(r)["code"] == "csrf_failed"
    assert kit.repos.images.list(visible_only=False).items == []
    client.cookies["csrftoken"] = CSRF_SECRET
    r = client.post(UPLOAD, {"files": [_jpeg_upload()]}, HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert r.status_code == 201, r.content
    assert [i["filename"] for i in r.json()["items"]] == ["a.jpg"]


def test_a_custom_resolver_with_basic_credentials_still_needs_csrf(kit: MediaKit) -> None:
    """Only a bearer token exempts from CSRF: browsers replay Basic credentials cross-site."""
    from django.test import override_settings

    def basic_admin(request: Any) -> Any:
        return (
            kit_admin() if request.META.get("HTTP_AUTHORIZATION", "").startswith("Basic") else None
        )

    client = Client(enforce_csrf_checks=True)
    with override_settings(MEDIAKIT={**_mediakit(), "PRINCIPAL_RESOLVER": basic_admin}):
        r = client.post(
            SETS,
            {"title": "basic"},
            content_type="application/json",
            HTTP_AUTHORIZATION="Basic eDp5",
        )
    assert _error(r)["code"] == "csrf_failed"


def _mediakit() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.MEDIAKIT)


def test_async_views_keep_csrf_for_sessions_and_not_for_bearer_tokens(kit: MediaKit) -> None:
    """The async views apply the same rule: session writes need the token, bearer ones not."""
    user = _user(staff=True)

    async def run() -> tuple[int, int, int]:
        client = AsyncClient(enforce_csrf_checks=True)
        await sync_to_async(client.force_login)(user)  # aforce_login: Django 5.0+
        refused = await client.post(
            f"/async{SETS}", {"title": "s"}, content_type="application/json"
        )
        client.cookies["csrftoken"] = CSRF_SECRET
        allowed = await client.post(
            f"/async{SETS}",
            {"title": "s"},
            content_type="application/json",
            headers={"X-CSRFToken": CSRF_SECRET},
        )
        bearer = await AsyncClient(enforce_csrf_checks=True).post(
            f"/async{SETS}",
            {"title": "b"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        return refused.status_code, allowed.status_code, bearer.status_code

    assert asyncio.run(run()) == (403, 201, 201)


def test_session_reads_need_no_csrf_token(kit: MediaKit) -> None:
    """Safe methods are never CSRF-checked."""
    assert _session_client().get("/api/v1/admin/music-sets").status_code == 200


# --- routing and validation ---------------------------------------------------------


def test_unknown_routes_and_methods_answer_in_the_json_error_shape(kit: MediaKit) -> None:
    """Unknown API routes are 404 not_found, wrong methods 405 with Allow."""
    assert _error(Client().get("/api/v1/nowhere", **ADMIN))["code"] == "not_found"
    assert _error(Client().get("/not-an-api-route"))["code"] == "not_found"
    r = Client().patch("/api/v1/admin/images", **ADMIN)
    assert r.status_code == 405
    assert r["Allow"] == "GET"
    assert Client().post("/api/v1/admin/images/some-id", **ADMIN).status_code == 405


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"title": 5}',
        '{"title": ""}',
        '{"title": "' + "x" * 201 + '"}',
        '{"title": "ok", "visible": "yes"}',
        "{}",
    ],
)
def test_invalid_json_bodies_are_422_invalid_input(kit: MediaKit, body: str) -> None:
    """Bodies the FastAPI models would refuse are refused the same way (422 invalid_input)."""
    r = Client().post(SETS, body, content_type="application/json", **ADMIN)
    assert r.status_code == 422, r.content
    assert _error(r)["code"] == "invalid_input"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten", "quality=ultra"])
def test_invalid_query_parameters_are_422(kit: MediaKit, query: str) -> None:
    """limit outside 1..100 or an unknown quality is 422 invalid_input."""
    music_set = kit.service.create_music_set(kit_admin(), title="q", visible=True)
    path = (
        f"/api/v1/user/music-sets/{music_set['id']}/stream/nope?{query}"
        if query.startswith("quality")
        else f"/api/v1/user/images?{query}"
    )
    assert _error(Client().get(path, **USER))["code"] == "invalid_input"


def kit_admin() -> Any:
    """The admin principal of the test tokens."""
    from mediakit.models import Principal

    return Principal("test-admin", is_admin=True)


def test_deletes_answer_204_without_a_body_or_content_type(kit: MediaKit) -> None:
    """DELETE answers 204 with no body and no Content-Type."""
    s = kit.service.create_music_set(kit_admin(), title="gone")
    r = Client().delete(f"{SETS}/{s['id']}", **ADMIN)
    assert r.status_code == 204
    assert r.content == b""
    assert "Content-Type" not in r
    assert _error(Client().delete(f"{SETS}/{s['id']}", **ADMIN))["code"] == "not_found"


def test_put_tracks_order_reorders_and_other_ids_rename(kit: MediaKit) -> None:
    """PUT .../tracks/order is the reorder route; PUT .../tracks/<id> renames a track."""
    s = kit.service.create_music_set(kit_admin(), title="order")
    r = Client().put(
        f"{SETS}/{s['id']}/tracks/order",
        {"track_ids": []},
        content_type="application/json",
        **ADMIN,
    )
    assert r.status_code == 200, r.content
    assert r.json()["tracks"] == []
    r = Client().put(
        f"{SETS}/{s['id']}/tracks/missing", {"title": "x"}, content_type="application/json", **ADMIN
    )
    assert _error(r)["code"] == "not_found"


# --- the Range proxy: sync and async ---------------------------------------------------


def _uploaded_image(kit: MediaKit) -> dict[str, Any]:
    r = Client().post(UPLOAD, {"files": [_jpeg_upload()], "visible": "true"}, **ADMIN)
    assert r.status_code == 201, r.content
    return dict(r.json()["items"][0])


@pytest.fixture
def small_chunks(kit: MediaKit) -> Iterator[MediaKit]:
    """The test kit with 4-byte proxy chunks: any range above 4 bytes streams."""
    import attrs

    from mediakit.service import build_service
    from mediakit_django.kit import set_kit

    built = build_service(
        attrs.evolve(kit.settings, proxy_chunk_size=4),
        repos=kit.repos,
        store=kit.store,
        astore=kit.astore,
        prefix="",
    )
    old = set_kit(built)
    try:
        yield built
    finally:
        set_kit(old)
        built.runner.shutdown()


def test_a_seek_of_one_chunk_is_one_plain_response(kit: MediaKit) -> None:
    """A range that fits in one proxy chunk (a seek) is a plain HttpResponse, sync and
    async: exact bytes and Content-Length, no streaming machinery."""
    image = _uploaded_image(kit)
    r = Client().get(f"/api/v1/user/media/{image['id']}/stream", HTTP_RANGE="bytes=0-9", **USER)
    assert (r.status_code, r.streaming) == (206, False)
    assert r["Content-Range"] == f"bytes 0-9/{image['size']}"
    assert (r.content, r["Content-Length"]) == (jpeg_bytes(64, 48)[:10], "10")

    async def fetch() -> Any:
        return await AsyncClient().get(
            f"/async/api/v1/user/media/{image['id']}/stream",
            headers={"Range": "bytes=2-5", "Authorization": f"Bearer {USER_TOKEN}"},
        )

    r = asyncio.run(fetch())
    assert (r.status_code, r.streaming, r.content) == (206, False, jpeg_bytes(64, 48)[2:6])


def test_sync_proxy_streams_a_range_with_a_sync_iterator(small_chunks: MediaKit) -> None:
    """WSGI path: a range over one chunk is a StreamingHttpResponse over a sync iterator,
    206 with Content-Range."""
    image = _uploaded_image(small_chunks)
    r = Client().get(f"/api/v1/user/media/{image['id']}/stream", HTTP_RANGE="bytes=0-9", **USER)
    assert r.status_code == 206
    assert r.streaming
    assert not r.is_async
    assert r["Content-Range"] == f"bytes 0-9/{image['size']}"
    assert b"".join(r.streaming_content) == jpeg_bytes(64, 48)[:10]  # type: ignore[arg-type]


def test_async_proxy_streams_a_range_with_an_async_iterator(small_chunks: MediaKit) -> None:
    """ASGI path: the async views stream an async iterator; HEAD has no body."""
    image = _uploaded_image(small_chunks)
    url = f"/async/api/v1/user/media/{image['id']}/stream"

    async def fetch() -> tuple[Any, bytes, Any]:
        client = AsyncClient()
        r = await client.get(
            url, headers={"Range": "bytes=2-9", "Authorization": f"Bearer {USER_TOKEN}"}
        )
        body = b"".join([c async for c in r.streaming_content])
        head = await client.head(url, headers={"Authorization": f"Bearer {USER_TOKEN}"})
        return r, body, head

    r, body, head = asyncio.run(fetch())
    assert r.status_code == 206
    assert r.is_async
    assert body == jpeg_bytes(64, 48)[2:10]
    assert head.status_code == 200
    assert head["Content-Length"] == str(image["size"])
    assert head.content == b""


def test_async_views_serve_the_same_json_as_sync_views(kit: MediaKit) -> None:
    """Both view flavours call the same service: identical bodies."""
    image = _uploaded_image(kit)
    sync = Client().get(f"/api/v1/user/images/{image['id']}", **USER)

    async def fetch() -> Any:
        return await AsyncClient().get(
            f"/async/api/v1/user/images/{image['id']}",
            headers={"Authorization": f"Bearer {USER_TOKEN}"},
        )

    assert asyncio.run(fetch()).content == sync.content


def test_async_uploads_work_through_the_async_views(kit: MediaKit) -> None:
    """An upload through the async views (body read without blocking the loop)."""
    jpeg = jpeg_bytes(64, 48)

    async def upload() -> Any:
        return await AsyncClient().post(
            "/async/api/v1/admin/images/upload",
            {"files": [SimpleUploadedFile("b.jpg", jpeg, content_type="image/jpeg")]},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )

    r = asyncio.run(upload())
    assert r.status_code == 201, r.content
    assert r.json()["items"][0]["size"] == len(jpeg)
