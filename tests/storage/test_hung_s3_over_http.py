"""Bounded waits on storage, black box: the reference servers on S3 (moto) through a
fault-injecting relay (:mod:`tests.faultproxy`). With the default timeouts and retry
budget, an S3 that accepts connections and never answers costs a request about 10 s and
a 503 with Retry-After (before: 302 s), and an S3 that is down fails at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import servers
from tests.conftest import s3_client
from tests.faultproxy import FaultProxy
from tests.http_contract.conftest import SERVER_KINDS
from tests.http_contract.harness import (
    ADMIN_TOKEN,
    USER_TOKEN,
    Api,
    assert_error,
    client,
    jpeg_small,
    start_server,
)
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

pytestmark = [pytest.mark.s3, pytest.mark.slow]

BOUND = 20.0
"""Seconds a request may take against a hung S3 (about 10 s expected; was 302 s)."""

KINDS = {
    "fastapi": ("fastapi", {}),  # aioboto3
    "django-wsgi": ("django-sqlite", {"MEDIAKIT_DJANGO_SERVER": "wsgi"}),  # boto3
}


@pytest.fixture(scope="module", params=list(KINDS))
def faulty(
    request: pytest.FixtureRequest, moto_server: ServerHandle, tmp_path_factory: Any
) -> Iterator[tuple[Api, FaultProxy, str]]:
    """A reference server whose S3 endpoint is a FaultProxy in front of moto."""
    name: str = request.param
    kind, env = KINDS[name]
    proxy = FaultProxy("127.0.0.1", moto_server.port)
    bucket = f"mk-hung-{name}"
    s3_client(moto_server.url).create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    extra = {
        **env,
        "MEDIAKIT_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT": proxy.url,
        "MEDIA_ASSETS_BUCKET": bucket,
        "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    tmp: Path = tmp_path_factory.mktemp(f"hung-{name}")
    proc, base_url, env_, log_path = start_server(SERVER_KINDS[kind], name, tmp, extra)
    clients = [client(base_url, t) for t in (ADMIN_TOKEN, USER_TOKEN, None)]
    for c in clients:
        c.timeout = httpx.Timeout(120.0)
    try:
        yield Api(name, base_url, env_, log_path, *clients, httpx.Client()), proxy, bucket
    finally:
        proxy.set_mode("pass")
        for c in clients:
            c.close()
        servers.stop_process(proc)
        proxy.close()


def _timed(call: Any, *args: Any, **kwargs: Any) -> tuple[httpx.Response, float]:
    t0 = time.monotonic()
    r = call(*args, **kwargs)
    return r, time.monotonic() - t0


def _assert_503(r: httpx.Response, seconds: float) -> None:
    assert_error(r, 503, "storage_unavailable")
    assert int(r.headers["Retry-After"]) > 0
    assert seconds < BOUND, f"{seconds:.1f} s"


def test_a_hung_s3_is_a_503_within_seconds_on_proxy_and_upload(
    faulty: tuple[Api, FaultProxy, str], moto_server: ServerHandle
) -> None:
    """Hung S3: the Range proxy and an upload answer 503 + Retry-After within the bound,
    listing and presigned URLs keep working (no S3 call), a delete is bounded too (its
    row goes, its objects are left to gc); afterwards nothing of the failed upload is left
    in the bucket, not even an open multipart upload."""
    api, proxy, bucket = faulty
    image = api.create_image("before", visible=True)
    assert api.wait_image(image["id"], timeout=60)["status"] == "ready"
    doomed = api.create_image("doomed", visible=True)
    api.wait_image(doomed["id"], timeout=60)
    s3: Any = s3_client(moto_server.url)
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}

    proxy.set_mode("hang")
    try:
        r, took = _timed(api.admin.get, f"/api/v1/user/media/{image['id']}/stream")
        _assert_503(r, took)
        r, took = _timed(
            api.upload_images, [("during.jpg", jpeg_small() * 1, "image/jpeg")], title="x"
        )
        _assert_503(r, took)
        r, took = _timed(api.user.get, "/api/v1/user/images")  # presigning needs no S3
        assert r.status_code == 200, r.text
        assert took < BOUND
        r, took = _timed(api.admin.delete, f"/api/v1/admin/images/{doomed['id']}")
        assert r.status_code in (204, 503), r.text
        assert took < 2 * BOUND, f"{took:.1f} s"
    finally:
        proxy.set_mode("pass")

    after = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert after - before == set()  # the refused upload left no object
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    titles = {i["title"] for i in api.walk(api.admin, "/api/v1/admin/images")}
    assert "x" not in titles
    r = api.admin.get(f"/api/v1/user/media/{image['id']}/stream", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206  # and it recovers at once


def test_an_s3_that_is_down_fails_fast(faulty: tuple[Api, FaultProxy, str]) -> None:
    """S3 refusing connections: proxy and upload are a 503 with Retry-After in seconds."""
    api, proxy, _ = faulty
    image = api.create_image("down", visible=True)
    api.wait_image(image["id"], timeout=60)
    proxy.set_mode("refuse")
    try:
        r, took = _timed(api.admin.get, f"/api/v1/user/media/{image['id']}/stream")
        _assert_503(r, took)
        assert took < 5, f"{took:.1f} s"
        r, took = _timed(api.upload_images, [("down.jpg", jpeg_small(), "image/jpeg")])
        _assert_503(r, took)
        assert took < 5, f"{took:.1f} s (was about 28 s)"
    finally:
        proxy.set_mode("pass")
