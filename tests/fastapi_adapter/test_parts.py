"""mediakit's parts on their own, over HTTP: an app with its own SQLAlchemy table
(tests/fastapi_adapter/parts_app.py) runs under uvicorn on S3 (moto server mode) and uses
``checked_uploads`` (413 past its caps, 415 for other types, nothing left behind),
``range_response`` (ranges, HEAD, conditional requests) and the cached presigner."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests import servers
from tests.conftest import s3_client
from tests.fastapi_adapter.test_server_process import PYTHONPATH
from tests.fixtures_media import png_bytes
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle
from tests.service.kit import multipart

pytestmark = pytest.mark.s3

PNG = png_bytes(64, 48)


class PartsServer:
    """The running app, its bucket and its database."""

    def __init__(self, url: str, bucket: str, raw: object, db_url: str) -> None:
        self.url = url
        self.bucket = bucket
        self.raw = raw
        self.engine = sa.create_engine(db_url)

    def stored_keys(self) -> list[str]:
        """Every object under ``documents/``, and every multipart upload left open."""
        listed = self.raw.list_objects_v2(Bucket=self.bucket, Prefix="documents/")  # type: ignore[attr-defined]
        uploads = self.raw.list_multipart_uploads(Bucket=self.bucket)  # type: ignore[attr-defined]
        return [o["Key"] for o in listed.get("Contents", [])] + [
            u["Key"] for u in uploads.get("Uploads", [])
        ]

    def rows(self) -> int:
        """Rows of the app's own table."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM documents")).scalar_one())


@pytest.fixture(scope="module")
def parts(
    moto_server: ServerHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PartsServer]:
    """The parts app under uvicorn, on a fresh bucket of the session's moto server."""
    tmp = tmp_path_factory.mktemp("parts")
    bucket = f"mk-parts-{os.getpid()}"
    raw = s3_client(moto_server.url)
    raw.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    db_url = f"sqlite:///{tmp / 'parts.db'}"
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAKIT_", "MEDIA_"))}
    env.update(
        PYTHONPATH=PYTHONPATH,
        PARTS_DATABASE_URL=db_url,
        MEDIAKIT_STORAGE="s3",
        MEDIA_S3_ENDPOINT=moto_server.url,
        MEDIA_ASSETS_BUCKET=bucket,
        MEDIA_S3_ACCESS_KEY_ID=ACCESS_KEY,
        MEDIA_S3_SECRET_ACCESS_KEY=SECRET_KEY,
        MEDIA_S3_REGION="us-east-1",
    )
    proc = servers._spawn(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tests.fastapi_adapter.parts_app:factory",
            "--port",
            str(port),
        ],
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        servers.wait_for_port(port, proc, timeout=60)
        yield PartsServer(f"http://127.0.0.1:{port}", bucket, raw, db_url)
    finally:
        servers.stop_process(proc)


def _upload(parts: PartsServer, files: list[tuple[str, bytes]], **kw: object) -> httpx.Response:
    body, ct = multipart(files)
    return httpx.post(
        f"{parts.url}/documents", headers={"Content-Type": ct}, content=body, timeout=30, **kw
    )


@pytest.fixture(scope="module")
def doc(parts: PartsServer) -> dict[str, object]:
    """One PNG stored through the app's upload endpoint."""
    r = _upload(parts, [("pic.png", PNG)])
    assert r.status_code == 201, r.text
    [item] = r.json()["items"]
    return dict(item)


def test_upload_sniffs_and_stores_under_the_apps_key(parts: PartsServer, doc: dict) -> None:
    """The type comes from the bytes; the object and the row are the app's own."""
    assert (doc["content_type"], doc["size"], doc["filename"]) == ("image/png", len(PNG), "pic.png")
    assert f"documents/{doc['id']}" in parts.stored_keys()
    obj = parts.raw.get_object(Bucket=parts.bucket, Key=f"documents/{doc['id']}")  # type: ignore[attr-defined]
    assert obj["Body"].read() == PNG


def test_range_response_serves_ranges_head_and_whole(parts: PartsServer, doc: dict) -> None:
    """200 with Accept-Ranges, 206 with Content-Range (suffix too), HEAD without body,
    416 past the end, an invalid Range ignored."""
    url = f"{parts.url}/documents/{doc['id']}/content"
    r = httpx.get(url)
    assert (r.status_code, r.content) == (200, PNG)
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith("inline")
    r = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert (r.status_code, r.content) == (206, PNG[10:20])
    assert r.headers["content-range"] == f"bytes 10-19/{len(PNG)}"
    r = httpx.get(url, headers={"Range": "bytes=-7"})
    assert (r.status_code, r.content) == (206, PNG[-7:])
    r = httpx.head(url)
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", str(len(PNG)))
    r = httpx.get(url, headers={"Range": f"bytes={len(PNG) + 10}-"})
    assert (r.status_code, r.headers["content-range"]) == (416, f"bytes */{len(PNG)}")
    r = httpx.get(url, headers={"Range": "bytes=garbage0-9garbage"})
    assert (r.status_code, r.content) == (200, PNG)


def test_range_response_answers_conditional_requests(parts: PartsServer, doc: dict) -> None:
    """If-None-Match -> 304, If-Match mismatch -> 412, If-Range with another ETag -> 200."""
    url = f"{parts.url}/documents/{doc['id']}/content"
    etag = httpx.head(url).headers["etag"]
    r = httpx.get(url, headers={"If-None-Match": etag})
    assert (r.status_code, r.content) == (304, b"")
    assert r.headers["etag"] == etag
    assert httpx.get(url, headers={"If-Match": '"other"'}).status_code == 412
    r = httpx.get(url, headers={"If-Range": '"other"', "Range": "bytes=0-3"})
    assert (r.status_code, r.content) == (200, PNG)
    r = httpx.get(url, headers={"If-Range": etag, "Range": "bytes=0-3"})
    assert (r.status_code, r.content) == (206, PNG[:4])


def test_range_response_of_a_missing_key_is_the_apps_404(parts: PartsServer) -> None:
    """A missing object is an HTTPException 404: FastAPI's (the app's) error shape."""
    r = httpx.get(f"{parts.url}/raw/documents/nothing-here")
    assert r.status_code == 404
    assert set(r.json()) == {"detail"}


def test_presigned_urls_are_stable_and_work(parts: PartsServer, doc: dict) -> None:
    """The same URL on every call within the window, and S3 serves it with the type."""
    first = httpx.get(f"{parts.url}/documents/{doc['id']}/url").json()
    again = httpx.get(f"{parts.url}/documents/{doc['id']}/url").json()
    assert first == again
    r = httpx.get(first["url"])
    assert (r.status_code, r.content, r.headers["content-type"]) == (200, PNG, "image/png")


def test_file_over_its_cap_is_413_and_leaves_nothing(parts: PartsServer) -> None:
    """A file past the per-file cap (64 KiB) is refused mid-stream: 413 naming the file;
    no object, no open multipart upload, no row."""
    before = (sorted(parts.stored_keys()), parts.rows())
    r = _upload(parts, [("big.png", PNG + b"\0" * 90_000)])
    assert r.status_code == 413, r.text
    assert "'big.png'" in r.json()["detail"]
    assert "64 KiB" in r.json()["detail"]
    assert (sorted(parts.stored_keys()), parts.rows()) == before


def test_request_over_its_cap_is_413_before_reading(parts: PartsServer) -> None:
    """A declared Content-Length past the request cap (160 KiB) is refused at once; so
    is a chunked body once it passes the cap."""
    before = (sorted(parts.stored_keys()), parts.rows())
    r = _upload(parts, [("a.png", PNG + b"\0" * 200_000)])
    assert r.status_code == 413
    assert "160 KiB" in r.json()["detail"]
    body, ct = multipart([("a.png", PNG + b"\0" * 200_000)])

    def chunked() -> Iterator[bytes]:
        for i in range(0, len(body), 16_384):
            yield body[i : i + 16_384]

    r = httpx.post(f"{parts.url}/documents", headers={"Content-Type": ct}, content=chunked())
    assert r.status_code == 413
    assert (sorted(parts.stored_keys()), parts.rows()) == before


def test_wrong_type_is_415_naming_the_file_and_the_type(parts: PartsServer) -> None:
    """Content that is not an allowed image is refused whatever its name; a request that
    is not multipart is refused too; nothing is stored."""
    before = (sorted(parts.stored_keys()), parts.rows())
    r = _upload(parts, [("notes.png", b"Dear diary, this is not a picture at all.\n" * 20)])
    assert r.status_code == 415
    assert "'notes.png'" in r.json()["detail"]
    assert "is text/" in r.json()["detail"]  # libmagic's name for it: plain, csv...
    assert "which is not an allowed image type" in r.json()["detail"]
    r = httpx.post(
        f"{parts.url}/documents", headers={"Content-Type": "text/plain"}, content=b"hello"
    )
    assert r.status_code == 415
    assert (sorted(parts.stored_keys()), parts.rows()) == before


def test_truncated_body_is_400_and_leaves_nothing(parts: PartsServer) -> None:
    """A multipart body cut off inside a file is a 400 (not a stored half file)."""
    before = (sorted(parts.stored_keys()), parts.rows())
    body, ct = multipart([("cut.png", PNG)])
    r = httpx.post(
        f"{parts.url}/documents", headers={"Content-Type": ct}, content=body[: len(body) // 2]
    )
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"detail"}
    assert (sorted(parts.stored_keys()), parts.rows()) == before
