"""Object stores: the protocols, and implementations for S3 (boto3, aioboto3), a local
filesystem and memory."""

from mediakit.storage._protocols import (
    AsyncObjectStore,
    ByteSpan,
    MultipartUploadInfo,
    ObjectInfo,
    ObjectStore,
)

__all__ = ["AsyncObjectStore", "ByteSpan", "MultipartUploadInfo", "ObjectInfo", "ObjectStore"]
