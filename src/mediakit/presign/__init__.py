"""Presigned and signed media URLs: fast, stable within a window, cached per process.

- :class:`SigV4Presigner`: native S3 SigV4 query-string presigning (the same URL as
  botocore, about 80x faster).
- :class:`LocalUrlSigner`: HMAC-signed URLs for the embedded filesystem store.
- :class:`CdnSigner`: URLs on a CDN, unsigned or CloudFront-signed (canned policy) with a
  :class:`CloudFrontKey`.
- :class:`CachedSigner`: per-process cache with singleflight for threads and asyncio.
- :func:`build_signer`: the right one for a :class:`~mediakit.settings.Settings`.
"""

from mediakit.presign._build import build_signer, credentials_from_settings
from mediakit.presign._cache import AsyncUrlSigner, CachedSigner
from mediakit.presign._cdn import CdnSigner, CloudFrontKey, check_cdn_url
from mediakit.presign._core import SignedUrl, UrlSigner, resolve_window, signing_time
from mediakit.presign._local import DEFAULT_LOCAL_BASE_PATH, LocalGrant, LocalUrlSigner
from mediakit.presign._sigv4 import Credentials, CredentialsProvider, SigV4Presigner, aws_endpoint

__all__ = [
    # values and protocols
    "AsyncUrlSigner",
    "SignedUrl",
    "UrlSigner",
    # signers
    "CachedSigner",
    "CdnSigner",
    "CloudFrontKey",
    "Credentials",
    "CredentialsProvider",
    "DEFAULT_LOCAL_BASE_PATH",
    "LocalGrant",
    "LocalUrlSigner",
    "SigV4Presigner",
    # assembly and helpers
    "aws_endpoint",
    "build_signer",
    "check_cdn_url",
    "credentials_from_settings",
    "resolve_window",
    "signing_time",
]
