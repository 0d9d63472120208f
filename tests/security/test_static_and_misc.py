"""The rest of the surface: the page's static files, 304/412/416 headers, odd form bytes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.http_contract.harness import ADMIN_TOKEN, Api, assert_error
from tests.media_samples import jpeg_bytes
from tests.security.conftest import raw_request, raw_status, stored_files


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static//etc/passwd",
        "/app.js/../../../etc/passwd",
        "/..%5c..%5c..%5cetc%5cpasswd",
        "/static/..%5c..%5c..%5c..%5cetc%5cpasswd",
    ],
)
def test_page_and_static_routes_do_not_traverse(sec: Api, path: str) -> None:
    """The page's file routes never serve a file outside their directory."""
    response = raw_request(
        sec, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    assert raw_status(response) in (400, 403, 404), (path, response[:300])
    assert b"root:" not in response


@pytest.fixture(scope="module")
def image(sec: Api) -> dict[str, Any]:
    """A visible, processed image."""
    created = sec.create_image(
        f"sec-{uuid.uuid4().hex[:8]}", visible=True, content=jpeg_bytes(120, 90)
    )
    return sec.wait_image(created["id"])


def test_every_proxy_status_carries_the_safety_headers(sec: Api, image: dict[str, Any]) -> None:
    """304, 412 and 416 from the proxy and from local URLs carry nosniff and the sandbox CSP
    too (an error body is not a document a browser may run)."""
    view = sec.user.get(f"/api/v1/user/images/{image['id']}").json()
    path = f"/api/v1/user/media/{image['id']}/stream"
    etag = sec.user.get(path).headers["etag"]
    cases = [
        ({"If-None-Match": etag}, 304),
        ({"If-Match": '"nope"'}, 412),
        ({"Range": "bytes=99999999-"}, 416),
    ]
    for headers, status in cases:
        for r in (sec.user.get(path, headers=headers), sec.fetch(view["url"], headers=headers)):
            assert r.status_code == status, (headers, r.status_code)
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in r.headers["content-security-policy"]


def _dechunk(payload: bytes) -> bytes:
    """The body of a raw response, chunked transfer coding removed if present."""
    if not payload.lstrip().startswith((b"{", b"[")):
        out, rest = b"", payload
        while rest:
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        return out
    return payload


def _image_dirs(api: Api) -> set[str]:
    """The image ids that have objects in the store (processing of others may still write)."""
    return {p.split("/")[2] for p in stored_files(api) if p.startswith("mediakit/images/")}


@pytest.mark.parametrize(
    ("field", "filename"),
    [
        (b'name="title"', None),
        (b'name="files"; filename="\xff\xfe\x00.jpg"', b""),
        (b'name="files"; filename="a\r\nb.jpg"', b""),
        (b"name=\"files\"; filename*=UTF-8''%ED%A0%80.jpg", b""),
    ],
)
def test_invalid_bytes_in_form_parts_are_handled(
    sec: Api, field: bytes, filename: bytes | None
) -> None:
    """Invalid UTF-8 (a field value, a file name), NUL and CRLF in a file name: the upload is
    refused with a 4xx or stored under a cleaned name; never a 5xx."""
    jpeg = jpeg_bytes(20, 20)
    value = b"\xff\xfe\xed\xa0\x80" if filename is None else jpeg
    body = b"--b\r\nContent-Disposition: form-data; " + field + b"\r\n\r\n" + value + b"\r\n"
    if filename is None:
        body += b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        body += jpeg + b"\r\n"
    body += b"--b--\r\n"
    head = (
        "POST /api/v1/admin/images/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    before = _image_dirs(sec)
    response = raw_request(sec, head + body)
    status = raw_status(response)
    assert status == 201 or 400 <= status < 500, response[:500]
    if status != 201:
        assert _image_dirs(sec) == before
        return
    payload = response.split(b"\r\n\r\n", 1)[1]
    assert b"\\u0000" not in payload
    for item in json.loads(_dechunk(payload))["items"]:
        sec.wait_image(item["id"])  # later tests compare the store's files
    listed = sec.admin.get("/api/v1/admin/images", params={"limit": 100})
    assert listed.status_code == 200, listed.text[:300]
    for item in listed.json()["items"]:
        assert "\x00" not in item["filename"]
        assert "\r" not in item["filename"]
        assert "\n" not in item["filename"]


def test_unknown_methods_are_json_405(sec: Api, image: dict[str, Any]) -> None:
    """An unsupported method on a media route answers a JSON 405 (no framework page)."""
    r = sec.user.request("TRACE", f"/api/v1/user/media/{image['id']}/stream")
    assert r.status_code in (404, 405), r.status_code
    assert_error(r, r.status_code)
    r = sec.user.delete(f"/api/v1/user/images/{image['id']}")
    assert r.status_code in (403, 405), r.status_code
    assert_error(r, r.status_code)


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js"])
def test_the_page_cannot_be_framed_or_sniffed(sec: Api, path: str) -> None:
    """The page (where an admin enters a token) refuses framing (clickjacking), is not
    type-sniffed and sends no full Referer, on every reference server."""
    r = sec.anon.get(path)
    assert r.status_code == 200, (path, r.status_code)
    assert r.headers.get("x-frame-options") == "DENY", r.headers
    assert r.headers.get("x-content-type-options") == "nosniff", r.headers
    assert r.headers.get("referrer-policy") == "same-origin", r.headers
