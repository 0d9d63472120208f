"""How the S3 servers the suite runs differ from AWS, and what mediakit does about it.

The ``test_record_*`` tests pin what each server answers (moto in server mode, nanio, Ceph
RGW 16.2), so the table in ``docs/howto/s3-providers.md`` stays what the suite observes: if
a server changes, a test fails and the table gets updated. The other tests prove mediakit's
handling of each difference against the server that has it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from types import SimpleNamespace
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mediakit.clock import ManualClock
from mediakit.errors import ObjectNotFound, StorageError
from mediakit.presign import build_signer
from mediakit.storage import AsyncS3ObjectStore, S3ObjectStore, translate_errors
from tests import servers
from tests.conftest import s3_client
from tests.servers import ServerHandle
from tests.storage.conftest import s3_settings

pytestmark = pytest.mark.s3

MiB = 1024 * 1024
SERVERS = [
    "moto_server",
    "nanio_server",
    pytest.param("ceph_rgw_server", marks=pytest.mark.ceph),
]


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> tuple[str, ServerHandle]:
    """Each S3 server of the suite: (short name, handle)."""
    name: str = request.param
    return name.split("_")[0].replace("ceph", "rgw"), request.getfixturevalue(name)


def _raw(url: str) -> Any:
    """A plain boto3 client without retries (a 500 is recorded, not retried)."""
    client: Any = s3_client(url)
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        config=client.meta.config.merge(Config(retries={"mode": "standard", "max_attempts": 1})),
    )


def _answer(call: Any) -> str:
    """``ok`` or the S3 error code and HTTP status of a boto3 call."""
    try:
        call()
    except ClientError as exc:
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return f"{exc.response['Error'].get('Code')} {status}"
    return "ok"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


# --- what the servers answer ----------------------------------------------------------------


def test_record_ranges_past_the_end(
    server: tuple[str, ServerHandle], fresh_bucket_name: str
) -> None:
    """A range starting at or past the end: 416 InvalidRange (AWS, moto, RGW) without a
    ``Content-Range``; nanio answers 400 InvalidArgument."""
    name, handle = server
    client: Any = s3_client(handle.url)
    client.create_bucket(Bucket=fresh_bucket_name)
    client.put_object(Bucket=fresh_bucket_name, Key="k", Body=b"hello world")
    url = build_signer(s3_settings(handle.url, fresh_bucket_name)).sign("k").url
    observed = {}
    for rng in ("bytes=11-", "bytes=100-200"):
        r = httpx.get(url, headers={"Range": rng})
        observed[rng] = (r.status_code, r.headers.get("content-range"))
    expected = {
        "moto": {"bytes=11-": (416, None), "bytes=100-200": (416, None)},
        "nanio": {"bytes=11-": (400, None), "bytes=100-200": (400, None)},
        "rgw": {"bytes=11-": (416, None), "bytes=100-200": (416, None)},
    }[name]
    assert observed == expected


def test_record_multipart_answers(server: tuple[str, ServerHandle], fresh_bucket_name: str) -> None:
    """CompleteMultipartUpload's ETag, and what an aborted upload's id answers."""
    name, handle = server
    client = _raw(handle.url)
    bucket = fresh_bucket_name
    client.create_bucket(Bucket=bucket)
    upload = client.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": client.upload_part(
                Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n, Body=body
            )["ETag"],
        }
        for n, body in ((1, os.urandom(5 * MiB)), (2, b"tail"))
    ]
    done = client.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    head_etag = client.head_object(Bucket=bucket, Key="mp")["ETag"]
    assert head_etag.endswith('-2"')

    aborted = client.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    part = client.upload_part(Bucket=bucket, Key="ab", UploadId=aborted, PartNumber=1, Body=b"x")
    client.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=aborted)
    ids = {"Bucket": bucket, "Key": "ab", "UploadId": aborted}
    observed = {
        "complete etag": "empty" if not done.get("ETag") else "= HEAD's",
        "list_parts after abort": _answer(lambda: client.list_parts(**ids)),
        "upload_part after abort": _answer(
            lambda: client.upload_part(**ids, PartNumber=2, Body=b"y")
        ),
        "complete after abort": _answer(
            lambda: client.complete_multipart_upload(
                **ids,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            )
        ),
        "abort after abort": _answer(lambda: client.abort_multipart_upload(**ids)),
        "listed after abort": any(
            u["UploadId"] == aborted
            for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        ),
    }
    if done.get("ETag"):
        assert done["ETag"] == head_etag
    expected = {
        "moto": {
            "complete etag": "= HEAD's",
            "list_parts after abort": "NoSuchUpload 404",
            "upload_part after abort": "500 500",
            "complete after abort": "500 500",
            "abort after abort": "NoSuchUpload 404",
            "listed after abort": False,
        },
        "nanio": {
            "complete etag": "= HEAD's",
            "list_parts after abort": "NoSuchUpload 404",
            "upload_part after abort": "NoSuchUpload 404",
            "complete after abort": "400 400",
            "abort after abort": "NoSuchUpload 404",
            "listed after abort": False,
        },
        "rgw": {
            "complete etag": "empty",
            "list_parts after abort": "NoSuchKey 404",
            "upload_part after abort": "NoSuchUpload 404",
            "complete after abort": "InternalError 500",
            "abort after abort": "NoSuchUpload 404",
            "listed after abort": False,
        },
    }[name]
    assert observed == expected


def test_record_checksum_answers(server: tuple[str, ServerHandle], fresh_bucket_name: str) -> None:
    """Whether wrong checksums are refused and CRC32s echoed, and whether DeleteObjects
    needs Content-MD5 (botocore >= 1.36 sends only a CRC32; mediakit adds the MD5)."""
    name, handle = server
    client = _raw(handle.url)
    bucket = fresh_bucket_name
    client.create_bucket(Bucket=bucket)
    wrong_sha = _b64(hashlib.sha256(b"other").digest())
    wrong_md5 = _b64(hashlib.md5(b"other").digest())
    crc = client.put_object(Bucket=bucket, Key="c", Body=b"abc", ChecksumAlgorithm="CRC32")
    observed = {
        "wrong sha256": _answer(
            lambda: client.put_object(Bucket=bucket, Key="s", Body=b"abc", ChecksumSHA256=wrong_sha)
        ),
        "wrong content-md5": _answer(
            lambda: client.put_object(Bucket=bucket, Key="m", Body=b"abc", ContentMD5=wrong_md5)
        ),
        "crc32 echoed": "ChecksumCRC32" in crc,
        # the plain client sends no Content-MD5 on DeleteObjects
        "delete_objects without md5": _answer(
            lambda: client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}]})
        ),
    }
    expected = {
        "moto": {
            "wrong sha256": "ok",
            "wrong content-md5": "ok",
            "crc32 echoed": True,
            "delete_objects without md5": "ok",
        },
        "nanio": {
            "wrong sha256": "ok",
            "wrong content-md5": "BadDigest 400",
            "crc32 echoed": False,
            "delete_objects without md5": "ok",
        },
        "rgw": {
            "wrong sha256": "ok",
            "wrong content-md5": "BadDigest 400",
            "crc32 echoed": False,
            "delete_objects without md5": "ok",
        },
    }[name]
    assert observed == expected


def test_record_presigned_url_answers(
    server: tuple[str, ServerHandle], fresh_bucket_name: str
) -> None:
    """mediakit's presigned URLs: response overrides, a tampered key, an expired URL."""
    name, handle = server
    client: Any = s3_client(handle.url)
    client.create_bucket(Bucket=fresh_bucket_name)
    client.put_object(Bucket=fresh_bucket_name, Key="a", Body=b"A", ContentType="text/plain")
    client.put_object(Bucket=fresh_bucket_name, Key="b", Body=b"B", ContentType="text/plain")
    settings = s3_settings(handle.url, fresh_bucket_name)
    disposition = 'attachment; filename="a.bin"'
    url = build_signer(settings).sign("a", content_type="audio/mpeg", disposition=disposition).url
    r = httpx.get(url)
    assert r.content == b"A"
    past = ManualClock(time.time() - 2 * settings.presign_ttl)
    expired = build_signer(settings, past).sign("a").url
    observed = {
        "overrides": (r.headers["content-type"], r.headers.get("content-disposition")),
        "tampered": httpx.get(url.replace("/a?", "/b?")).status_code,
        "expired": httpx.get(expired).status_code,
    }
    expected = {
        "moto": {"overrides": ("audio/mpeg", disposition), "tampered": 200, "expired": 200},
        "nanio": {"overrides": ("text/plain", None), "tampered": 403, "expired": 403},
        "rgw": {"overrides": ("audio/mpeg", disposition), "tampered": 403, "expired": 403},
    }[name]
    assert observed == expected


@pytest.mark.ceph
def test_record_rgw_refuses_aws_chunked_uploads_over_https(
    ceph_rgw_server: ServerHandle, fresh_bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``when_supported`` botocore streams PutObject/UploadPart as aws-chunked with a
    trailing checksum over HTTPS (over HTTP it sends a header); RGW answers 411."""
    monkeypatch.setenv("AWS_CA_BUNDLE", ceph_rgw_server.extra["ca_file"])
    s3_client(ceph_rgw_server.url).create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]

    def put(url: str, mode: str) -> str:
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation=mode,
                retries={"max_attempts": 1},
            ),
        )
        return _answer(lambda: client.put_object(Bucket=fresh_bucket_name, Key="k", Body=b"x"))

    https = ceph_rgw_server.extra["https_url"]
    assert put(https, "when_supported") == "MissingContentLength 411"
    assert put(https, "when_required") == "ok"
    assert put(ceph_rgw_server.url, "when_supported") == "ok"


def test_record_moto_accepts_aws_chunked_uploads_over_https(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto over HTTPS decodes botocore's aws-chunked uploads and echoes their CRC32."""
    with servers.running(lambda: servers.start_moto(tls=True)) as moto_tls:
        monkeypatch.setenv("AWS_CA_BUNDLE", moto_tls.extra["ca_file"])
        client = boto3.client(
            "s3",
            endpoint_url=moto_tls.url,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_supported",
                retries={"max_attempts": 1},
            ),
        )
        client.create_bucket(Bucket="tls")
        sent: list[Any] = []
        client.meta.events.register(
            "before-send.s3.PutObject",
            lambda request, **kw: sent.append(request.headers.get("Content-Encoding")),
        )
        put = client.put_object(Bucket="tls", Key="k", Body=b"hello")
        assert sent == [b"aws-chunked"]
        assert "ChecksumCRC32" in put
        assert client.get_object(Bucket="tls", Key="k")["Body"].read() == b"hello"


# --- what mediakit does about it ------------------------------------------------------------


def test_an_aborted_upload_is_not_found_whatever_the_server_answers(
    server: tuple[str, ServerHandle], fresh_bucket_name: str
) -> None:
    """ListParts of an aborted upload is NoSuchUpload (moto, nanio) or NoSuchKey (RGW); a call
    about an upload translates both to ObjectNotFound naming the upload."""
    _name, handle = server
    store = S3ObjectStore.from_settings(s3_settings(handle.url, fresh_bucket_name))
    store.ensure_bucket()
    upload = store.client.create_multipart_upload(Bucket=fresh_bucket_name, Key="k")["UploadId"]
    store.abort_multipart_upload("k", upload)
    store.abort_multipart_upload("k", upload)  # gone already: not an error
    with (
        pytest.raises(ObjectNotFound, match=f"No such multipart upload '{upload}'"),
        translate_errors("k", bucket=fresh_bucket_name, upload_id=upload),
    ):
        store.client.list_parts(Bucket=fresh_bucket_name, Key="k", UploadId=upload)


@pytest.fixture
def rgw_https(
    ceph_rgw_server: ServerHandle, fresh_bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """RGW's HTTPS endpoint (botocore trusts its certificate), with a fresh bucket."""
    monkeypatch.setenv("AWS_CA_BUNDLE", ceph_rgw_server.extra["ca_file"])
    s3_client(ceph_rgw_server.url).create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    return ceph_rgw_server.extra["https_url"]


@pytest.mark.ceph
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_default_checksum_mode_uploads_to_rgw_over_https(
    rgw_https: str, fresh_bucket_name: str
) -> None:
    """The default ``when_required`` sends no aws-chunked body: single and multipart uploads
    reach RGW over HTTPS (sync and async), with the completed upload's real ETag."""
    settings = s3_settings(rgw_https, fresh_bucket_name)
    data = os.urandom(11 * MiB)
    chunks = [data[i : i + MiB] for i in range(0, len(data), MiB)]
    sync = S3ObjectStore.from_settings(settings)
    info = sync.put_stream("sync", iter(chunks), content_type="audio/flac")
    assert info.etag == sync.head("sync").etag != '""'
    sync.put_bytes("small", b"x", content_type="text/plain")

    async def agen() -> Any:
        for chunk in chunks:
            yield chunk

    async with AsyncS3ObjectStore.from_settings(settings) as astore:
        ainfo = await astore.put_stream("async", agen(), content_type="audio/flac")
        assert ainfo.etag == (await astore.head("async")).etag == info.etag


@pytest.mark.ceph
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_when_supported_over_https_on_rgw_is_an_error_naming_the_setting(
    rgw_https: str, fresh_bucket_name: str
) -> None:
    """RGW's 411 for aws-chunked uploads becomes a StorageError saying what to set, and the
    failed multipart upload leaves nothing behind."""
    settings = s3_settings(rgw_https, fresh_bucket_name, s3_checksum_mode="when_supported")
    sync = S3ObjectStore.from_settings(settings)
    with pytest.raises(StorageError, match="MEDIA_S3_CHECKSUM_MODE=when_required"):
        sync.put_bytes("k", b"x", content_type="text/plain")
    with pytest.raises(StorageError, match="411"):
        sync.put_stream("big", iter([os.urandom(6 * MiB)]), content_type="audio/flac")
    async with AsyncS3ObjectStore.from_settings(settings) as astore:
        with pytest.raises(StorageError, match="MEDIA_S3_CHECKSUM_MODE=when_required"):
            await astore.put_bytes("k", b"x", content_type="text/plain")
    assert sync.list_multipart_uploads() == []
    assert list(sync.list_keys()) == []


def _blank_complete_etag(parsed: dict[str, Any], **kwargs: Any) -> None:
    """An after-call hook making CompleteMultipartUpload answer as RGW does (``<ETag/>``)."""
    parsed["ETag"] = ""


def _failing_head(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """A before-call hook answering every HeadObject with a 500."""
    error = {"Error": {"Code": "InternalError", "Message": "injected"}}
    return SimpleNamespace(status_code=500, headers={}), {
        **error,
        "ResponseMetadata": {"HTTPStatusCode": 500},
    }


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_empty_complete_etag_is_read_back_and_a_failed_read_stores_nothing(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """On moto, made to answer CompleteMultipartUpload like RGW: the stores HEAD for the real
    ETag; when that HEAD fails, the object is deleted and the error raised (sync, async)."""
    settings = s3_settings(moto_server.url, fresh_bucket_name)
    data = os.urandom(6 * MiB)
    sync = S3ObjectStore.from_settings(settings)
    sync.ensure_bucket()
    events = sync.client.meta.events
    events.register("after-call.s3.CompleteMultipartUpload", _blank_complete_etag)
    info = sync.put_stream("k", iter([data]), content_type="audio/flac")
    assert info.etag == sync.head("k").etag
    assert info.etag.endswith('-2"')
    events.register("before-call.s3.HeadObject", _failing_head)
    with pytest.raises(StorageError):
        sync.put_stream("lost", iter([data]), content_type="audio/flac")
    events.unregister("before-call.s3.HeadObject", _failing_head)
    assert list(sync.list_keys()) == ["k"]

    async with AsyncS3ObjectStore.from_settings(settings) as astore:
        aevents = (await astore.client()).meta.events
        aevents.register("after-call.s3.CompleteMultipartUpload", _blank_complete_etag)

        async def once() -> Any:
            yield data

        ainfo = await astore.put_stream("a", once(), content_type="audio/flac")
        assert ainfo.etag == (await astore.head("a")).etag
        aevents.register("before-call.s3.HeadObject", _failing_head)
        with pytest.raises(StorageError):
            await astore.put_stream("alost", once(), content_type="audio/flac")
    assert sorted(sync.list_keys()) == ["a", "k"]
    assert sync.list_multipart_uploads() == []
