"""CDN delivery: settings validated at start, URLs stable within a signing window and
cached, and the service handing out CDN URLs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from botocore.signers import CloudFrontSigner as BotocoreCloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from mediakit.clock import ManualClock
from mediakit.errors import BadRequest, ConfigurationError
from mediakit.presign import CachedSigner, CdnSigner, CloudFrontKey, build_signer
from mediakit.repositories.memory import MemoryRepositories
from mediakit.service import build_service
from mediakit.settings import Settings
from mediakit.storage import MemoryObjectStore, ThreadedAsyncStore
from tests.conftest import s3_client
from tests.presign.cdn_keys import KEY_ID, pem, rsa_key
from tests.servers import ServerHandle
from tests.service.kit import USER, seed_image, seed_set

T0 = 1_699_999_800.0  # a multiple of 300
CDN = "https://d111111abcdef8.cloudfront.net/media"


def cdn_settings(**overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "storage_backend": "s3",
        "cdn_enabled": True,
        "cdn_url": CDN,
        "cdn_cloudfront_key_id": KEY_ID,
        "cdn_cloudfront_private_key": pem(rsa_key()),
        "presign_ttl": 900,
        "presign_window": 300,
        "job_runner": "inline",
        "database_url": "sqlite://",
        **overrides,
    }
    return Settings(**options)


def verify(url: str, at: float) -> None:
    """Check a CloudFront URL as CloudFront does: RSA-SHA1 over the canned policy of the
    URL's resource and expiry, with the public key; and not expired at ``at``."""
    resource, _, tail = url.rpartition("Expires=")
    params = dict(p.split("=", 1) for p in f"Expires={tail}".split("&"))
    assert params["Key-Pair-Id"] == KEY_ID
    expires = int(params["Expires"])
    assert at < expires
    policy = BotocoreCloudFrontSigner(KEY_ID, lambda m: b"").build_policy(
        resource[:-1], datetime.fromtimestamp(expires, UTC)
    )
    signature = base64.b64decode(
        params["Signature"].replace("-", "+").replace("_", "=").replace("~", "/")
    )
    rsa_key().public_key().verify(signature, policy.encode(), padding.PKCS1v15(), hashes.SHA1())


# --- settings -------------------------------------------------------------------------


def test_from_env_reads_the_cdn_variables_with_an_escaped_one_line_pem() -> None:
    """MEDIA_CDN_* from the environment, the PEM squeezed into one line with ``\\n``."""
    one_line = pem(rsa_key()).strip().replace("\n", "\\n")
    s = Settings.from_env(
        {
            "MEDIAKIT_STORAGE": "s3",
            "MEDIA_CDN_ENABLED": "true",
            "MEDIA_CDN_URL": CDN,
            "MEDIA_CDN_CLOUDFRONT_KEY_ID": KEY_ID,
            "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY": one_line,
        }
    )
    assert s.cdn_enabled
    assert s.cdn_url == CDN
    assert "PRIVATE" not in repr(s)  # the key never reaches logs through repr
    key = CloudFrontKey.from_settings(s)
    assert isinstance(key, CloudFrontKey)
    assert key.key_id == KEY_ID
    assert "PRIVATE" not in repr(key)
    signer = build_signer(s, clock=ManualClock(T0))
    assert isinstance(signer.inner, CdnSigner)
    assert signer.inner.key is not None
    verify(signer.sign("images/x/orig").url, T0)


def test_the_key_can_come_from_a_file_in_pkcs8(tmp_path: Path) -> None:
    """MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE: a PKCS#8 PEM file works like the PEM text."""
    path = tmp_path / "cf.pem"
    path.write_text(pem(rsa_key(), pkcs1=False))
    s = cdn_settings(cdn_cloudfront_private_key=None, cdn_cloudfront_private_key_file=str(path))
    verify(build_signer(s, clock=ManualClock(T0)).sign("k").url, T0)


def test_without_a_key_the_cdn_urls_are_plain() -> None:
    """No CloudFront key: a public CDN, URLs are the base + key (+ response headers)."""
    s = cdn_settings(cdn_cloudfront_key_id=None, cdn_cloudfront_private_key=None)
    signer = build_signer(s, clock=ManualClock(T0))
    assert signer.sign("images/a b/orig.jpg").url == f"{CDN}/images/a%20b/orig.jpg"
    assert signer.sign("k", content_type="image/png").url == (
        f"{CDN}/k?response-content-type=image%2Fpng"
    )


def _ec_pem() -> str:
    return pem(ec.generate_private_key(ec.SECP256R1()))


def _encrypted_pem() -> str:
    return (
        rsa_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
        .decode()
    )


@pytest.mark.parametrize(
    ("overrides", "variable", "words"),
    [
        ({"cdn_url": None}, "MEDIA_CDN_URL", "must be set"),
        ({"cdn_url": "ftp://cdn.example.com"}, "MEDIA_CDN_URL", "https://"),
        ({"cdn_url": "cdn.example.com/media"}, "MEDIA_CDN_URL", "https://"),
        ({"cdn_url": "https://cdn.example.com/?v=1"}, "MEDIA_CDN_URL", "query"),
        ({"cdn_url": "https://cdn.example.com/#x"}, "MEDIA_CDN_URL", "fragment"),
        ({"cdn_url": "https://médias.example.com"}, "MEDIA_CDN_URL", "punycode"),
        ({"cdn_url": "https://cdn.example.com/a b"}, "MEDIA_CDN_URL", "ASCII"),
        ({"cdn_url": "https://u:p@cdn.example.com"}, "MEDIA_CDN_URL", "password"),
        ({"cdn_url": "https://cdn.example.com:99999"}, "MEDIA_CDN_URL", "port"),
        ({"storage_backend": "filesystem"}, "MEDIA_CDN_ENABLED", "MEDIAKIT_STORAGE=s3"),
        ({"cdn_cloudfront_key_id": None}, "MEDIA_CDN_CLOUDFRONT_KEY_ID", "must be set"),
        ({"cdn_cloudfront_key_id": "K2 x-1"}, "MEDIA_CDN_CLOUDFRONT_KEY_ID", "letters"),
        ({"cdn_cloudfront_private_key": None}, "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY", "must be"),
        ({"cdn_cloudfront_private_key": "not a key"}, "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY", "PEM"),
        ({"cdn_cloudfront_private_key": "EC"}, "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY", "RSA"),
        ({"cdn_cloudfront_private_key": "RSA1024"}, "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY", "2048"),
        ({"cdn_cloudfront_private_key": "ENC"}, "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY", "unencrypted"),
        (
            {"cdn_cloudfront_private_key_file": "/nonexistent/cf.pem"},
            "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE",
            "not both",
        ),
        (
            {"cdn_cloudfront_private_key": None, "cdn_cloudfront_private_key_file": "/nope.pem"},
            "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE",
            "cannot read",
        ),
    ],
)
def test_bad_cdn_settings_fail_at_start_naming_the_variable(
    overrides: dict[str, Any], variable: str, words: str
) -> None:
    """Every bad CDN value is a ConfigurationError naming its variable, when built."""
    special = {
        "EC": _ec_pem,
        "RSA1024": lambda: pem(rsa_key(1024)),
        "ENC": _encrypted_pem,
    }
    value = overrides.get("cdn_cloudfront_private_key")
    if value in special:
        overrides = {**overrides, "cdn_cloudfront_private_key": special[value]()}
    with pytest.raises(ConfigurationError) as info:
        cdn_settings(**overrides)
    assert info.value.variable == variable
    assert words in str(info.value)


def test_cdn_settings_are_checked_even_when_disabled() -> None:
    """A bad URL or key fails at start even with MEDIA_CDN_ENABLED off (no surprise later)."""
    with pytest.raises(ConfigurationError, match="MEDIA_CDN_URL"):
        Settings(cdn_url="nope")
    with pytest.raises(ConfigurationError, match="MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY"):
        Settings(cdn_cloudfront_key_id=KEY_ID, cdn_cloudfront_private_key="junk")
    assert Settings(cdn_url=CDN).cdn_enabled is False


# --- windows and the cache -----------------------------------------------------------


def test_urls_are_stable_within_a_window_and_change_across_windows() -> None:
    """Same URL all through a window; the next window signs anew; Expires = start + TTL."""
    clock = ManualClock(T0 + 1)
    signer = CdnSigner(CDN, key=CloudFrontKey.from_pem(KEY_ID, pem(rsa_key())), clock=clock)
    first = signer.sign("k", disposition="inline")
    clock.set(T0 + 299.9)
    assert signer.sign("k", disposition="inline") == first
    assert f"Expires={int(T0) + 900}&" in first.url
    assert first.expires_at.timestamp() == T0 + 900
    assert first.renew_at is not None
    assert first.renew_at.timestamp() == T0 + 300
    clock.set(T0 + 300)
    second = signer.sign("k", disposition="inline")
    assert second.url != first.url
    assert f"Expires={int(T0) + 1200}&" in second.url
    verify(first.url, T0 + 899)
    verify(second.url, T0 + 1199)


def test_every_process_hands_out_the_same_url() -> None:
    """Two signers (two processes) at different moments of one window: one URL."""
    key = CloudFrontKey.from_pem(KEY_ID, pem(rsa_key()))
    a = CdnSigner(CDN, key=key, clock=ManualClock(T0 + 3)).sign("k")
    b = CdnSigner(CDN, key=key, clock=ManualClock(T0 + 250)).sign("k")
    assert a == b


def test_cached_cdn_urls_are_signed_once_per_window() -> None:
    """Through CachedSigner: a hit within the window, a new signature at its end."""
    clock = ManualClock(T0 + 5)
    key = CloudFrontKey.from_pem(KEY_ID, pem(rsa_key()))
    calls: list[bytes] = []

    class CountingKey(CloudFrontKey):
        def sign(self, message: bytes) -> bytes:
            calls.append(message)
            return super().sign(message)

    inner = CdnSigner(CDN, key=CountingKey(KEY_ID, key.private_key), clock=clock)
    cached = CachedSigner(inner, clock=clock)
    first = cached.sign("k", content_type="image/png")
    assert cached.sign("k", content_type="image/png") is first
    assert len(calls) == 1
    clock.set(T0 + 300)
    assert cached.sign("k", content_type="image/png").url != first.url
    assert len(calls) == 2


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(BadRequest):
        CdnSigner(CDN).sign("")


def test_base_urls_are_normalised_as_browsers_send_them() -> None:
    """Lower-case host, no default port, one slash before the key."""
    clock = ManualClock(T0)
    for base in ("HTTPS://CDN.Example.COM:443/Media/", "https://cdn.example.com/Media"):
        assert CdnSigner(base, clock=clock).sign("k").url == "https://cdn.example.com/Media/k"
    assert CdnSigner("http://cdn:8080", clock=clock).sign("k").url == "http://cdn:8080/k"


# --- through the service --------------------------------------------------------------


def _kit(**overrides: Any) -> Any:
    store = MemoryObjectStore()
    return build_service(
        cdn_settings(**overrides),
        repos=MemoryRepositories.create(),
        store=store,
        astore=ThreadedAsyncStore(store),
        clock=ManualClock(T0 + 10),
    )


def test_the_service_hands_out_signed_cdn_urls_in_both_twins() -> None:
    """Image and track URLs from the sync and async services point at the CDN, signed."""
    kit = _kit()
    try:
        image = seed_image(kit)
        music_set, tracks = seed_set(kit, tracks=1)
        got = kit.service.get_image(USER, image.id)
        agot = anyio.run(kit.aservice.get_image, USER, image.id)
        assert got == agot
        urls = [got["url"], *got["thumbnails"].values()]
        stream = kit.service.stream_url(USER, music_set.id, tracks[0].id, "high")
        download = kit.service.download_url(USER, music_set.id, tracks[0].id)
        urls += [stream["url"], download["url"]]
        for url in urls:
            assert url.startswith(f"{CDN}/")
            verify(url, T0 + 10)
        assert f"{CDN}/{image.original_key}?response-content-type=image%2Fjpeg&" in got["url"]
        assert "response-content-disposition=attachment" in download["url"]
        expires = datetime.fromisoformat(stream["expires_at"]).timestamp()
        assert expires == T0 + 900  # the window start (T0) + the TTL
    finally:
        kit.close()


@pytest.mark.s3
def test_plain_cdn_urls_address_the_objects_on_a_real_s3_origin(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """A public CDN is a plain HTTP origin for the bucket: the unsigned URL fetches the
    object (keys with any characters) from a real S3 server, anonymously, with the
    response headers it asked for (moto honours them anonymously; AWS only on requests
    CloudFront signs for the origin, i.e. with origin access control)."""
    c: Any = s3_client(moto_server.url)
    c.create_bucket(Bucket=fresh_bucket_name)
    key = "images/ä b+&=?#%~*'()!/orig.png"
    c.put_object(Bucket=fresh_bucket_name, Key=key, Body=b"the object", ACL="public-read")
    signer = build_signer(
        cdn_settings(
            cdn_url=f"{moto_server.url}/{fresh_bucket_name}",
            cdn_cloudfront_key_id=None,
            cdn_cloudfront_private_key=None,
        )
    )
    url = signer.sign(key, content_type="image/png", disposition="attachment").url
    r = httpx.get(url)
    assert r.status_code == 200
    assert r.content == b"the object"
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == "attachment"
