"""Presigned URLs over real HTTP against S3 servers.

nanio verifies SigV4 signatures and expiry (moto accepts anything, so the security
checks run against nanio only). nanio ignores ``response-content-*`` overrides, so the
response headers are checked against moto, which honours them.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from mediakit.clock import ManualClock, system_clock
from mediakit.presign import Credentials, SigV4Presigner, build_signer
from mediakit.settings import Settings
from tests.conftest import s3_client
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

pytestmark = pytest.mark.s3

KEY = "images/ä b+&=?#%~*'()!/orig.png"
OTHER = "images/ä b+&=?#%~*'()!/other.png"
CT = "image/x-mediakit"
CD = "attachment; filename=\"a b.png\"; filename*=UTF-8''%C3%A4%20b.png"


def _bucket(server: ServerHandle, name: str) -> str:
    c: Any = s3_client(server.url)
    c.create_bucket(Bucket=name)
    c.put_object(Bucket=name, Key=KEY, Body=b"the object")
    c.put_object(Bucket=name, Key=OTHER, Body=b"another object")
    return name


@pytest.fixture
def nanio_bucket(nanio_server: ServerHandle, fresh_bucket_name: str) -> str:
    return _bucket(nanio_server, fresh_bucket_name)


def presigner(server: ServerHandle, bucket: str, **kw: Any) -> SigV4Presigner:
    opts: dict[str, Any] = {
        "credentials": Credentials(ACCESS_KEY, SECRET_KEY),
        "endpoint_url": server.url,
        "ttl": 900,
        "window": 300,
    }
    opts.update(kw)
    return SigV4Presigner(bucket, **opts)


def test_nanio_accepts_a_fresh_url(nanio_server: ServerHandle, nanio_bucket: str) -> None:
    """A URL signed now (with response headers and an awkward key) fetches the object."""
    url = presigner(nanio_server, nanio_bucket).sign(KEY, content_type=CT, disposition=CD).url
    r = httpx.get(url)
    assert r.status_code == 200, r.text
    assert r.content == b"the object"


def test_nanio_checks_signatures_control(nanio_server: ServerHandle, nanio_bucket: str) -> None:
    """Control: nanio rejects a URL signed with the wrong secret, so 403s below mean it."""
    bad = presigner(nanio_server, nanio_bucket, credentials=Credentials(ACCESS_KEY, "wrong"))
    assert httpx.get(bad.sign(KEY).url).status_code == 403


@pytest.mark.parametrize(
    ("name", "tamper"),
    [
        ("key", lambda u: u.replace("orig.png", "other.png")),
        ("expiry", lambda u: u.replace("X-Amz-Expires=900", "X-Amz-Expires=1800")),
        ("content-type", lambda u: u.replace("image%2Fx-mediakit", "text%2Fhtml")),
        ("disposition", lambda u: u.replace("attachment", "inline")),
        ("signature", lambda u: u[:-4] + ("0000" if not u.endswith("0000") else "1111")),
    ],
)
def test_nanio_rejects_a_tampered_url(
    nanio_server: ServerHandle, nanio_bucket: str, name: str, tamper: Any
) -> None:
    """Changing the key (to another existing object), expiry or a response header: 403."""
    url = presigner(nanio_server, nanio_bucket).sign(KEY, content_type=CT, disposition=CD).url
    assert httpx.get(url).status_code == 200
    tampered = tamper(url)
    assert tampered != url
    assert httpx.get(tampered).status_code == 403


def test_nanio_rejects_an_expired_url(nanio_server: ServerHandle, nanio_bucket: str) -> None:
    """Signed in the past: still valid inside its TTL, 403 after it (nanio checks expiry)."""
    now = time.time()
    recent = presigner(nanio_server, nanio_bucket, clock=ManualClock(now - 400)).sign(KEY)
    assert recent.expires_at.timestamp() > now
    assert httpx.get(recent.url).status_code == 200
    old = presigner(nanio_server, nanio_bucket, clock=ManualClock(now - 1300)).sign(KEY)
    assert old.expires_at.timestamp() < now
    assert httpx.get(old.url).status_code == 403


def test_build_signer_for_s3_settings_works_against_nanio(
    nanio_server: ServerHandle, nanio_bucket: str
) -> None:
    """The assembled signer (settings -> SigV4 behind a cache) yields working URLs."""
    settings = Settings(
        storage_backend="s3",
        s3_endpoint=nanio_server.url,
        assets_bucket=nanio_bucket,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )
    signer = build_signer(settings, clock=system_clock)
    url = signer.sign(KEY, content_type=CT).url
    assert signer.sign(KEY, content_type=CT).url == url
    assert httpx.get(url).content == b"the object"


def test_moto_serves_a_fresh_url_with_the_signed_response_headers(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """moto honours response-content-type/-disposition from the signed URL."""
    bucket = _bucket(moto_server, fresh_bucket_name)
    url = presigner(moto_server, bucket).sign(KEY, content_type=CT, disposition=CD).url
    r = httpx.get(url)
    assert r.status_code == 200, r.text
    assert r.content == b"the object"
    assert r.headers["content-type"] == CT
    assert r.headers["content-disposition"] == CD
