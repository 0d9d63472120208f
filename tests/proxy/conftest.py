"""Real servers for the proxy tests: uvicorn (ASGI) and wsgiref (WSGI), each over the memory
store and over S3 (moto server), and uvicorn over Ceph RGW, with probed stores for counting
streams and faults."""

from __future__ import annotations

import random
from collections.abc import Iterator

import attrs
import pytest

from mediakit.settings import Settings
from mediakit.storage import (
    AsyncS3ObjectStore,
    MemoryObjectStore,
    S3ObjectStore,
    ThreadedAsyncStore,
)
from tests.conftest import s3_client
from tests.proxy.apps import (
    OneTripAsyncStore,
    OneTripStore,
    Probe,
    ProbedAsyncStore,
    ProbedStore,
    Running,
    asgi_app,
    serve_asgi,
    serve_wsgi,
    wsgi_app,
)
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

MiB = 1024 * 1024
TRACK = "music/set-1/track-1/high.mp3"
BIG = "music/set-1/track-2/original"
FAULTY = {
    "music/faulty/head.mp3": "head",
    "music/faulty/first.mp3": "first",
    "music/faulty/mid.mp3": "mid",
    "music/faulty/short.mp3": "short",
    BIG: "slow",
}


def _payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


OBJECTS = {
    TRACK: _payload(MiB + 12_345, 1),
    BIG: _payload(24 * MiB, 2),
    **{key: _payload(MiB, 3) for key in FAULTY if key != BIG},
}


@attrs.define
class Target:
    """A running proxy server and what it serves."""

    kind: str
    url: str
    probe: Probe
    objects: dict[str, bytes]

    def media(self, key: str) -> str:
        return f"{self.url}/media/{key}"


def _seed(store: MemoryObjectStore | S3ObjectStore) -> None:
    for key, data in OBJECTS.items():
        store.put_bytes(key, data, content_type="audio/mpeg")


def _bucket_settings(server: ServerHandle) -> Settings:
    """A bucket on ``server`` holding the test objects."""
    bucket = "mk-proxy-tests"
    s3_client(server.url).create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    settings = Settings(
        storage_backend="s3",
        s3_endpoint=server.url,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        assets_bucket=bucket,
    )
    _seed(S3ObjectStore.from_settings(settings))
    return settings


@pytest.fixture(scope="session")
def proxy_s3_settings(moto_server: ServerHandle) -> Settings:
    """A bucket on the moto server holding the test objects."""
    return _bucket_settings(moto_server)


@pytest.fixture(scope="session")
def proxy_rgw_settings(ceph_rgw_server: ServerHandle) -> Settings:
    """A bucket on Ceph RGW holding the test objects."""
    return _bucket_settings(ceph_rgw_server)


def _start(kind: str, request: pytest.FixtureRequest, probe: Probe) -> Running:
    server, backend, *mode = kind.split("-")
    head_first = mode == ["headfirst"]
    wrap_async = ProbedAsyncStore if head_first else OneTripAsyncStore
    wrap = ProbedStore if head_first else OneTripStore
    if backend == "memory":
        memory = MemoryObjectStore("mediakit")
        _seed(memory)
        if server == "asgi":
            return serve_asgi(asgi_app(wrap_async(ThreadedAsyncStore(memory), probe)))
        return serve_wsgi(wsgi_app(wrap(memory, probe)))
    settings: Settings = request.getfixturevalue(f"proxy_{backend}_settings")
    if server == "asgi":
        return serve_asgi(asgi_app(wrap_async(AsyncS3ObjectStore.from_settings(settings), probe)))
    return serve_wsgi(wsgi_app(wrap(S3ObjectStore.from_settings(settings), probe)))


_running: dict[str, tuple[Running, Probe]] = {}


@pytest.fixture(scope="session")
def _proxy_servers() -> Iterator[dict[str, tuple[Running, Probe]]]:
    yield _running
    for running, _probe in _running.values():
        running.stop()
    _running.clear()


KINDS = [
    "asgi-memory",
    "asgi-memory-headfirst",
    pytest.param("asgi-s3", marks=pytest.mark.s3),
    "wsgi-memory",
    "wsgi-memory-headfirst",
    pytest.param("wsgi-s3", marks=pytest.mark.s3),
    pytest.param("asgi-rgw", marks=[pytest.mark.s3, pytest.mark.ceph]),
]
"""Server, store (``s3`` is moto, ``rgw`` Ceph RGW), and ``headfirst`` for a store without
``open_range`` (HEAD, then GET); the others answer plain and one-range GETs with one store
request."""


@pytest.fixture(params=KINDS)
def target(
    request: pytest.FixtureRequest, _proxy_servers: dict[str, tuple[Running, Probe]]
) -> Target:
    """One of the real servers (started once per session), its probe reset."""
    kind: str = request.param
    if kind not in _proxy_servers:
        probe = Probe()
        _proxy_servers[kind] = (_start(kind, request, probe), probe)
    running, probe = _proxy_servers[kind]
    probe.reset()
    probe.faults.update(FAULTY)
    return Target(kind, running.url, probe, OBJECTS)
