"""Object stores: the protocols, and implementations for S3 (boto3, aioboto3), a local
filesystem and memory.

Pick one from settings with :func:`build_object_store` (sync) or
:func:`build_async_object_store` (async); ``MEDIAKIT_STORAGE`` chooses ``s3``,
``filesystem`` (the embedded default) or ``memory``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mediakit._lazy import lazy_exports
from mediakit.settings import Settings
from mediakit.storage._protocols import (
    AsyncObjectStore,
    AsyncOpenedRange,
    AsyncRangeOpener,
    ObjectStore,
    OpenedRange,
    RangeOpener,
)
from mediakit.values import ByteSpan, MultipartUploadInfo, ObjectInfo

if TYPE_CHECKING:  # loaded on first use (see mediakit._lazy): importing the protocols
    # must not load boto3, aioboto3 or aiohttp
    from mediakit.storage._errors import translate_errors
    from mediakit.storage.filesystem import FilesystemObjectStore
    from mediakit.storage.memory import MemoryObjectStore
    from mediakit.storage.s3 import S3ObjectStore, make_client_config
    from mediakit.storage.s3_async import AsyncS3ObjectStore
    from mediakit.storage.threaded import ThreadedAsyncStore

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "translate_errors": "mediakit.storage._errors",
        "FilesystemObjectStore": "mediakit.storage.filesystem",
        "MemoryObjectStore": "mediakit.storage.memory",
        "S3ObjectStore": "mediakit.storage.s3",
        "make_client_config": "mediakit.storage.s3",
        "AsyncS3ObjectStore": "mediakit.storage.s3_async",
        "ThreadedAsyncStore": "mediakit.storage.threaded",
    },
    globals(),
)

__all__ = [
    # protocols and values
    "AsyncObjectStore",
    "AsyncOpenedRange",
    "AsyncRangeOpener",
    "ByteSpan",
    "MultipartUploadInfo",
    "ObjectInfo",
    "ObjectStore",
    "OpenedRange",
    "RangeOpener",
    # implementations
    "AsyncS3ObjectStore",
    "FilesystemObjectStore",
    "MemoryObjectStore",
    "S3ObjectStore",
    "ThreadedAsyncStore",
    # helpers
    "build_async_object_store",
    "build_object_store",
    "ensure_bucket",
    "make_client_config",
    "translate_errors",
]


def build_object_store(settings: Settings) -> ObjectStore:
    """The synchronous store ``settings.storage_backend`` names.

    ``memory`` returns a new, empty store on every call.
    """
    if settings.storage_backend == "s3":
        from mediakit.storage.s3 import S3ObjectStore

        return S3ObjectStore.from_settings(settings)
    if settings.storage_backend == "filesystem":
        from mediakit.storage.filesystem import FilesystemObjectStore

        return FilesystemObjectStore(settings.storage_root, settings.assets_bucket)
    from mediakit.storage.memory import MemoryObjectStore

    return MemoryObjectStore(settings.assets_bucket)


def build_async_object_store(settings: Settings) -> AsyncObjectStore:
    """The asynchronous store ``settings.storage_backend`` names.

    S3 gets :class:`AsyncS3ObjectStore` (close it with ``await store.aclose()``); the
    local stores are wrapped in :class:`ThreadedAsyncStore`.
    """
    if settings.storage_backend == "s3":
        from mediakit.storage.s3_async import AsyncS3ObjectStore

        return AsyncS3ObjectStore.from_settings(settings)
    from mediakit.storage.threaded import ThreadedAsyncStore

    return ThreadedAsyncStore(build_object_store(settings))


def ensure_bucket(store: ObjectStore) -> None:
    """Create the store's bucket if it is missing: for embedded and development setups only.

    Production buckets are provisioned (and given a lifecycle rule for stale multipart
    uploads) outside the application.
    """
    create = getattr(store, "ensure_bucket", None)
    if create is None:
        raise TypeError(f"{type(store).__name__} cannot create its bucket")
    create()
