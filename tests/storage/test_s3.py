"""S3-specific behaviour: what the servers do with suffix ranges, per-key delete retries,
the async store's client lifecycle, bucket creation and the store builders."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mediakit.errors import StorageError
from mediakit.settings import Settings
from mediakit.storage import (
    AsyncS3ObjectStore,
    FilesystemObjectStore,
    MemoryObjectStore,
    S3ObjectStore,
    ThreadedAsyncStore,
    _common,
    build_async_object_store,
    build_object_store,
    ensure_bucket,
    make_client_config,
)
from tests.conftest import s3_client
from tests.servers import ServerHandle
from tests.storage.conftest import s3_settings


def _get(client: Any, bucket: str, rng: str) -> tuple[int, bytes] | str:
    try:
        resp = client.get_object(Bucket=bucket, Key="ten", Range=rng)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Body"].read()


@pytest.mark.s3
@pytest.mark.parametrize(
    "server_name",
    ["moto_server", "nanio_server", pytest.param("ceph_rgw_server", marks=pytest.mark.ceph)],
)
def test_record_how_servers_answer_suffix_and_overlong_ranges(
    request: pytest.FixtureRequest, server_name: str, fresh_bucket_name: str
) -> None:
    """Records (does not require) what each server does with ranges mediakit never sends.

    On a 10-byte object, RFC 9110 (and AWS) answer ``bytes=-3`` with the last 3 bytes and
    clamp ``bytes=0-20`` to the object. moto (server mode) and Ceph RGW do both; nanio refuses
    every suffix range and every range running past the end with 400 InvalidArgument. Hence
    the stores send only absolute spans inside the object, resolved beforehand.
    """
    server: ServerHandle = request.getfixturevalue(server_name)
    client: Any = s3_client(server.url)
    client.create_bucket(Bucket=fresh_bucket_name)
    client.put_object(Bucket=fresh_bucket_name, Key="ten", Body=b"0123456789")
    observed = {rng: _get(client, fresh_bucket_name, rng) for rng in ("bytes=-3", "bytes=0-20")}
    expected = {
        "moto_server": {"bytes=-3": (206, b"789"), "bytes=0-20": (206, b"0123456789")},
        "nanio_server": {"bytes=-3": "InvalidArgument", "bytes=0-20": "InvalidArgument"},
        "ceph_rgw_server": {"bytes=-3": (206, b"789"), "bytes=0-20": (206, b"0123456789")},
    }[server_name]
    assert observed == expected
    # what mediakit sends instead works on both
    assert _get(client, fresh_bucket_name, "bytes=7-9") == (206, b"789")


def _stubbed_store() -> tuple[S3ObjectStore, Stubber]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=make_client_config(Settings()),
    )
    return S3ObjectStore(client, "bkt"), Stubber(client)


def test_delete_many_retries_only_the_keys_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-key errors are retried for those keys alone; NoSuchKey counts as deleted.
    (Unit test with botocore's Stubber: real servers do not fail single keys on demand.)"""
    monkeypatch.setattr("mediakit.storage.s3.time.sleep", lambda s: None)
    store, stub = _stubbed_store()
    objects = lambda *keys: {"Objects": [{"Key": k} for k in keys], "Quiet": True}  # noqa: E731
    stub.add_response(
        "delete_objects",
        {"Errors": [{"Key": "b", "Code": "InternalError"}, {"Key": "c", "Code": "NoSuchKey"}]},
        {"Bucket": "bkt", "Delete": objects("a", "b", "c")},
    )
    stub.add_response("delete_objects", {}, {"Bucket": "bkt", "Delete": objects("b")})
    with stub:
        store.delete_many(["a", "b", "c"])
    stub.assert_no_pending_responses()


def test_delete_many_reports_keys_that_keep_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the last attempt the remaining failures are a StorageError naming a key."""
    monkeypatch.setattr("mediakit.storage.s3.time.sleep", lambda s: None)
    store, stub = _stubbed_store()
    for _ in range(_common.DELETE_ATTEMPTS):
        stub.add_response("delete_objects", {"Errors": [{"Key": "b", "Code": "AccessDenied"}]})
    with stub, pytest.raises(StorageError, match="'b': AccessDenied"):
        store.delete_many(["b"])


@pytest.mark.s3
@pytest.mark.anyio
async def test_async_store_opens_one_client_and_closes_it(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """The aioboto3 client is created on first use, reused by every call, and closed by
    ``aclose()``; the store works without ``async with`` too."""
    s3_client(moto_server.url).create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    store = AsyncS3ObjectStore.from_settings(s3_settings(moto_server.url, fresh_bucket_name))
    await store.put_bytes("a", b"1", content_type="text/plain")
    client = await store.client()
    await store.put_bytes("b", b"2", content_type="text/plain")
    assert [k async for k in store.list_keys()] == ["a", "b"]
    assert await store.client() is client
    await store.aclose()
    await store.aclose()  # idempotent
    # still usable after aclose (an app lifespan that runs twice): a new client, a new
    # ranged-read pool, closed again by the next aclose
    await store.put_bytes("c", b"3", content_type="text/plain")
    reopened = await store.client()
    assert reopened is not client
    assert [k async for k in store.list_keys()] == ["a", "b", "c"]
    opened = await store.open_range("c")  # the ranged reader's pool, opened again
    assert [c async for c in opened.chunks] == [b"3"]
    await store.aclose()
    # a passed-in client is its owner's to close
    async with store._open_client() as own:  # type: ignore[misc]
        borrowed = AsyncS3ObjectStore(bucket=fresh_bucket_name, client=own)
        await borrowed.aclose()
        assert (await borrowed.head("a")).size == 1


@pytest.mark.s3
def test_ensure_bucket_creates_once(moto_server: ServerHandle, fresh_bucket_name: str) -> None:
    """ensure_bucket creates a missing bucket and leaves an existing one alone."""
    store = S3ObjectStore.from_settings(s3_settings(moto_server.url, fresh_bucket_name))
    ensure_bucket(store)
    store.put_bytes("k", b"v", content_type="text/plain")
    ensure_bucket(store)
    assert list(store.list_keys()) == ["k"]


@pytest.mark.s3
def test_ensure_bucket_in_another_region(moto_server: ServerHandle, fresh_bucket_name: str) -> None:
    """Outside us-east-1 the bucket is created with its location constraint."""
    settings = s3_settings(moto_server.url, fresh_bucket_name, s3_region="eu-west-1")
    store = S3ObjectStore.from_settings(settings)
    ensure_bucket(store)
    loc = store.client.get_bucket_location(Bucket=fresh_bucket_name)
    assert loc["LocationConstraint"] == "eu-west-1"


def test_builders_choose_the_backend(tmp_path: Path) -> None:
    """MEDIAKIT_STORAGE picks s3, filesystem or memory, sync and async."""
    s3 = Settings(storage_backend="s3", s3_endpoint="http://127.0.0.1:9", assets_bucket="media")
    assert isinstance(build_object_store(s3), S3ObjectStore)
    assert isinstance(build_async_object_store(s3), AsyncS3ObjectStore)
    fs = Settings(storage_backend="filesystem", storage_root=str(tmp_path), assets_bucket="media")
    store = build_object_store(fs)
    assert isinstance(store, FilesystemObjectStore)
    assert store.base == tmp_path / "media"
    wrapped = build_async_object_store(fs)
    assert isinstance(wrapped, ThreadedAsyncStore)
    assert wrapped.bucket == "media"
    mem = Settings(storage_backend="memory")
    assert isinstance(build_object_store(mem), MemoryObjectStore)
    assert isinstance(build_async_object_store(mem), ThreadedAsyncStore)


def test_ensure_bucket_on_local_stores(tmp_path: Path) -> None:
    """The filesystem bucket directory is created; the memory store needs nothing."""
    fs = FilesystemObjectStore(tmp_path, "media")
    ensure_bucket(fs)
    assert (tmp_path / "media").is_dir()
    ensure_bucket(MemoryObjectStore())


def _md5_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


@pytest.mark.s3
@pytest.mark.anyio
async def test_delete_objects_carries_content_md5(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """DeleteObjects sends Content-MD5 (sync and async clients): botocore >= 1.36 sends only
    CRC32, which many S3-compatible services refuse with MissingContentMD5."""
    settings = s3_settings(moto_server.url, fresh_bucket_name)
    s3_client(moto_server.url).create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    sent: list[tuple[str | None, str]] = []

    def on_send(request: Any, **kw: Any) -> None:
        header = request.headers.get("Content-MD5")
        if isinstance(header, bytes):
            header = header.decode()
        sent.append((header, _md5_b64(bytes(request.body))))

    sync = S3ObjectStore.from_settings(settings)
    sync.client.meta.events.register("before-send.s3.DeleteObjects", on_send)
    sync.put_bytes("a", b"1", content_type="x")
    sync.delete_many(["a", "b"])
    async with AsyncS3ObjectStore.from_settings(settings) as astore:
        (await astore.client()).meta.events.register("before-send.s3.DeleteObjects", on_send)
        await astore.delete_many(["c"])
    assert len(sent) == 2
    assert all(header == expected for header, expected in sent), sent
