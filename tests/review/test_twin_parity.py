"""Sync and async twins expose the same API, so one cannot drift from the other silently.

For each twin pair: the same public names, the same parameters (names, kinds, defaults;
annotations differ by design: ``Iterable`` vs ``AsyncIterable``), and on the async side
every method is awaitable (a coroutine function, or an async generator function where
the sync side returns an iterator) while no sync method is. A difference that is meant
is written down in the pair's allowlist, with the reason next to it; anything else
fails here, naming the method and what differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pytest

from mediakit import proxy, storage
from mediakit.presign import CachedSigner
from mediakit.presign._cache import AsyncUrlSigner
from mediakit.presign._core import UrlSigner
from mediakit.service import AsyncMediaService, MediaKit, MediaService
from mediakit.service._serving_async import AsyncServing
from mediakit.service._serving_sync import SyncServing
from mediakit.storage import (
    AsyncObjectStore,
    AsyncS3ObjectStore,
    FilesystemObjectStore,
    MemoryObjectStore,
    ObjectStore,
    S3ObjectStore,
    ThreadedAsyncStore,
)
from mediakit.uploads import ingest, multipart
from mediakit.uploads.limiter import ConcurrencyLimiter, InProcessLimiter, RedisLimiter

# --------------------------------------------------------------------------- helpers


def _params(fn: Callable[..., Any]) -> list[tuple[str, str, Any]]:
    """``(name, kind, default)`` of each parameter: what callers of either twin rely on."""
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(fn).parameters.values()]


def _is_async(fn: Callable[..., Any]) -> bool:
    fn = inspect.unwrap(fn)
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


def _public(cls: type) -> dict[str, Callable[..., Any]]:
    """The public callables a class defines or inherits (not ``object``'s or attrs')."""
    found: dict[str, Callable[..., Any]] = {}
    for name in dir(cls):
        if name.startswith("_") or name.startswith("__attrs"):
            continue
        value = inspect.getattr_static(cls, name)
        if isinstance(value, classmethod | staticmethod):
            found[name] = getattr(cls, name)
        elif inspect.isfunction(value):
            found[name] = value
    return found


def assert_same_call(sync_fn: Callable[..., Any], async_fn: Callable[..., Any], what: str) -> None:
    """One twin method: same parameters; the async one awaitable, the sync one not."""
    assert _params(sync_fn) == _params(async_fn), f"{what}: parameters differ"
    assert not _is_async(sync_fn), f"{what}: the sync twin is async"
    assert _is_async(async_fn), f"{what}: the async twin is not awaitable"


def assert_twins(
    sync_cls: type,
    async_cls: type,
    *,
    renamed: Mapping[str, str] | None = None,
    sync_only: Iterable[str] = (),
    async_only: Iterable[str] = (),
    plain_on_both: Iterable[str] = (),
    async_iterator_stubs: Iterable[str] = (),
) -> None:
    """Every public method of ``sync_cls`` has its twin on ``async_cls`` and back.

    ``renamed``: sync name -> async name (``close`` -> ``aclose``). ``sync_only`` /
    ``async_only``: meant to exist on one side. ``plain_on_both``: not I/O, the same
    plain callable on both sides (``from_settings``). ``async_iterator_stubs``: protocol
    methods declared as plain ``def`` returning an ``AsyncIterator`` (a stub cannot be an
    async generator); only their parameters are compared.
    """
    renamed = renamed or {}
    sync, asyn = _public(sync_cls), _public(async_cls)
    expected_async = {renamed.get(n, n) for n in sync} - set(sync_only)
    missing = sorted(expected_async - set(asyn) - set(async_only))
    extra = sorted(set(asyn) - expected_async - set(async_only))
    assert not missing, f"{async_cls.__name__} lacks {missing} of {sync_cls.__name__}"
    assert not extra, f"{async_cls.__name__} has {extra} that {sync_cls.__name__} lacks"
    for name in sorted(set(sync) - set(sync_only)):
        twin = renamed.get(name, name)
        what = f"{sync_cls.__name__}.{name} / {async_cls.__name__}.{twin}"
        if name in async_iterator_stubs:
            assert _params(sync[name]) == _params(asyn[twin]), f"{what}: parameters differ"
        elif name in plain_on_both:
            assert _params(sync[name]) == _params(asyn[twin]), f"{what}: parameters differ"
            assert not _is_async(sync[name])
            assert not _is_async(asyn[twin])
        else:
            assert_same_call(sync[name], asyn[twin], what)


def _fields(cls: type) -> list[tuple[str, Any, bool]]:
    return [(f.alias or f.name, f.default, f.init) for f in attrs.fields(cls)]


# --------------------------------------------------------------------------- service


def test_media_service_twins() -> None:
    """MediaService / AsyncMediaService: one method per endpoint, same parameters."""
    assert_twins(MediaService, AsyncMediaService)


def test_media_service_constructors_match() -> None:
    """Both services are built from the same fields, with the same defaults (the async
    one also holds, from ``service/_hops.py``, the runner of its database steps, which
    decides whether reads may run on the event loop, and a signer it can await; the sync
    one calls the steps and the signer)."""
    only_async = {"db", "asigner"}  # attrs aliases of _db and _asigner
    assert _fields(MediaService) == [
        f for f in _fields(AsyncMediaService) if f[0] not in only_async
    ]


def test_serving_twins() -> None:
    """SyncServing.serve / AsyncServing.serve, and the same fields."""
    assert_twins(SyncServing, AsyncServing)
    assert _fields(SyncServing) == _fields(AsyncServing)


def test_media_kit_close_twins() -> None:
    """MediaKit.close / aclose take nothing."""
    assert_same_call(MediaKit.close, MediaKit.aclose, "MediaKit.close / aclose")


# --------------------------------------------------------------------------- storage


def test_object_store_protocol_twins() -> None:
    """The two store protocols name the same operations with the same parameters."""
    assert_twins(ObjectStore, AsyncObjectStore, async_iterator_stubs={"get_range", "list_keys"})


def test_s3_store_twins() -> None:
    """S3ObjectStore / AsyncS3ObjectStore."""
    assert_twins(
        S3ObjectStore,
        AsyncS3ObjectStore,
        # creating the bucket is for embedded and development setups, which run the sync
        # store (mediakit.storage.ensure_bucket takes an ObjectStore)
        sync_only={"ensure_bucket"},
        # both close their ranged-read pool (urllib3 / aiohttp); the async one also the
        # aioboto3 client it opened lazily (an async context); a boto3 client needs none
        renamed={"close": "aclose"},
        # `warm` opens that client (and the aiohttp sessions) at start, so no request pays it
        async_only={"client", "warm"},
        # building the part transport is not I/O: the same plain call on both
        plain_on_both={"from_settings", "fast_part_transport"},
    )


@pytest.mark.parametrize("sync_store", [S3ObjectStore, MemoryObjectStore, FilesystemObjectStore])
def test_stores_implement_every_protocol_method(sync_store: type) -> None:
    """Each concrete store has the protocol's parameters (defaults included)."""
    for name, proto in _public(ObjectStore).items():
        assert _params(getattr(sync_store, name)) == _params(proto), f"{sync_store.__name__}.{name}"
    for name, proto in _public(AsyncObjectStore).items():
        for async_store in (AsyncS3ObjectStore, ThreadedAsyncStore):
            method = getattr(async_store, name)
            assert _params(method) == _params(proto), f"{async_store.__name__}.{name}"
            assert _is_async(method), f"{async_store.__name__}.{name} is not awaitable"


def test_store_builders_match() -> None:
    """build_object_store / build_async_object_store take the same settings."""
    assert _params(storage.build_object_store) == _params(storage.build_async_object_store)


# --------------------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("sync_fn", "async_fn"),
    [
        (ingest.ingest_images, ingest.aingest_images),
        (ingest.ingest_tracks, ingest.aingest_tracks),
        (ingest._store_files, ingest._astore_files),
        (ingest._cleanup, ingest._acleanup),
    ],
    ids=lambda fn: fn.__name__,
)
def test_ingest_twins(sync_fn: Callable[..., Any], async_fn: Callable[..., Any]) -> None:
    """The ingest functions (and their cleanup) take the same arguments."""
    assert_same_call(sync_fn, async_fn, f"{sync_fn.__name__} / {async_fn.__name__}")


def test_uploaded_file_protocol_twins() -> None:
    """UploadedFile / AsyncUploadedFile: ``chunks()`` is an async iterator, not awaited."""
    assert_same_call(ingest.UploadedFile.read_head, ingest.AsyncUploadedFile.read_head, "read_head")
    # a protocol stub cannot be an async generator; its result is an AsyncIterator
    assert _params(ingest.UploadedFile.chunks) == _params(ingest.AsyncUploadedFile.chunks)


def test_multipart_reader_twins() -> None:
    """MultipartReader / AsyncMultipartReader: same constructor, same iteration protocol."""
    sync_cls, async_cls = multipart.MultipartReader, multipart.AsyncMultipartReader
    assert _params(sync_cls.__init__) == _params(async_cls.__init__)
    assert_twins(sync_cls, async_cls)
    assert_same_call(sync_cls._next_event, async_cls._next_event, "_next_event")
    assert _params(sync_cls.__iter__) == _params(async_cls.__aiter__)
    assert inspect.isasyncgenfunction(async_cls.__aiter__)


def test_file_part_twins() -> None:
    """FilePart / AsyncFilePart: read_head, chunks and the drain between parts."""
    assert_twins(multipart.FilePart, multipart.AsyncFilePart)
    assert_same_call(multipart.FilePart._drain, multipart.AsyncFilePart._drain, "_drain")
    assert_same_call(
        multipart.FilePart._next_data, multipart.AsyncFilePart._next_data, "_next_data"
    )


def test_limiter_twins() -> None:
    """hold / ahold take the same arguments on every limiter."""
    for cls in (ConcurrencyLimiter, InProcessLimiter, RedisLimiter):
        assert _params(cls.hold) == _params(cls.ahold), cls.__name__
    assert _params(RedisLimiter.close) == _params(RedisLimiter.aclose)


# --------------------------------------------------------------------------- proxy


@pytest.mark.parametrize(
    ("sync_fn", "async_fn"),
    [(proxy.open_sync, proxy.open_async), (proxy.stream_sync, proxy.stream_async)],
    ids=["open", "stream"],
)
def test_proxy_function_twins(sync_fn: Callable[..., Any], async_fn: Callable[..., Any]) -> None:
    """open_sync / open_async and stream_sync / stream_async: same parameters, defaults."""
    assert_same_call(sync_fn, async_fn, f"{sync_fn.__name__} / {async_fn.__name__}")


def test_proxy_response_twins() -> None:
    """ProxyResponse / AsyncProxyResponse: close / aclose, iteration, context manager."""
    sync_cls, async_cls = proxy.ProxyResponse, proxy.AsyncProxyResponse
    assert_twins(sync_cls, async_cls, renamed={"close": "aclose"})
    assert _fields(sync_cls) == _fields(async_cls)
    for sync_name, async_name in [
        ("__next__", "__anext__"),
        ("__enter__", "__aenter__"),
        ("__exit__", "__aexit__"),
    ]:
        assert_same_call(getattr(sync_cls, sync_name), getattr(async_cls, async_name), async_name)
    assert _params(sync_cls.__iter__) == _params(async_cls.__aiter__)
    for prop in ("status", "headers"):
        assert isinstance(inspect.getattr_static(sync_cls, prop), property)
        assert isinstance(inspect.getattr_static(async_cls, prop), property)


# --------------------------------------------------------------------------- presign


def test_signer_twins() -> None:
    """CachedSigner.sign / asign, and the two signer protocols."""
    assert_same_call(CachedSigner.sign, CachedSigner.asign, "CachedSigner.sign / asign")
    assert_same_call(UrlSigner.sign, AsyncUrlSigner.asign, "UrlSigner.sign / AsyncUrlSigner.asign")


# --------------------------------------------------------------------------- Django


def test_django_views_are_twins() -> None:
    """The sync and async URL patterns: same routes, names and views' parameters."""
    from tests.django.support import ensure_django

    ensure_django()
    from mediakit_django import views

    sync = views.build_urlpatterns(asynchronous=False)
    asyn = views.build_urlpatterns(asynchronous=True)
    assert [(str(p.pattern), p.name) for p in sync] == [(str(p.pattern), p.name) for p in asyn]
    for s, a in zip(sync, asyn, strict=True):
        assert_same_call(s.callback, a.callback, f"view {s.name}")
        assert getattr(s.callback, "csrf_exempt", False)
        assert getattr(a.callback, "csrf_exempt", False)
