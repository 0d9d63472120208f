"""The object-store contract (shipped as :mod:`mediakit.testing`), run against every
implementation (see ``conftest.open_harness``), plus the error checks that build stores
of their own on a missing bucket or a dead endpoint."""

from __future__ import annotations

import pytest

from mediakit.errors import ObjectNotFound, StorageError, StorageUnavailable
from mediakit.storage import AsyncS3ObjectStore, FilesystemObjectStore, S3ObjectStore
from mediakit.testing import DurableStoreContract, ObjectStoreContract, RangeOpenerContract
from tests.storage.conftest import (
    Harness,
    dead_endpoint,
    one_shot_client,
    s3_settings,
)

pytestmark = pytest.mark.anyio


class TestEveryStore(ObjectStoreContract, RangeOpenerContract):
    """The contract of every object store, once per backend."""

    @pytest.fixture
    def store(self, store: Harness) -> Harness:
        """conftest's ``store``: every backend, on a fresh, empty bucket."""
        return store


class TestDurableStores(DurableStoreContract):
    """The contract of the stores with buckets, bounded-memory writes and unfinished
    uploads (all but memory), once per backend."""

    @pytest.fixture
    def store(self, durable_store: Harness) -> Harness:
        """conftest's ``durable_store``: the backends but memory, on a fresh, empty bucket."""
        return durable_store

    @pytest.mark.slow
    async def test_put_stream_memory_stays_bounded(self, store: Harness) -> None:  # type: ignore[override]
        """As shipped; slow here (64 MiB per backend), so a quick run leaves it out."""
        await super().test_put_stream_memory_stays_bounded(store)


async def test_missing_bucket_is_a_storage_error_not_a_missing_object(
    durable_store: Harness,
) -> None:
    """Writing to a bucket that does not exist says so (StorageError, not ObjectNotFound)."""
    store = durable_store
    if store.is_s3:
        url = store.raw.meta.endpoint_url
        settings_ = s3_settings(url, "mk-no-such-bucket")
        other: object
        if store.is_async:
            other = AsyncS3ObjectStore.from_settings(settings_)
            try:
                with pytest.raises(StorageError) as caught:
                    await other.put_bytes("k", b"x", content_type="text/plain")  # type: ignore[attr-defined]
            finally:
                await other.aclose()  # type: ignore[attr-defined]
        else:
            other = S3ObjectStore.from_settings(settings_)
            with pytest.raises(StorageError) as caught:
                other.put_bytes("k", b"x", content_type="text/plain")  # type: ignore[attr-defined]
    else:
        assert store.tmp is not None
        fs = FilesystemObjectStore(store.tmp, "mk-no-such-bucket")
        with pytest.raises(StorageError) as caught:
            fs.put_bytes("k", b"x", content_type="text/plain")
    assert not isinstance(caught.value, ObjectNotFound | StorageUnavailable)
    assert "mk-no-such-bucket" in caught.value.message


async def test_unreachable_endpoint_is_storage_unavailable(s3_store: Harness) -> None:
    """Nothing listening at the endpoint is StorageUnavailable (503, Retry-After)."""
    store = s3_store
    settings_ = s3_settings(dead_endpoint(), store.bucket)
    if store.is_async:
        import aioboto3
        from aiobotocore.config import AioConfig

        from mediakit.storage._common import client_config_kwargs, client_kwargs

        kwargs = {**client_config_kwargs(settings_), "retries": {"max_attempts": 1}}
        async with aioboto3.Session().client(
            "s3", config=AioConfig(**kwargs), **client_kwargs(settings_)
        ) as client:
            astore = AsyncS3ObjectStore(bucket=store.bucket, client=client)
            with pytest.raises(StorageUnavailable) as caught:
                await astore.head("k")
    else:
        sstore = S3ObjectStore(one_shot_client(settings_), store.bucket)
        with pytest.raises(StorageUnavailable) as caught:
            sstore.head("k")
    assert caught.value.http_status == 503
    assert "Retry-After" in caught.value.headers
