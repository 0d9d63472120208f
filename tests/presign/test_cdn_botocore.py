"""CloudFront-signed CDN URLs equal botocore's ``CloudFrontSigner`` byte for byte, and
their signatures verify with the public key."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from botocore.signers import CloudFrontSigner as BotocoreCloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given, settings
from hypothesis import strategies as st

from mediakit.clock import ManualClock
from mediakit.presign import CdnSigner, CloudFrontKey, signing_time
from tests.presign.cdn_keys import KEY_ID, pem, rsa_key
from tests.quick import examples

BASES = [
    "https://d111111abcdef8.cloudfront.net",
    "https://d111111abcdef8.cloudfront.net/",
    "https://cdn.example.com/media",
    "https://cdn.example.com/media/assets/",
    "http://127.0.0.1:8080/prefix/",
    "https://cdn.example.com:8443",
    "http://[::1]:9000/m",
]
# Everything keys may hold, weighted towards the characters that need quoting.
_SPECIAL = st.sampled_from(list(" +&=?#%~*'()!/;:,@$[]\"<>\\^`{|}\t\n"))
_TEXT = st.characters(exclude_categories=("Cs",))
KEYS = st.text(st.one_of(_SPECIAL, _TEXT), min_size=1, max_size=40)
HEADER_VALUES = st.none() | st.text(st.one_of(_SPECIAL, _TEXT), max_size=40)


def _rsa_sha1(message: bytes) -> bytes:
    return rsa_key().sign(message, padding.PKCS1v15(), hashes.SHA1())


BOTOCORE = BotocoreCloudFrontSigner(KEY_ID, _rsa_sha1)


def _key() -> CloudFrontKey:
    return CloudFrontKey.from_pem(KEY_ID, pem(rsa_key()))


def _unsign(url: str) -> tuple[str, int, bytes, str]:
    """Split a signed URL into (resource URL, Expires, signature bytes, Key-Pair-Id)."""
    resource, _, tail = url.rpartition("Expires=")
    resource = resource[:-1]  # the '?' or '&' before Expires
    params = dict(p.split("=", 1) for p in f"Expires={tail}".split("&"))
    signature = base64.b64decode(
        params["Signature"].replace("-", "+").replace("_", "=").replace("~", "/")
    )
    return resource, int(params["Expires"]), signature, params["Key-Pair-Id"]


@settings(max_examples=examples(150), deadline=None)
@given(
    base=st.sampled_from(BASES),
    key=KEYS,
    content_type=HEADER_VALUES,
    disposition=HEADER_VALUES,
    now=st.floats(min_value=1e9, max_value=4e9),
    ttl=st.sampled_from([60, 900, 3600, 604800]),
    window=st.sampled_from([0, 1, 30, None]),
)
def test_signed_url_equals_botocores_byte_for_byte(
    base: str,
    key: str,
    content_type: str | None,
    disposition: str | None,
    now: float,
    ttl: int,
    window: int | None,
) -> None:
    """For any key, headers, base URL and time: botocore's canned-policy URL, and the
    unsigned part is the base URL + the key + the response headers, recoverable."""
    clock = ManualClock(now)
    plain = CdnSigner(base, ttl=ttl, window=window, clock=clock)
    signer = CdnSigner(base, key=_key(), ttl=ttl, window=window, clock=clock)
    unsigned = plain.sign(key, content_type=content_type, disposition=disposition)
    ours = signer.sign(key, content_type=content_type, disposition=disposition)

    start = signing_time(now, ttl // 3 if window is None else window)
    theirs = BOTOCORE.generate_presigned_url(
        unsigned.url, date_less_than=datetime.fromtimestamp(start + ttl, UTC)
    )
    assert ours.url == theirs
    assert ours.expires_at == unsigned.expires_at == datetime.fromtimestamp(start + ttl, UTC)
    assert ours.expires_at.timestamp() <= now + ttl  # never outlives the TTL

    # the unsigned URL names the object and the headers, nothing else
    parts = urlsplit(unsigned.url)
    prefix = urlsplit(base).path.rstrip("/")
    assert unquote(parts.path) == f"{prefix}/{key}"
    expected_query = [
        (name, value)
        for name, value in (
            ("response-content-type", content_type),
            ("response-content-disposition", disposition),
        )
        if value is not None
    ]
    assert parse_qsl(parts.query, keep_blank_values=True) == expected_query


def test_the_signature_verifies_with_the_public_key_and_covers_the_url() -> None:
    """RSA-SHA1 over botocore's canned policy verifies with the public key; the same
    signature does not verify for another key, header, or expiry."""
    clock = ManualClock(1_700_000_123)
    signer = CdnSigner(
        "https://d111111abcdef8.cloudfront.net/media", key=_key(), ttl=900, window=300, clock=clock
    )
    url = signer.sign(
        "images/ab/orig ä.jpg", content_type="image/jpeg", disposition="attachment"
    ).url
    resource, expires, signature, key_pair = _unsign(url)
    assert key_pair == KEY_ID
    assert expires == 1_700_000_100 + 900  # the window start (a multiple of 300) + TTL
    public = rsa_key().public_key()

    def verify(resource: str, expires: int) -> None:
        policy = BOTOCORE.build_policy(resource, datetime.fromtimestamp(expires, UTC))
        public.verify(signature, policy.encode(), padding.PKCS1v15(), hashes.SHA1())

    verify(resource, expires)  # raises if the signature is wrong
    for tampered, exp in [
        (resource.replace("orig%20", "other%20"), expires),
        (resource.replace("attachment", "inline"), expires),
        (resource, expires + 3600),
    ]:
        with pytest.raises(InvalidSignature):
            verify(tampered, exp)


def test_unicode_and_special_keys_match_botocore() -> None:
    """The characters of the S3 issue, a path prefix and both headers, at a fixed time."""
    key = "dir/sub dir/ä ü+&=?#%~*'()!.jpg"
    clock = ManualClock(1_700_000_000.5)
    ct, cd = "image/jpeg", "attachment; filename*=UTF-8''%C3%A4.jpg"
    for base in ("https://cdn.example.com", "https://cdn.example.com/a/b/"):
        ours = CdnSigner(base, key=_key(), window=0, clock=clock).sign(
            key, content_type=ct, disposition=cd
        )
        unsigned = CdnSigner(base, window=0, clock=clock).sign(key, content_type=ct, disposition=cd)
        assert ours.url == BOTOCORE.generate_presigned_url(
            unsigned.url, date_less_than=datetime.fromtimestamp(1_700_000_900, UTC)
        )
        assert "/dir/sub%20dir/%C3%A4%20%C3%BC%2B%26%3D%3F%23%25~%2A%27%28%29%21.jpg?" in ours.url
