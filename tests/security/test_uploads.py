"""Malformed and abusive upload requests: a clear 4xx, nothing stored, the server unharmed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.http_contract.harness import ADMIN_TOKEN, MAX_UPLOAD_TOTAL, Api, assert_error
from tests.media_samples import jpeg_bytes
from tests.security.conftest import raw_request, raw_status, stored_files

UPLOAD = "/api/v1/admin/images/upload"


def _body(parts: list[tuple[str, str | None, bytes]], boundary: str = "sec-boundary") -> bytes:
    """A multipart body from (field name, file name or None, content)."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _state(api: Api) -> tuple[set[str], set[str]]:
    ids = {i["id"] for i in api.walk(api.admin, "/api/v1/admin/images")}
    return ids, stored_files(api)


def _post(api: Api, body: bytes, content_type: str) -> object:
    return api.admin.post(UPLOAD, content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("file-without-filename", 400),
        ("no-boundary", 400),
        ("wrong-boundary", 400),
        ("thousands-of-fields", 400),
        ("huge-field", None),
        ("truncated", 400),
        ("not-multipart", None),
        ("nested-multipart", None),
    ],
)
def test_malformed_multipart_is_refused_and_nothing_stored(
    sec: Api, case: str, status: int | None
) -> None:
    """Each malformed body is a 4xx JSON error (never 5xx), no row and no object is left,
    and the server still serves the next request."""
    jpeg = jpeg_bytes(30, 30)
    ctype = "multipart/form-data; boundary=sec-boundary"
    if case == "file-without-filename":
        body = _body([("files", None, jpeg)])
    elif case == "no-boundary":
        body, ctype = _body([("files", "a.jpg", jpeg)]), "multipart/form-data"
    elif case == "wrong-boundary":
        body, ctype = _body([("files", "a.jpg", jpeg)], "other"), ctype
    elif case == "thousands-of-fields":
        body = _body([("files", "a.jpg", jpeg)] + [(f"f{i}", None, b"x") for i in range(3000)])
    elif case == "huge-field":
        body = _body([("title", None, b"t" * (MAX_UPLOAD_TOTAL // 2)), ("files", "a.jpg", jpeg)])
    elif case == "truncated":
        body = _body([("files", "a.jpg", jpeg)])[:-40]
    elif case == "not-multipart":
        body, ctype = jpeg, "image/jpeg"
    else:
        inner = _body([("files", "a.jpg", jpeg)], "inner")
        body = (
            b'--sec-boundary\r\nContent-Disposition: form-data; name="files"\r\n'
            b"Content-Type: multipart/mixed; boundary=inner\r\n\r\n"
            + inner
            + b"\r\n--sec-boundary--\r\n"
        )
    before = _state(sec)
    r = sec.admin.post(UPLOAD, content=body, headers={"Content-Type": ctype})
    assert 400 <= r.status_code < 500, (case, r.status_code, r.text[:300])
    if status is not None:
        assert r.status_code == status, (case, r.status_code, r.text[:300])
    assert_error(r, r.status_code)
    assert _state(sec) == before
    assert sec.admin.get("/api/v1/admin/images", params={"limit": 1}).status_code == 200


def test_huge_declared_content_length_is_refused_before_reading(sec: Api) -> None:
    """A Content-Length of 10 GB with only a few bytes sent is answered 413 at once (the
    server does not wait for the body)."""
    head = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Type: multipart/form-data; boundary=sec-boundary\r\n"
        f"Content-Length: {10 * 1024**3}\r\nConnection: close\r\n\r\n"
    ).encode()
    response = raw_request(sec, head + b"--sec-boundary\r\n", timeout=10.0)
    assert raw_status(response) == 413, response[:300]
    assert b"upload_too_large" in response


def test_chunked_body_over_the_cap_is_413_and_nothing_stored(sec: Api) -> None:
    """Without a Content-Length (chunked), the total cap is still enforced while streaming."""
    before = _state(sec)
    big = _body(
        [
            ("files", f"a{i}.jpg", jpeg_bytes(30, 30) + b"\0" * (MAX_UPLOAD_TOTAL // 3))
            for i in range(4)
        ]
    )

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = sec.admin.post(
        UPLOAD,
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=sec-boundary"},
    )
    assert_error(r, 413, "upload_too_large")
    assert _state(sec) == before


def test_refused_batch_after_good_files_leaves_nothing(sec: Api) -> None:
    """Two good JPEGs and then an HTML page: 415, and neither JPEG is kept."""
    before = _state(sec)
    r = sec.upload_images(
        [
            ("a.jpg", jpeg_bytes(40, 40), "image/jpeg"),
            ("b.jpg", jpeg_bytes(50, 50), "image/jpeg"),
            ("c.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
        ],
        title=f"sec-{uuid.uuid4().hex[:6]}",
    )
    assert_error(r, 415, "unsupported_media_type")
    assert _state(sec) == before


def test_user_cannot_upload(sec: Api) -> None:
    """A user token on the upload endpoints is 403 and nothing is stored."""
    before = _state(sec)
    r = sec.upload_images([("a.jpg", jpeg_bytes(40, 40), "image/jpeg")], client=sec.user)
    assert_error(r, 403)
    assert _state(sec) == before


@pytest.mark.parametrize("token", [None, "nobody", ADMIN_TOKEN])
def test_json_body_cap_holds_before_the_body_is_read(sec: Api, token: str | None) -> None:
    """A JSON route with a declared 1 GB body answers at once (401 for strangers, 413 for
    the admin) instead of reading the body into memory first."""
    head = (
        "PUT /api/v1/admin/images/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + (f"Authorization: Bearer {token}\r\n" if token else "")
        + f"Content-Type: application/json\r\nContent-Length: {10**9}\r\nConnection: close\r\n\r\n"
    ).encode()
    response = raw_request(sec, head + b'{"title": "', timeout=5.0)
    assert response, "no answer: the server waits for the whole body"
    assert raw_status(response) in (401, 413), response[:300]
    if token == ADMIN_TOKEN:
        assert b"request_too_large" in response


def test_oversized_json_body_is_413_not_500(sec: Api) -> None:
    """An admin JSON body over the cap (3 MiB, chunked or not) is 413 ``request_too_large``
    and changes nothing."""
    music_sets = {s["id"] for s in sec.walk(sec.admin, "/api/v1/admin/music-sets")}
    body = b'{"title": "x", "description": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    r = sec.admin.post(
        "/api/v1/admin/music-sets", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(r, 413, "request_too_large")

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    with httpx.Client(base_url=sec.base_url, timeout=30.0) as fresh:  # a new connection
        r = fresh.post(
            "/api/v1/admin/music-sets",
            content=chunks(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    assert_error(r, 413, "request_too_large")
    assert {s["id"] for s in sec.walk(sec.admin, "/api/v1/admin/music-sets")} == music_sets
