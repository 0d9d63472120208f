"""The Django ``Storage`` backend's behaviours, on real S3 servers over HTTP: moto (server
mode) and nanio (which checks SigV4 signatures and presigned-URL expiry).

Django's storage API: save, open, exists, delete, size, url, listdir, modified time,
name collisions (with and without ``file_overwrite``), and a ``FileField`` model saved,
read and deleted through the ORM. Plus what is mediakit's: the URL is stable and cached,
reads after a seek are ranged GETs, large saves are multipart uploads that leave nothing
behind when they fail.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import s3_client
from tests.django.support import ensure_django
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

ensure_django()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.files.base import ContentFile, File  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import override_settings  # noqa: E402

from mediakit.presign import build_signer  # noqa: E402
from mediakit_django.storage import MediaKitFile, MediaKitStorage  # noqa: E402

pytestmark = pytest.mark.s3

_count = iter(range(1, 1_000_000))


def _options(server: ServerHandle, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "assets_bucket": bucket,
        "s3_endpoint": server.url,
        "s3_access_key_id": ACCESS_KEY,
        "s3_secret_access_key": SECRET_KEY,
        "s3_region": "us-east-1",
        **extra,
    }


@pytest.fixture(params=["moto", "nanio"])
def server(request: pytest.FixtureRequest) -> ServerHandle:
    """Each S3 server the suite starts."""
    handle: ServerHandle = request.getfixturevalue(f"{request.param}_server")
    return handle


@pytest.fixture
def bucket(server: ServerHandle) -> str:
    """A fresh bucket on the server."""
    name = f"mk-storage-{os.getpid()}-{next(_count)}"
    s3_client(server.url).create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


@pytest.fixture
def storage(server: ServerHandle, bucket: str) -> MediaKitStorage:
    """A storage under the key prefix ``site`` in a fresh bucket."""
    return MediaKitStorage(location="site", **_options(server, bucket))


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


# --- save, open, exists, size, delete ------------------------------------------------


def test_save_then_open_reads_the_same_bytes(storage: MediaKitStorage) -> None:
    """save() returns the name; open() reads it back; the key carries the location."""
    name = storage.save("docs/hello.txt", ContentFile(b"hello, storage"))
    assert name == "docs/hello.txt"
    with storage.open(name) as f:
        assert f.read() == b"hello, storage"
    assert storage.store.head("site/docs/hello.txt").content_type == "text/plain"
    assert storage.exists(name)
    assert storage.size(name) == len(b"hello, storage")


def test_an_uploaded_files_content_type_is_kept(storage: MediaKitStorage) -> None:
    """The uploaded file's content type is stored (and served by S3)."""
    upload = SimpleUploadedFile("pic.bin", b"\x89PNG\r\n\x1a\n...", content_type="image/png")
    name = storage.save("pic.bin", upload)
    assert storage.store.head(storage.key(name)).content_type == "image/png"
    got = _get(storage.url(name))
    assert (got.status_code, got.headers["content-type"]) == (200, "image/png")


def test_text_mode_opens_decode_utf8(storage: MediaKitStorage) -> None:
    """open(name, "r") reads text."""
    name = storage.save("t.txt", ContentFile("grüße\n".encode()))
    with storage.open(name, "r") as f:
        assert f.read() == "grüße\n"


def test_writing_through_open_is_refused_with_a_pointer_to_save(storage: MediaKitStorage) -> None:
    """Files are written with save(); open() for writing says so."""
    with pytest.raises(ValueError, match=r"storage\.save"):
        storage.open("x.txt", "wb")


def test_missing_files(storage: MediaKitStorage) -> None:
    """exists() is False; open/size/modified time raise FileNotFoundError; delete is quiet."""
    assert not storage.exists("nope.txt")
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        storage.open("nope.txt")
    with pytest.raises(FileNotFoundError):
        storage.size("nope.txt")
    with pytest.raises(FileNotFoundError):
        storage.get_modified_time("nope.txt")
    storage.delete("nope.txt")


def test_delete_removes_the_object(storage: MediaKitStorage) -> None:
    """After delete() the name is free and the URL answers 404 (or 403) from S3."""
    name = storage.save("gone.txt", ContentFile(b"bye"))
    url = storage.url(name)
    storage.delete(name)
    assert not storage.exists(name)
    assert _get(url).status_code in (403, 404)


def test_modified_time_is_aware_and_recent(storage: MediaKitStorage) -> None:
    """get_modified_time() is an aware datetime with USE_TZ, naive without."""
    name = storage.save("m.txt", ContentFile(b"m"))
    modified = storage.get_modified_time(name)
    assert modified.tzinfo is not None
    assert abs(datetime.now(UTC) - modified) < timedelta(minutes=5)
    with override_settings(USE_TZ=False):
        assert storage.get_modified_time(name).tzinfo is None


# --- names ---------------------------------------------------------------------------------


def test_a_taken_name_gets_a_free_one_and_the_first_file_is_kept(
    storage: MediaKitStorage,
) -> None:
    """Without file_overwrite (the default), saving a taken name stores under a new one."""
    first = storage.save("same.txt", ContentFile(b"first"))
    second = storage.save("same.txt", ContentFile(b"second"))
    assert first == "same.txt"
    assert second != first
    assert second.startswith("same_")
    assert second.endswith(".txt")
    assert storage.open(first).read() == b"first"
    assert storage.open(second).read() == b"second"


def test_file_overwrite_replaces_a_taken_name(server: ServerHandle, bucket: str) -> None:
    """file_overwrite=True: the same name, the new content."""
    storage = MediaKitStorage(file_overwrite=True, **_options(server, bucket))
    assert storage.save("same.txt", ContentFile(b"first")) == "same.txt"
    assert storage.save("same.txt", ContentFile(b"second")) == "same.txt"
    assert storage.open("same.txt").read() == b"second"
    assert storage.get_available_name("a/" + "x" * 30 + ".txt", max_length=20) == "a/" + (
        "x" * 14 + ".txt"
    )


def test_names_with_spaces_and_unicode_are_stored_and_signed(storage: MediaKitStorage) -> None:
    """A name Django allows is a key, and its URL's signature checks out."""
    name = storage.save("dir with space/Überraschung €.txt", ContentFile(b"surprise"))
    got = _get(storage.url(name))
    assert got.status_code == 200, got.text
    assert got.content == b"surprise"


def test_listdir_lists_directories_and_files_below_a_path(storage: MediaKitStorage) -> None:
    """listdir() answers with the immediate sub-directories and files, relative."""
    for name in ("a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt", "other/e.txt"):
        storage.save(name, ContentFile(name.encode()))
    dirs, files = storage.listdir("")
    assert (sorted(dirs), sorted(files)) == (["other", "sub"], ["a.txt", "b.txt"])
    assert storage.listdir("sub") == (["deeper"], ["c.txt"])
    assert storage.listdir("sub/") == (["deeper"], ["c.txt"])
    assert storage.listdir("nothing-here") == ([], [])


# --- url ---------------------------------------------------------------------------------------


def test_the_url_serves_the_file_and_is_the_same_on_every_call(storage: MediaKitStorage) -> None:
    """One URL per signing window: the same from every call, from a fresh signer (another
    process), and it serves the bytes (nanio checks the signature)."""
    name = storage.save("photo.jpg", ContentFile(b"\xff\xd8\xff-not-really"))
    url = storage.url(name)
    assert url == storage.url(name)
    assert build_signer(storage.settings).sign(storage.key(name)).url == url
    assert "/site/photo.jpg?" in url
    got = _get(url)
    assert (got.status_code, got.content) == (200, b"\xff\xd8\xff-not-really")


# --- ranged reads ---------------------------------------------------------------------------


@pytest.fixture
def ranges_sent(storage: MediaKitStorage) -> Iterator[list[str | None]]:
    """The Range header of every GET of an object the storage sends during the test: through
    the ranged reader's urllib3 pool (``MEDIA_S3_FAST_READS``, the default) or botocore's
    GetObject (reads with fast reads off)."""
    sent: list[str | None] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        sent.append(params.get("Range"))

    events = storage.store.client.meta.events
    events.register("provide-client-params.s3.GetObject", record, unique_id="mk-test-ranges")
    reader = storage.store.reader
    if reader is not None:
        get = reader.get

        def recorded(key: str, range_value: str | None, **kwargs: Any) -> Any:
            sent.append(range_value)
            return get(key, range_value, **kwargs)

        reader.get = recorded  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        events.unregister("provide-client-params.s3.GetObject", unique_id="mk-test-ranges")
        if reader is not None:
            del reader.get


def test_seek_then_read_is_one_ranged_get_from_there(
    storage: MediaKitStorage, ranges_sent: list[str | None]
) -> None:
    """seek(n) + read(k) sends 'Range: bytes=n-' and reads k bytes; reading on uses the same
    response; seeking back starts another ranged GET. Never a whole-object download."""
    data = os.urandom(3 * 1024 * 1024 + 123)
    name = storage.save("big.bin", ContentFile(data))
    ranges_sent.clear()
    with storage.open(name) as f:
        assert isinstance(f, MediaKitFile)
        assert f.size == len(data)
        f.seek(2 * 1024 * 1024)
        assert f.read(10) == data[2 * 1024 * 1024 : 2 * 1024 * 1024 + 10]
        assert f.read(100) == data[2 * 1024 * 1024 + 10 : 2 * 1024 * 1024 + 110]
        f.seek(-5, io.SEEK_END)
        assert f.read() == data[-5:]
        f.seek(7)
        assert f.read(3) == data[7:10]
    # one HEAD at open (size), then one GET per seek, each from the new position
    assert ranges_sent == [
        f"bytes={2 * 1024 * 1024}-",
        f"bytes={len(data) - 5}-",
        "bytes=7-",
    ]


def test_reading_to_the_end_and_past_it(storage: MediaKitStorage) -> None:
    """read() gives every byte; reading at the end gives b""; an empty file reads empty."""
    data = os.urandom(700_000)
    name = storage.save("r.bin", ContentFile(data))
    with storage.open(name) as f:
        assert f.read() == data
        assert f.read() == b""
        f.seek(len(data) + 10)
        assert f.read(5) == b""
    empty = storage.save("empty.bin", ContentFile(b""))
    with storage.open(empty) as f:
        assert f.size == 0
        assert f.read() == b""


def test_file_chunks_and_django_file_helpers_work(storage: MediaKitStorage) -> None:
    """Django's File API over the opened file: chunks(), iteration by line."""
    name = storage.save("lines.txt", ContentFile(b"one\ntwo\nthree\n"))
    f = storage.open(name)
    assert b"".join(f.chunks(chunk_size=4)) == b"one\ntwo\nthree\n"
    f.seek(0)
    assert list(f) == [b"one\n", b"two\n", b"three\n"]
    f.close()


# --- large saves -------------------------------------------------------------------------


def test_a_large_save_is_a_multipart_upload(server: ServerHandle, bucket: str) -> None:
    """Content larger than a part goes up in parts, and reads back whole."""
    storage = MediaKitStorage(**_options(server, bucket, multipart_part_size=5 * 1024 * 1024))
    data = os.urandom(11 * 1024 * 1024 + 5)
    name = storage.save("large.bin", ContentFile(data))
    assert storage.size(name) == len(data)
    head = s3_client(server.url).head_object(Bucket=bucket, Key=name)  # type: ignore[attr-defined]
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    with storage.open(name) as f:
        assert f.read() == data
    assert storage.store.list_multipart_uploads() == []


class _Failing(io.RawIOBase):
    """A file that fails after ``limit`` bytes (a client gone mid-upload, say)."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.left <= 0:
            raise OSError("the upload was cut off")
        n = min(len(b), self.left)
        b[:n] = b"x" * n
        self.left -= n
        return n


def test_a_failed_save_leaves_no_object_and_no_open_upload(
    server: ServerHandle, bucket: str
) -> None:
    """A read error mid-way aborts the multipart upload: nothing is kept."""
    storage = MediaKitStorage(**_options(server, bucket, multipart_part_size=5 * 1024 * 1024))
    with pytest.raises(OSError, match="cut off"):
        storage.save("broken.bin", File(_Failing(12 * 1024 * 1024), name="broken.bin"))
    assert not storage.exists("broken.bin")
    assert storage.store.list_multipart_uploads() == []


# --- configuration --------------------------------------------------------------------------


def test_unknown_options_and_other_backends_are_refused() -> None:
    """A typo or a non-S3 backend fails naming the option."""
    with pytest.raises(ImproperlyConfigured, match="'asset_bucket'"):
        MediaKitStorage(asset_bucket="x")
    with pytest.raises(ImproperlyConfigured, match="storage_backend"):
        MediaKitStorage(storage_backend="filesystem")
    with pytest.raises(ImproperlyConfigured, match="file_overwrite"):
        MediaKitStorage(file_overwrite="yes")


def test_the_storage_deconstructs_for_migrations(server: ServerHandle, bucket: str) -> None:
    """FileField(storage=MediaKitStorage(...)) can be written into a migration."""
    storage = MediaKitStorage(location="x", **_options(server, bucket))
    path, args, kwargs = storage.deconstruct()
    assert path == "mediakit_django.storage.MediaKitStorage"
    assert kwargs["location"] == "x"
    assert MediaKitStorage(*args, **kwargs).key("a") == "x/a"


# --- the ORM ----------------------------------------------------------------------------------


def _django_42_keeps_options(backend: dict[str, Any]) -> None:
    """Django 4.2's override_settings(STORAGES=...) also overrides DEFAULT_FILE_STORAGE,
    and the storage handler then rebuilds "default" from it without OPTIONS (a settings
    module is not affected: the shop project runs on 4.2 over HTTP). Hand the handler
    the configuration the settings describe."""
    import django
    from django.core.files.storage import storages

    if django.VERSION < (5, 0):
        storages._backends = {"default": backend}
        storages.__dict__.pop("backends", None)


def test_a_filefield_model_saves_reads_and_deletes_through_the_orm(
    server: ServerHandle, bucket: str
) -> None:
    """STORAGES["default"] is the backend: a Product's file is saved under upload_to, read
    back, served by its URL, and deleted with FieldFile.delete()."""
    from tests.django.shop.catalog.models import Product

    backend = {
        "BACKEND": "mediakit_django.storage.MediaKitStorage",
        "OPTIONS": {"location": "media", **_options(server, bucket)},
    }
    with override_settings(STORAGES={"default": backend}):
        _django_42_keeps_options(backend)
        product = Product(name="Manual")
        product.file.save("manual.pdf", ContentFile(b"%PDF-1.4 manual"), save=True)
        assert product.file.name == "products/manual.pdf"
        again = Product.objects.create(
            name="Manual v2", file=ContentFile(b"%PDF-1.4 v2", name="manual.pdf")
        )
        assert again.file.name != product.file.name  # a free name, the first is kept

        loaded = Product.objects.get(pk=product.pk)
        with loaded.file.open("rb") as f:
            assert f.read() == b"%PDF-1.4 manual"
        assert loaded.file.size == len(b"%PDF-1.4 manual")
        url = loaded.file.url
        assert url == Product.objects.get(pk=product.pk).file.url
        got = _get(url)
        assert (got.status_code, got.content) == (200, b"%PDF-1.4 manual")
        assert got.headers["content-type"] == "application/pdf"
        keys = sorted(loaded.file.storage.store.list_keys("media/"))  # type: ignore[attr-defined]
        assert keys == sorted(["media/products/manual.pdf", f"media/{again.file.name}"])

        loaded.file.delete(save=True)
        assert Product.objects.get(pk=product.pk).file.name == ""
        assert not again.file.storage.exists("products/manual.pdf")
        assert again.file.storage.exists(again.file.name)
        Product.objects.all().delete()


# --- range_response on the storage (in-process; over HTTP: tests/django/test_shop.py) -------


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_range_response_serves_a_storage_file_with_range_semantics(
    storage: MediaKitStorage,
) -> None:
    """206 for one range (with the stored type), ranges close together coalesced into one
    206, 405 with Allow for a POST."""
    from django.test import RequestFactory

    from mediakit_django.responses import range_response

    name = storage.save("r/abc.txt", ContentFile(b"abcdefghij"))
    rf = RequestFactory()
    one = range_response(rf.get("/f", headers={"Range": "bytes=2-4"}), storage, name)
    assert (one.status_code, _body(one)) == (206, b"cde")
    # only media types on mediakit's list are served as themselves (no active content)
    assert one["Content-Type"] == "application/octet-stream"
    png = storage.save("r/pic.png", ContentFile(b"\x89PNG-ish"))
    assert range_response(rf.get("/f"), storage, png)["Content-Type"] == "image/png"
    two = range_response(rf.get("/f", headers={"Range": "bytes=0-0,9-9"}), storage, name)
    assert (two.status_code, two["Content-Range"], _body(two)) == (
        206,
        "bytes 0-9/10",
        b"abcdefghij",
    )
    refused = range_response(rf.post("/f"), storage, name)
    assert (refused.status_code, refused["Allow"]) == (405, "GET, HEAD")


def test_arange_response_serves_the_same_from_an_async_view(storage: MediaKitStorage) -> None:
    """The async twin: a storage source runs on a worker thread; 206 and 404 alike."""
    import asyncio

    from django.test import RequestFactory

    from mediakit_django.responses import arange_response

    name = storage.save("r/async.txt", ContentFile(b"0123456789"))
    rf = RequestFactory()

    async def run() -> tuple[int, bytes, int]:
        r = await arange_response(rf.get("/f", headers={"Range": "bytes=-3"}), storage, name)
        body = b"".join([c async for c in r.streaming_content])  # type: ignore[union-attr]
        missing = await arange_response(rf.get("/f"), storage, "r/none.txt")
        return r.status_code, body, missing.status_code

    assert asyncio.run(run()) == (206, b"789", 404)


def test_image_dimensions_are_read_from_the_head_of_the_file(
    storage: MediaKitStorage, ranges_sent: list[str | None]
) -> None:
    """ImageField's width/height (get_image_dimensions) read the image's first bytes over
    one GET, not the whole file."""
    from django.core.files.images import get_image_dimensions

    from tests.fixtures_media import jpeg_bytes

    name = storage.save("pics/wide.jpg", ContentFile(jpeg_bytes(320, 200)))
    ranges_sent.clear()
    with storage.open(name) as f:
        assert get_image_dimensions(f) == (320, 200)
        assert isinstance(f, MediaKitFile)
        assert f.raw.requests == 1
    # from position 0 the GET needs no Range header; it is read only as far as needed,
    # then closed
    assert ranges_sent == [None]
