"""A third-party-style project (tests/django/shop) over HTTP, under gunicorn (WSGI, sync
views) and uvicorn (ASGI, async views), with S3 storage on the moto server.

Its resolver reads an API key from ``X-Api-Key`` or ``Authorization: Api-Key`` and falls
back to the session: key requests need no CSRF token, session requests do; the 401 says
what the shop's resolver wants; the admin uploads through the service.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tests import servers
from tests.conftest import s3_client
from tests.fixtures_media import jpeg_bytes
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

pytestmark = [pytest.mark.slow, pytest.mark.s3]

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "shop-admin-key-for-tests"
USER_KEY = "shop-user-key-for-tests"
PASSWORD = "shop-admin-password"
SETS = "/media/api/v1/admin/music-sets"
UPLOAD = "/media/api/v1/admin/images/upload"


@attrs.frozen
class Shop:
    """A running shop: its base URL, kind, bucket and log."""

    url: str
    kind: str
    bucket: str
    endpoint: str
    log: Path

    def client(self, **headers: str) -> httpx.Client:
        """An HTTP client for the shop (cookies kept, like a browser)."""
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def start_shop(kind: str, tmp: Path, moto: ServerHandle, extra: dict[str, str]) -> Any:
    """Start the shop as a process; returns (process, Shop)."""
    bucket = f"shop-{os.getpid()}-{kind}-{time.monotonic_ns() % 10**6}"
    s3_client(moto.url).create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    port = servers.free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MEDIA_", "MEDIAKIT_", "DJANGO"))
    }
    env |= {
        "SHOP_PORT": str(port),
        "SHOP_SERVER": kind,
        "SHOP_DATABASE_URL": f"sqlite:///{tmp / 'shop.db'}",
        "SHOP_ADMIN_PASSWORD": PASSWORD,
        "SHOP_ADMIN_KEY": ADMIN_KEY,
        "SHOP_USER_KEY": USER_KEY,
        "MEDIAKIT_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT": moto.url,
        "MEDIA_ASSETS_BUCKET": bucket,
        "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "MEDIA_S3_REGION": "us-east-1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    log = tmp / "shop.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.django.shop"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the shop exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            servers.stop_process(proc)
            raise RuntimeError(f"the shop did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc, Shop(url, kind, bucket, moto.url, log)


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def shop(
    request: pytest.FixtureRequest, moto_server: ServerHandle, tmp_path_factory: Any
) -> Iterator[Shop]:
    """The shop under gunicorn (wsgi) and under uvicorn (asgi)."""
    kind: str = request.param
    proc, running = start_shop(kind, tmp_path_factory.mktemp(f"shop-{kind}"), moto_server, {})
    try:
        yield running
    finally:
        servers.stop_process(proc)


def _login(shop: Shop) -> tuple[httpx.Client, str]:
    """Log in through the admin's login form; returns the client and its csrftoken."""
    c = shop.client()
    page = c.get("/admin/login/")
    token = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[-1]
    r = c.post(
        "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": "admin", "password": PASSWORD},
    )
    assert r.status_code == 302, r.text[-2000:]
    assert "sessionid" in c.cookies
    return c, c.cookies["csrftoken"]


def test_writes_with_an_x_api_key_need_no_csrf_token(shop: Shop) -> None:
    """X-Api-Key: JSON and multipart writes succeed without any CSRF token."""
    with shop.client(**{"X-Api-Key": ADMIN_KEY}) as c:
        r = c.post(SETS, json={"title": "by key"})
        assert r.status_code == 201, r.text
        r = c.post(UPLOAD, files={"files": ("k.jpg", jpeg_bytes(32, 24), "image/jpeg")})
        assert r.status_code == 201, r.text
        assert r.json()["items"][0]["status"] in ("pending", "ready")


def test_writes_with_authorization_api_key_need_no_csrf_token(shop: Shop) -> None:
    """'Authorization: Api-Key <key>' is exempt too."""
    with shop.client(Authorization=f"Api-Key {ADMIN_KEY}") as c:
        assert c.post(SETS, json={"title": "by scheme"}).status_code == 201


def test_a_key_request_from_a_logged_in_browser_is_still_exempt(shop: Shop) -> None:
    """The session cookie rides along, but the key authenticated the request: exempt."""
    c, _ = _login(shop)
    with contextlib.closing(c):
        r = c.post(SETS, json={"title": "key+cookie"}, headers={"X-Api-Key": ADMIN_KEY})
        assert r.status_code == 201, r.text


def test_session_writes_need_the_csrf_token(shop: Shop) -> None:
    """Authenticated by the session: 403 csrf_failed without X-CSRFToken, 201 with it."""
    c, csrf = _login(shop)
    with contextlib.closing(c):
        r = c.post(SETS, json={"title": "session"})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "csrf_failed"
        r = c.post(SETS, json={"title": "session"}, headers={"X-CSRFToken": csrf})
        assert r.status_code == 201, r.text
        assert c.get("/media/api/v1/admin/images").status_code == 200


def test_the_401_says_what_the_shops_resolver_wants(shop: Shop) -> None:
    """No credentials, or a wrong key: the shop's message and challenge."""
    with shop.client() as c:
        for headers in ({}, {"X-Api-Key": "wrong"}):
            r = c.get("/media/api/v1/user/images", headers=headers)
            assert r.status_code == 401
            assert r.json()["error"]["message"] == (
                "Send your API key in 'X-Api-Key: <key>', or log in to the shop."
            )
            assert r.headers["WWW-Authenticate"] == 'Api-Key realm="shop"'
    with shop.client(**{"X-Api-Key": USER_KEY}) as c:
        assert c.post(SETS, json={"title": "x"}).json()["error"]["code"] == "forbidden"


def test_images_are_uploaded_through_the_admin(shop: Shop) -> None:
    """The admin's add page takes files over HTTP; the service stores and processes them."""
    c, _ = _login(shop)
    with contextlib.closing(c):
        page = c.get("/admin/mediakit_django/mediaimage/add/")
        assert page.status_code == 200
        token = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[-1]
        r = c.post(
            "/admin/mediakit_django/mediaimage/add/",
            data={"csrfmiddlewaretoken": token, "title": "via admin", "visible": "on"},
            files=[
                ("images", ("a1.jpg", jpeg_bytes(64, 48), "image/jpeg")),
                ("images", ("a2.jpg", jpeg_bytes(48, 64), "image/jpeg")),
            ],
        )
        assert r.status_code == 302, r.text[-2000:]
    with shop.client(**{"X-Api-Key": USER_KEY}) as c:
        items = c.get("/media/api/v1/user/images").json()["items"]
        mine = [i for i in items if i["title"] == "via admin"]
        assert sorted(i["filename"] for i in mine) == ["a1.jpg", "a2.jpg"]
        assert all(i["status"] == "ready" and i["thumbnails"] for i in mine)
        got = httpx.get(mine[0]["url"])  # a presigned URL on the S3 server
        assert got.status_code == 200
        assert got.content[:3] == b"\xff\xd8\xff"


def test_the_shops_own_routes_are_untouched(shop: Shop) -> None:
    """The project's own views answer as they always did."""
    assert httpx.get(f"{shop.url}/catalog/ping").json() == {"catalog": "ok"}


# --- the project's own FileField on MediaKitStorage, served by range_response -----------


@pytest.fixture(scope="module")
def product(shop: Shop) -> dict[str, Any]:
    """A product whose file (100 000 bytes) is stored by the shop's default storage."""
    data = bytes(range(256)) * 390 + b"end-of-file!" + b"." * 148
    assert len(data) == 100_000
    with shop.client(**{"X-Api-Key": ADMIN_KEY}) as c:
        r = c.post(
            "/catalog/products",
            data={"name": "Manual"},
            files={"file": ("manual.bin", data, "application/octet-stream")},
        )
    assert r.status_code == 201, r.text
    return {**r.json(), "data": data}


def test_a_filefield_url_is_stable_and_serves_the_file(shop: Shop, product: dict[str, Any]) -> None:
    """FieldFile.url: the same presigned URL on every request, serving the bytes."""
    assert product["file"] == "products/manual.bin"
    with shop.client(**{"X-Api-Key": USER_KEY}) as c:
        again = c.get(f"/catalog/products/{product['id']}").json()
    assert again["url"] == product["url"]
    assert f"/{shop.bucket}/shop/products/manual.bin?" in product["url"]
    got = httpx.get(product["url"])
    assert (got.status_code, got.content) == (200, product["data"])


def test_range_response_answers_206_with_the_bytes_asked_for(
    shop: Shop, product: dict[str, Any]
) -> None:
    """Range: bytes=99990-99999 -> 206, Content-Range, those bytes, as an attachment."""
    with shop.client(**{"X-Api-Key": USER_KEY}) as c:
        r = c.get(f"/catalog/products/{product['id']}/file", headers={"Range": "bytes=99990-"})
        assert r.status_code == 206
        assert r.headers["content-range"] == "bytes 99990-99999/100000"
        assert r.content == product["data"][99990:]
        assert r.headers["content-disposition"].startswith("attachment")
        assert r.headers["accept-ranges"] == "bytes"
        whole = c.get(f"/catalog/products/{product['id']}/file")
        assert (whole.status_code, whole.content) == (200, product["data"])
        head = c.head(f"/catalog/products/{product['id']}/file")
        assert (head.status_code, head.headers["content-length"], head.content) == (
            200,
            "100000",
            b"",
        )


def test_range_response_answers_304_to_a_matching_etag(shop: Shop, product: dict[str, Any]) -> None:
    """If-None-Match with the ETag -> 304 without a body; If-Range with it -> 206."""
    url = f"/catalog/products/{product['id']}/file"
    with shop.client(**{"X-Api-Key": USER_KEY}) as c:
        etag = c.head(url).headers["etag"]
        r = c.get(url, headers={"If-None-Match": etag})
        assert (r.status_code, r.content) == (304, b"")
        assert r.headers["etag"] == etag
        r = c.get(url, headers={"If-Range": etag, "Range": "bytes=0-3"})
        assert (r.status_code, r.content) == (206, product["data"][:4])
        r = c.get(url, headers={"If-Range": '"other"', "Range": "bytes=0-3"})
        assert (r.status_code, len(r.content)) == (200, 100_000)


def test_range_response_answers_416_past_the_end(shop: Shop, product: dict[str, Any]) -> None:
    """A range starting past the end -> 416 with Content-Range: bytes */size, JSON error."""
    with shop.client(**{"X-Api-Key": USER_KEY}) as c:
        r = c.get(f"/catalog/products/{product['id']}/file", headers={"Range": "bytes=100000-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */100000"
    assert r.json()["error"]["code"] == "range_not_satisfiable"


def test_range_response_serves_any_key_of_an_object_store(
    shop: Shop, product: dict[str, Any]
) -> None:
    """An ObjectStore source (the kit's store; its aioboto3 store under ASGI): same rules;
    a missing key is a JSON 404."""
    with shop.client(**{"X-Api-Key": ADMIN_KEY}) as c:
        r = c.get("/catalog/raw/shop/products/manual.bin", headers={"Range": "bytes=0-9"})
        assert (r.status_code, r.content) == (206, product["data"][:10])
        missing = c.get("/catalog/raw/shop/nothing-here.bin")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "object_not_found"
        refused = c.post("/catalog/raw/shop/products/manual.bin")
        assert refused.status_code in (403, 405)
