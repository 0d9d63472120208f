"""Error bodies never leak internals: no traceback, no file system path, no store detail."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.http_contract.harness import Api, assert_error
from tests.media_samples import jpeg_bytes
from tests.security.conftest import stored_files

LEAKS = ("Traceback", 'File "', ".py", "/tmp", "/work", "site-packages", "mediakit.db", "Errno")


def _assert_no_leak(api: Api, r: httpx.Response) -> None:
    root = api.env["MEDIAKIT_STORAGE_ROOT"]
    for leak in (*LEAKS, root, Path(root).name):
        assert leak not in r.text, (leak, r.status_code, r.text[:500])
    for value in r.headers.values():
        assert root not in value, r.headers
        assert "Traceback" not in value, r.headers


def test_missing_object_on_disk_answers_without_leaking(sec: Api) -> None:
    """An image whose original file vanished from the store (an operator's mistake, a
    crashed disk): the proxy and the local URL answer a JSON error without paths or traces."""
    created = sec.create_image(
        f"sec-{uuid.uuid4().hex[:8]}", visible=True, content=jpeg_bytes(80, 60)
    )
    ready = sec.wait_image(created["id"])
    view = sec.user.get(f"/api/v1/user/images/{ready['id']}").json()
    root = Path(sec.env["MEDIAKIT_STORAGE_ROOT"])
    originals = [p for p in stored_files(sec) if ready["id"] in p and "orig" in p]
    assert originals, stored_files(sec)
    for rel in originals:
        (root / rel).unlink()
    for r in (
        sec.user.get(f"/api/v1/user/media/{ready['id']}/stream"),
        sec.user.get(f"/api/v1/user/media/{ready['id']}/stream", headers={"Range": "bytes=0-9"}),
        sec.fetch(view["url"]),
    ):
        assert r.status_code in (404, 500, 502, 503), (r.status_code, r.text[:300])
        assert_error(r, r.status_code)
        _assert_no_leak(sec, r)


@pytest.mark.parametrize(
    "media_id",
    ["%00", "a" * 5000, "%F0%9F%92%A9", "..%2f..%2f", "' OR 1=1 --", "%ff%fe", "1e9999"],
)
def test_hostile_ids_are_clean_404s(sec: Api, media_id: str) -> None:
    """NUL, huge, non-UTF-8, emoji, SQL and traversal ids: 404 (or 400) JSON, no 5xx, no leak."""
    for path in (
        f"/api/v1/user/images/{media_id}",
        f"/api/v1/user/media/{media_id}/stream",
        f"/api/v1/user/music-sets/{media_id}/stream/{media_id}",
        f"/api/v1/admin/music-sets/{media_id}",
    ):
        client = sec.admin if "/admin/" in path else sec.user
        r = client.get(httpx.URL(sec.base_url + path))
        if r.status_code == 414:  # the HTTP server's request-line limit (gunicorn: 4094)
            continue
        assert r.status_code in (400, 404), (path, r.status_code, r.text[:300])
        assert_error(r, r.status_code)
        _assert_no_leak(sec, r)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/v1/admin/images/{id}", b'{"title": '),
        ("PUT", "/api/v1/admin/images/{id}", b'{"title": "\\ud800"}'),
        ("PUT", "/api/v1/admin/images/{id}", b'{"description": "a\\udfffb"}'),
        ("PUT", "/api/v1/admin/images/{id}", b'{"title": "a\\u0000b"}'),
        ("PUT", "/api/v1/admin/images/{id}", b'{"visible": "yes"}'),
        ("PUT", "/api/v1/admin/images/{id}", b"[1, 2, 3]"),
        ("PUT", "/api/v1/admin/images/{id}", b'{"title": ' + b'"x' * 1 + b"a" * 100000 + b'"}'),
        ("POST", "/api/v1/admin/music-sets", b'{"title": null}'),
        ("POST", "/api/v1/admin/music-sets", b'{"title": "\\ud83d"}'),
        ("POST", "/api/v1/admin/music-sets", b"\xff\xfe\x00"),
        ("POST", "/api/v1/admin/music-sets", b'{"title": "x", "visible": 1e999}'),
        ("POST", "/api/v1/admin/music-sets", b"[" * 100000),
    ],
)
def test_bad_json_bodies_are_4xx_without_leaks(
    sec: Api, method: str, path: str, body: bytes
) -> None:
    """Broken, deeply nested, lone-surrogate or wrongly typed JSON: a 4xx JSON error, no
    parser trace in the body, and the item is unchanged."""
    created = sec.create_image(f"sec-{uuid.uuid4().hex[:8]}", visible=True)
    r = sec.admin.request(
        method,
        path.format(id=created["id"]),
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500, (body[:40], r.status_code, r.text[:300])
    assert_error(r, r.status_code)
    _assert_no_leak(sec, r)
    after = sec.admin.get(f"/api/v1/admin/images/{created['id']}").json()
    assert after["title"] == created["title"]
