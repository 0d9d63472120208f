"""Choose and assemble the URL signer for a :class:`~mediakit.settings.Settings`."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from mediakit.clock import Clock, system_clock
from mediakit.errors import ConfigurationError
from mediakit.presign._cache import CachedSigner
from mediakit.presign._cdn import CdnSigner, CloudFrontKey
from mediakit.presign._local import DEFAULT_LOCAL_BASE_PATH, LocalUrlSigner
from mediakit.presign._sigv4 import Credentials, CredentialsProvider, SigV4Presigner
from mediakit.settings import Settings

__all__ = ["build_signer", "credentials_from_settings"]

log = logging.getLogger("mediakit.presign")


def credentials_from_settings(settings: Settings) -> Credentials | CredentialsProvider:
    """Static keys from the settings, else botocore's default chain (env, files, roles).

    The default chain is asked only when credentials near expiry, never per URL.

    Raises:
        ConfigurationError: no credentials anywhere.
    """
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        return Credentials(
            settings.s3_access_key_id, settings.s3_secret_access_key, settings.s3_session_token
        )
    import botocore.session  # only at start-up, never on the signing path

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise ConfigurationError(
            "MEDIA_S3_ACCESS_KEY_ID",
            "no S3 credentials: set MEDIA_S3_ACCESS_KEY_ID and MEDIA_S3_SECRET_ACCESS_KEY "
            "(or the AWS_* variables, a profile or an instance role)",
        )

    def provider() -> Credentials:
        frozen = found.get_frozen_credentials()
        expiry = getattr(found, "_expiry_time", None)
        if not frozen.access_key or not frozen.secret_key:
            raise ConfigurationError(
                "MEDIA_S3_ACCESS_KEY_ID", "the AWS credential chain returned no access key"
            )
        return Credentials(
            frozen.access_key,
            frozen.secret_key,
            frozen.token,
            expiry if isinstance(expiry, datetime) else None,
        )

    return provider


def build_signer(
    settings: Settings,
    clock: Clock = system_clock,
    *,
    local_base_path: str = DEFAULT_LOCAL_BASE_PATH,
) -> CachedSigner:
    """The signer the settings ask for, behind a per-process cache.

    ``cdn_enabled``: URLs on ``MEDIA_CDN_URL``, CloudFront-signed when a key is set;
    ``storage_backend == "s3"``: native SigV4 presigning against the configured endpoint;
    otherwise HMAC-signed URLs served by the app at ``{local_base_path}/{key}``
    (``/api/v1/media/local`` unless the app is mounted under a prefix).
    """
    ttl, window = settings.presign_ttl, settings.effective_presign_window
    inner: CdnSigner | SigV4Presigner | LocalUrlSigner
    if settings.cdn_enabled and settings.cdn_url is not None:
        inner = CdnSigner(
            settings.cdn_url,
            key=CloudFrontKey.from_settings(settings),
            ttl=ttl,
            window=window,
            clock=clock,
        )
    elif settings.storage_backend == "s3":
        inner = SigV4Presigner(
            settings.assets_bucket,
            credentials=credentials_from_settings(settings),
            endpoint_url=settings.s3_endpoint,
            region=settings.s3_region,
            path_style=settings.s3_path_style,
            ttl=ttl,
            window=window,
            clock=clock,
        )
    else:
        if settings.signing_secret:
            secret = settings.signing_secret.encode()
        else:
            log.warning(
                "MEDIAKIT_SIGNING_SECRET is not set: using a random secret, so media URLs "
                "differ between processes and stop working on restart. Set it for stable URLs."
            )
            secret = secrets.token_bytes(32)
        inner = LocalUrlSigner(local_base_path, secret, ttl=ttl, window=window, clock=clock)
    return CachedSigner(inner, maxsize=settings.presign_cache_size, clock=clock)
