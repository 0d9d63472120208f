"""build_signer: the right signer for the settings, behind a cache."""

from __future__ import annotations

import logging

import pytest

from mediakit.clock import ManualClock
from mediakit.errors import ConfigurationError
from mediakit.presign import (
    CachedSigner,
    LocalUrlSigner,
    SigV4Presigner,
    build_signer,
    credentials_from_settings,
)
from mediakit.settings import Settings

T0 = 1_699_999_800.0


def test_s3_backend_gets_sigv4_with_the_settings() -> None:
    """storage_backend=s3: SigV4 for endpoint, bucket, region, style, keys, TTL and window."""
    settings = Settings(
        storage_backend="s3",
        s3_endpoint="https://s3.hidrive.strato.com",
        assets_bucket="media",
        s3_region="eu-central-1",
        s3_access_key_id="AKID",
        s3_secret_access_key="SECRET",
        s3_session_token="TOKEN",
        presign_ttl=600,
        presign_window=120,
        presign_cache_size=7,
    )
    signer = build_signer(settings, clock=ManualClock(T0))
    assert isinstance(signer, CachedSigner)
    assert isinstance(signer.inner, SigV4Presigner)
    assert signer.maxsize == 7
    url = signer.sign("images/x.jpg").url
    assert url.startswith("https://s3.hidrive.strato.com/media/images/x.jpg?")
    assert "AKID%2F20231114%2Feu-central-1%2Fs3%2Faws4_request" in url
    assert "X-Amz-Expires=600" in url
    assert "X-Amz-Security-Token=TOKEN" in url


def test_s3_without_keys_uses_the_aws_credential_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """No keys in the settings: botocore's chain (here the AWS_* variables) supplies them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    settings = Settings(storage_backend="s3", s3_endpoint="http://127.0.0.1:9000")
    assert callable(credentials_from_settings(settings))
    url = build_signer(settings, clock=ManualClock(T0)).sign("k").url
    assert "X-Amz-Credential=FROMENV%2F" in url


def test_s3_without_any_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Nothing anywhere: a start-up error naming the variable."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    settings = Settings(storage_backend="s3", s3_endpoint="http://127.0.0.1:9000")
    with pytest.raises(ConfigurationError, match="MEDIA_S3_ACCESS_KEY_ID"):
        build_signer(settings)


def test_filesystem_backend_gets_the_local_signer_with_the_secret() -> None:
    """Otherwise: local HMAC URLs under /api/v1/media/local, verifiable by a twin."""
    settings = Settings(signing_secret="s" * 32, presign_ttl=900)
    signer = build_signer(settings, clock=ManualClock(T0))
    assert isinstance(signer.inner, LocalUrlSigner)
    signed = signer.sign("images/x.jpg", content_type="image/jpeg")
    assert signed.url.startswith("/api/v1/media/local/images/x.jpg?exp=1700000700&")
    twin = build_signer(settings, clock=ManualClock(T0 + 1))
    assert twin.sign("images/x.jpg", content_type="image/jpeg") == signed


def test_missing_signing_secret_uses_a_random_one_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No MEDIAKIT_SIGNING_SECRET: works, but warns that URLs won't survive a restart."""
    with caplog.at_level(logging.WARNING, logger="mediakit.presign"):
        a = build_signer(Settings(storage_backend="memory"), clock=ManualClock(T0))
        b = build_signer(Settings(storage_backend="memory"), clock=ManualClock(T0))
    assert "MEDIAKIT_SIGNING_SECRET" in caplog.text
    assert a.sign("k").url != b.sign("k").url


def test_local_base_path_follows_the_app_prefix() -> None:
    """An app mounted under a prefix gets local URLs under that prefix."""
    settings = Settings(signing_secret="s" * 32)
    signer = build_signer(
        settings, clock=ManualClock(T0), local_base_path="/media-app/api/v1/media/local"
    )
    assert signer.sign("k").url.startswith("/media-app/api/v1/media/local/k?exp=")


def test_local_signer_can_be_evolved_to_another_base_path() -> None:
    """attrs.evolve keeps the secret and settings and moves the base path."""
    import attrs

    base = LocalUrlSigner("/a", b"s" * 32, ttl=900, window=300, clock=ManualClock(T0))
    moved = attrs.evolve(base, base_path="/b/")
    a, b = base.sign("k").url, moved.sign("k").url
    assert b == "/b" + a[2:]
