"""One harness for the object-store contract suite.

``store`` is parametrized over every implementation: boto3 + moto server, aioboto3 + moto
server, boto3 + nanio (checks SigV4 signatures), boto3 and aioboto3 + Ceph RGW (a production
S3 implementation), the filesystem store, the memory store and the filesystem store behind
the thread bridge. Tests are async (anyio) and talk to a
:class:`Harness`, which awaits async stores and calls sync ones directly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import boto3
import pytest
from botocore.config import Config

from mediakit.settings import Settings
from mediakit.storage import (
    AsyncObjectStore,
    AsyncS3ObjectStore,
    FilesystemObjectStore,
    MemoryObjectStore,
    ObjectStore,
    S3ObjectStore,
    ThreadedAsyncStore,
    make_client_config,
)
from mediakit.storage._common import client_kwargs
from mediakit.storage.s3_async import ClientFactory, client_factory
from mediakit.testing import StoreHarness
from tests import servers
from tests.conftest import s3_client
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

MiB = 1024 * 1024
PART = 5 * MiB

S3_SERVERS = {"moto": "moto_server", "nanio": "nanio_server", "rgw": "ceph_rgw_server"}
"""The S3 servers of the backend kinds (``boto3-rgw``...): name -> session fixture."""
S3_BACKENDS = [
    pytest.param("boto3-moto", marks=pytest.mark.s3),
    pytest.param("aioboto3-moto", marks=pytest.mark.s3),
    pytest.param("boto3-nanio", marks=pytest.mark.s3),
    pytest.param("boto3-rgw", marks=[pytest.mark.s3, pytest.mark.ceph]),
    pytest.param("aioboto3-rgw", marks=[pytest.mark.s3, pytest.mark.ceph]),
]
DURABLE_BACKENDS = [*S3_BACKENDS, "filesystem", "threaded-filesystem"]
"""Stores with buckets, bounded-memory writes and unfinished uploads (all but memory)."""
BACKENDS = [*DURABLE_BACKENDS, "memory"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (aioboto3 needs it)."""
    return "asyncio"


def s3_settings(url: str, bucket: str, **kw: Any) -> Settings:
    """Settings for a test S3 server."""
    return Settings(
        storage_backend="s3",
        s3_endpoint=url,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        assets_bucket=bucket,
        multipart_part_size=PART,
        **kw,
    )


@attrs.define
class Harness(StoreHarness):
    """The contract's harness (:class:`mediakit.testing.StoreHarness`) plus what this suite
    knows of its backends: the S3 requests and response bodies, open file handles, and how
    to leave an unfinished upload behind."""

    raw: Any = None
    """A plain boto3 client on the same server (S3 backends), for set-up behind the store."""
    tmp: Path | None = None

    @property
    def is_s3(self) -> bool:
        return self.server is not None

    @property
    def server(self) -> str | None:
        """The S3 server's name (``moto``, ``nanio``, ``rgw``), None for local stores."""
        name = self.kind.rpartition("-")[2]
        return name if self.kind.startswith(("boto3-", "aioboto3-")) else None

    def open_resources(self) -> int:
        """Response bodies / file handles the store opened and has not closed."""
        if self.is_s3:
            return sum(1 for b in self.bodies if not _closed(b))
        if self.tmp is not None:
            return sum(
                1
                for fd in os.listdir("/proc/self/fd")
                if _readlink(f"/proc/self/fd/{fd}").startswith(str(self.tmp))
            )
        return 0

    def simulate_crashed_upload(self, key: str) -> str:
        """Leave an unfinished upload behind, as a crashed process would; its id."""
        if self.is_s3:
            return str(self.raw.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"])
        if self.tmp is not None:
            tmp = self.tmp / self.bucket / ".mediakit" / "tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            upload_id = "ab" * 16
            (tmp / f"{upload_id}.json").write_text(f'{{"key": "{key}"}}')
            (tmp / f"{upload_id}.part").write_bytes(b"half")
            return upload_id
        raise AssertionError("the memory store has no multipart uploads")


def _closed(body: Any) -> bool:
    raw = getattr(body, "_raw_stream", None)  # botocore StreamingBody -> urllib3 response
    if raw is not None:
        return bool(raw.closed)
    return bool(body.closed)  # aiobotocore StreamingBody proxies aiohttp's ClientResponse


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@attrs.define
class Recorder:
    """Records, for the harness in use, the bodies and requests of one S3 client."""

    harness: Harness | None = None

    def on_get(self, parsed: dict[str, Any], **kw: Any) -> None:
        if self.harness is not None and "Body" in parsed:
            self.harness.bodies.append(parsed["Body"])

    def on_call(self, params: dict[str, Any], model: Any, **kw: Any) -> None:
        if self.harness is None:
            return
        # keep the body's size, never the body (the memory test would count it)
        kept = {k: v for k, v in params.items() if k != "Body"}
        if "Body" in params:
            body = params["Body"]
            if hasattr(body, "seek"):  # measure by seeking: getbuffer() would copy it
                pos = body.tell()
                kept["Body"] = body.seek(0, os.SEEK_END)
                body.seek(pos)
            else:
                kept["Body"] = len(body)
        self.harness.calls.append((model.name, kept))

    def attach(self, events: Any) -> Recorder:
        events.register("after-call.s3.GetObject", self.on_get)
        events.register("before-parameter-build.s3", self.on_call)
        return self


_CLIENTS: dict[str, tuple[Any, Any, Recorder]] = {}
"""Per server URL: a raw client, the store's client and its recorder (clients are slow to
create and thread-safe, so the session shares them; each test has its own bucket)."""


def _clients(url: str) -> tuple[Any, Any, Recorder]:
    if url not in _CLIENTS:
        client = S3ObjectStore.from_settings(s3_settings(url, "unused")).client
        _CLIENTS[url] = (s3_client(url), client, Recorder().attach(client.meta.events))
    return _CLIENTS[url]


_ASYNC_FACTORIES: dict[str, ClientFactory] = {}
"""Per server URL: the aioboto3 client factory (one ``aioboto3.Session``). Each test still
opens and closes its own client on its own event loop, but a shared session loads the S3
service model once, not once per test (which made the aioboto3 kinds ~3x slower than boto3)."""


def _async_factory(url: str) -> ClientFactory:
    if url not in _ASYNC_FACTORIES:
        _ASYNC_FACTORIES[url] = client_factory(s3_settings(url, "unused"))
    return _ASYNC_FACTORIES[url]


@contextlib.contextmanager
def _boto3_harness(kind: str, server: ServerHandle, bucket: str) -> Iterator[Harness]:
    raw, client, recorder = _clients(server.url)
    raw.create_bucket(Bucket=bucket)
    nanio = kind == "boto3-nanio"  # refuses ranges past the end and prefix deletes (its bugs)
    h = Harness(
        S3ObjectStore(client, bucket, PART),
        kind,
        part_size=PART,
        clamps_ranges=not nanio,
        deletes_prefixes=not nanio,
        raw=raw,
    )
    recorder.harness = h
    try:
        yield h
    finally:
        recorder.harness = None


def _empty_bucket(raw: Any, bucket: str) -> None:
    """Delete what a test left in ``bucket``: RGW's OSD keeps objects in RAM (memstore), so
    the session's RGW would otherwise grow by every test's data."""
    for page in raw.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            raw.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    for upload in raw.list_multipart_uploads(Bucket=bucket).get("Uploads", ()):
        raw.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


@contextlib.asynccontextmanager
async def open_harness(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, bucket: str
) -> AsyncIterator[Harness]:
    """A harness on a fresh, empty bucket of backend ``kind``."""
    client_lib, _, server_name = kind.partition("-")
    if client_lib == "boto3":
        server: ServerHandle = request.getfixturevalue(S3_SERVERS[server_name])
        with _boto3_harness(kind, server, bucket) as h:
            yield h
        if server_name == "rgw":
            _empty_bucket(h.raw, bucket)
    elif client_lib == "aioboto3":
        server = request.getfixturevalue(S3_SERVERS[server_name])
        raw = _clients(server.url)[0]
        raw.create_bucket(Bucket=bucket)
        astore = AsyncS3ObjectStore(bucket, PART, open_client=_async_factory(server.url))
        async with astore:
            h = Harness(astore, kind, part_size=PART, raw=raw)
            Recorder(h).attach((await astore.client()).meta.events)
            yield h
        if server_name == "rgw":
            _empty_bucket(raw, bucket)
    elif kind == "memory":
        yield Harness(MemoryObjectStore(bucket), kind)
    else:
        fs = FilesystemObjectStore(tmp_path, bucket)
        fs.ensure_bucket()
        wrapped: ObjectStore | AsyncObjectStore = (
            ThreadedAsyncStore(fs) if kind.startswith("threaded") else fs
        )
        yield Harness(wrapped, kind, tmp=tmp_path)


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, fresh_bucket_name: str
) -> AsyncIterator[Harness]:
    """Every object-store implementation, on a fresh, empty bucket."""
    async with open_harness(request.param, request, tmp_path, fresh_bucket_name) as h:
        yield h


@pytest.fixture(params=DURABLE_BACKENDS)
async def durable_store(
    request: pytest.FixtureRequest, tmp_path: Path, fresh_bucket_name: str
) -> AsyncIterator[Harness]:
    """The stores with buckets, bounded-memory writes and unfinished uploads (not memory)."""
    async with open_harness(request.param, request, tmp_path, fresh_bucket_name) as h:
        yield h


@pytest.fixture(params=S3_BACKENDS)
async def s3_store(
    request: pytest.FixtureRequest, tmp_path: Path, fresh_bucket_name: str
) -> AsyncIterator[Harness]:
    """The S3 stores (boto3 and aioboto3 on moto and Ceph RGW, boto3 on nanio)."""
    async with open_harness(request.param, request, tmp_path, fresh_bucket_name) as h:
        yield h


def dead_endpoint() -> str:
    """An http URL on which nothing listens."""
    return f"http://127.0.0.1:{servers.free_port()}"


def one_shot_client(settings: Settings) -> Any:
    """A boto3 client like mediakit's, but without retries (keeps failure tests fast)."""
    config = make_client_config(settings).merge(
        Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2)
    )
    return boto3.client("s3", config=config, **client_kwargs(settings))
