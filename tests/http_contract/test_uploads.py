"""Upload limits and content checks: 400, 413 (with and without Content-Length), 415, 429."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.http_contract.harness import (
    MAX_FILE_SIZE,
    MAX_FILES,
    MAX_UPLOAD_TOTAL,
    Api,
    assert_error,
    jpeg_small,
)
from tests.media_samples import html_bytes, padded_jpeg, svg_bytes, text_as_jpg_bytes

UPLOAD = "/api/v1/admin/images/upload"


def unique(prefix: str) -> str:
    """A title no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def titled(api: Api, title: str) -> list[str]:
    """Ids of every image (hidden too) carrying ``title``."""
    return [i["id"] for i in api.walk(api.admin, "/api/v1/admin/images") if i["title"] == title]


def multipart(
    files: list[tuple[str, bytes, str]], fields: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type, built by hand for streaming tests."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in (fields or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for filename, data, ctype in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` in pieces; httpx sends a generator body with chunked transfer encoding."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_file_over_the_per_file_cap_is_413_and_nothing_is_stored(api: Api) -> None:
    """One file over MEDIA_MAX_FILE_SIZE refuses the request with 413 upload_too_large."""
    title = unique("too-big")
    r = api.upload_images(
        [
            ("ok.jpg", jpeg_small(), "image/jpeg"),
            ("big.jpg", padded_jpeg(MAX_FILE_SIZE + 1), "image/jpeg"),
        ],
        title=title,
    )
    assert_error(r, 413, "upload_too_large")
    assert titled(api, title) == []


def test_file_exactly_at_the_cap_is_accepted(api: Api) -> None:
    """A file of exactly MEDIA_MAX_FILE_SIZE bytes is within the limit."""
    title = unique("at-cap")
    r = api.upload_images([("edge.jpg", padded_jpeg(MAX_FILE_SIZE), "image/jpeg")], title=title)
    assert r.status_code == 201, r.text
    assert r.json()["items"][0]["size"] == MAX_FILE_SIZE
    assert api.admin.delete(f"/api/v1/admin/images/{r.json()['items'][0]['id']}").status_code == 204


def test_request_over_the_total_cap_is_413_and_nothing_is_stored(api: Api) -> None:
    """Files each under the per-file cap but together over MEDIA_MAX_UPLOAD_SIZE_TOTAL are 413."""
    title = unique("total")
    each = MAX_UPLOAD_TOTAL // 2 + 1024
    assert each < MAX_FILE_SIZE
    r = api.upload_images(
        [("a.jpg", padded_jpeg(each), "image/jpeg"), ("b.jpg", padded_jpeg(each), "image/jpeg")],
        title=title,
    )
    assert_error(r, 413, "upload_too_large")
    assert titled(api, title) == []


def test_chunked_upload_without_content_length_is_still_capped(api: Api) -> None:
    """A chunked body (no Content-Length) is counted as it streams and refused with 413."""
    title = unique("chunked")
    body, ctype = multipart(
        [("big.jpg", padded_jpeg(MAX_FILE_SIZE + 64 * 1024), "image/jpeg")], {"title": title}
    )
    r = api.admin.post(UPLOAD, content=chunks(body), headers={"Content-Type": ctype})
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "upload_too_large")
    assert titled(api, title) == []


def test_chunked_upload_within_limits_is_accepted(api: Api) -> None:
    """Chunked transfer encoding itself is fine when the body is within the limits."""
    title = unique("chunked-ok")
    body, ctype = multipart([("small.jpg", jpeg_small(), "image/jpeg")], {"title": title})
    r = api.admin.post(UPLOAD, content=chunks(body, 1000), headers={"Content-Type": ctype})
    assert r.status_code == 201, r.text
    assert r.json()["items"][0]["size"] == len(jpeg_small())


@pytest.mark.parametrize(
    ("filename", "data", "declared"),
    [
        ("drawing.svg", svg_bytes(), "image/svg+xml"),
        ("page.html", html_bytes(), "text/html"),
        ("photo.jpg", text_as_jpg_bytes(), "image/jpeg"),
        ("page.jpg", html_bytes(), "image/jpeg"),
    ],
)
def test_disallowed_content_refuses_the_whole_batch_with_415(
    api: Api, filename: str, data: bytes, declared: str
) -> None:
    """Content is sniffed, not trusted: one bad file refuses the batch, nothing is stored."""
    title = unique("bad-type")
    r = api.upload_images(
        [("good.jpg", jpeg_small(), "image/jpeg"), (filename, data, declared)], title=title
    )
    assert_error(r, 415, "unsupported_media_type")
    assert titled(api, title) == []


def test_upload_without_files_is_400(api: Api) -> None:
    """A multipart body with no ``files`` part is 400."""
    r = api.admin.post(UPLOAD, files={"other": ("a.txt", b"x", "text/plain")}, data={"title": "x"})
    assert_error(r, 400)
    body, ctype = multipart([], {"title": "only a field"})
    assert_error(api.admin.post(UPLOAD, content=body, headers={"Content-Type": ctype}), 400)


def test_non_multipart_upload_is_400(api: Api) -> None:
    """A body that is not multipart (or a broken multipart body) is 400."""
    r = api.admin.post(UPLOAD, json={"files": []})
    assert r.status_code in (400, 415), r.text
    assert_error(r, r.status_code)
    r = api.admin.post(
        UPLOAD,
        content=b"--nope\r\ngarbage",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert_error(r, 400)


def test_too_many_files_is_400_and_nothing_is_stored(api: Api) -> None:
    """More than MEDIA_MAX_FILES_PER_REQUEST files is 400; none of them is stored."""
    title = unique("many")
    files = [(f"{i}.jpg", jpeg_small(), "image/jpeg") for i in range(MAX_FILES + 1)]
    assert_error(api.upload_images(files, title=title), 400)
    assert titled(api, title) == []


def test_max_files_per_request_is_accepted(api: Api) -> None:
    """Exactly MEDIA_MAX_FILES_PER_REQUEST files is fine and creates that many images."""
    title = unique("max")
    files = [(f"{i}.jpg", jpeg_small(), "image/jpeg") for i in range(MAX_FILES)]
    r = api.upload_images(files, title=title, visible=False)
    assert r.status_code == 201, r.text
    assert len(r.json()["items"]) == MAX_FILES
    assert sorted(titled(api, title)) == sorted(i["id"] for i in r.json()["items"])


def _upload_while_another_is_open(api: Api, title: str) -> tuple[httpx.Response, httpx.Response]:
    """Hold one upload open (its body stalls after 200 bytes) and try a second one meanwhile.

    Returns (the held upload's response, the second upload's response).
    """
    body, ctype = multipart([("slow.jpg", jpeg_small(), "image/jpeg")], {"title": title})
    release = threading.Event()
    started = threading.Event()
    result: dict[str, httpx.Response | BaseException] = {}

    def slow_body() -> Iterator[bytes]:
        yield body[:200]
        started.set()
        release.wait(20)
        yield body[200:]

    def first() -> None:
        try:
            with httpx.Client(base_url=api.base_url, timeout=30) as c:
                result["first"] = c.post(
                    UPLOAD,
                    content=slow_body(),
                    headers={"Content-Type": ctype, **dict(api.admin.headers)},
                )
        except BaseException as exc:
            result["first"] = exc

    t = threading.Thread(target=first, daemon=True)
    t.start()
    try:
        assert started.wait(10)
        time.sleep(0.3)  # let the server take the first request's slot
        r = api.upload_images([("second.jpg", jpeg_small(), "image/jpeg")], title=title)
    finally:
        release.set()
        t.join(30)
    held = result.get("first")
    assert isinstance(held, httpx.Response), held
    return held, r


def test_concurrent_uploads_over_the_limit_are_429_with_retry_after(api: Api) -> None:
    """While one upload by an admin is in flight (limit 1), a second is 429 + Retry-After."""
    title = unique("slow")
    for _ in range(3):
        held, second = _upload_while_another_is_open(api, title)
        if held.status_code != 429:
            break
        # the second request reached the server first (a loaded machine): try again
    assert held.status_code == 201, held.text
    assert_error(second, 429)
    retry_after = second.headers["retry-after"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    # the slot is released when the held upload ends
    r = api.upload_images([("third.jpg", jpeg_small(), "image/jpeg")], title=title)
    assert r.status_code == 201, r.text
    stored = set(titled(api, title))
    assert {held.json()["items"][0]["id"], r.json()["items"][0]["id"]} <= stored


def test_user_upload_is_403_and_stores_nothing(api: Api) -> None:
    """A user token cannot upload."""
    title = unique("by-user")
    r = api.upload_images([("u.jpg", jpeg_small(), "image/jpeg")], title=title, client=api.user)
    assert_error(r, 403)
    assert titled(api, title) == []
