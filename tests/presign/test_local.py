"""LocalUrlSigner: HMAC-signed, expiring URLs for the filesystem store."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.clock import ManualClock
from mediakit.errors import ConfigurationError, Forbidden
from mediakit.presign import DEFAULT_LOCAL_BASE_PATH, LocalGrant, LocalUrlSigner

SECRET = b"0123456789abcdef0123456789abcdef"
T0 = 1_699_999_800.0  # a multiple of 300


def split(url: str) -> tuple[str, dict[str, str]]:
    """(key, decoded query) as a web framework hands them to the route."""
    parts = urlsplit(url)
    assert parts.path.startswith(DEFAULT_LOCAL_BASE_PATH + "/")
    key = unquote(parts.path[len(DEFAULT_LOCAL_BASE_PATH) + 1 :])
    return key, dict(parse_qsl(parts.query, keep_blank_values=True))


def signer(clock: ManualClock, **kw: object) -> LocalUrlSigner:
    return LocalUrlSigner(DEFAULT_LOCAL_BASE_PATH, SECRET, clock=clock, **kw)  # type: ignore[arg-type]


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


@given(
    key=_TEXT.filter(bool),
    content_type=st.none() | _TEXT,
    disposition=st.none() | _TEXT,
)
def test_signed_url_verifies_and_grants_its_headers(
    key: str, content_type: str | None, disposition: str | None
) -> None:
    """Any key and headers round-trip through the URL and verify."""
    clock = ManualClock(T0)
    s = signer(clock)
    url = s.sign(key, content_type=content_type, disposition=disposition).url
    got_key, q = split(url)
    assert got_key == key
    assert s.verify(got_key, q) == LocalGrant(content_type, disposition)


def test_url_shape() -> None:
    """``{base_path}/{key}?exp=...&ct=...&cd=...&sig=...``."""
    url = signer(ManualClock(T0)).sign("images/a b.png", content_type="image/png").url
    assert url.startswith("/api/v1/media/local/images/a%20b.png?exp=1700000700&ct=image%2Fpng&sig=")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k, q: ("images/other.png", q),
        lambda k, q: (k, {**q, "exp": str(int(q["exp"]) + 3600)}),
        lambda k, q: (k, {**q, "ct": "text/html"}),
        lambda k, q: (k, {**q, "cd": "attachment"}),
        lambda k, q: (k, {kk: v for kk, v in q.items() if kk != "ct"}),
        lambda k, q: (k, {**q, "sig": q["sig"][:-2] + "AA"}),
        lambda k, q: (k, {**q, "sig": "ü"}),
    ],
    ids=[
        "key",
        "expiry",
        "content-type",
        "add-disposition",
        "drop-content-type",
        "sig",
        "non-ascii-sig",
    ],
)
def test_tampered_url_is_forbidden(tamper: object) -> None:
    """Changing any signed part (or the signature) gives Forbidden."""
    s = signer(ManualClock(T0))
    key, q = split(s.sign("images/a.png", content_type="image/png").url)
    k2, q2 = tamper(key, q)  # type: ignore[operator]
    with pytest.raises(Forbidden) as info:
        s.verify(k2, q2)
    assert info.value.code == "url_signature_invalid"
    assert info.value.http_status == 403


@pytest.mark.parametrize("drop", ["sig", "exp"])
def test_missing_signature_or_expiry_is_forbidden(drop: str) -> None:
    """A URL without its signature or expiry is refused."""
    s = signer(ManualClock(T0))
    key, q = split(s.sign("k").url)
    del q[drop]
    with pytest.raises(Forbidden, match="incomplete"):
        s.verify(key, q)


def test_another_secret_does_not_verify() -> None:
    """A URL signed under another secret is refused."""
    key, q = split(signer(ManualClock(T0)).sign("k").url)
    other = LocalUrlSigner(DEFAULT_LOCAL_BASE_PATH, b"x" * 32, clock=ManualClock(T0))
    with pytest.raises(Forbidden):
        other.verify(key, q)


def test_expired_url_is_forbidden_with_code_url_expired() -> None:
    """At its expiry the URL stops working, with code ``url_expired``."""
    clock = ManualClock(T0 + 10)
    s = signer(clock, ttl=900, window=300)
    key, q = split(s.sign("k").url)
    clock.set(T0 + 899.9)
    s.verify(key, q)
    clock.set(T0 + 900)
    with pytest.raises(Forbidden) as info:
        s.verify(key, q)
    assert info.value.code == "url_expired"


def test_stable_within_a_window_across_instances() -> None:
    """Two processes with the same secret give the same URL within a window."""
    a = signer(ManualClock(T0 + 1)).sign("k", content_type="image/png")
    b = signer(ManualClock(T0 + 299)).sign("k", content_type="image/png")
    c = signer(ManualClock(T0 + 300)).sign("k", content_type="image/png")
    assert a == b
    assert a.url != c.url
    assert a.expires_at.timestamp() - (T0 + 299) >= 900 - 300


def test_short_secret_is_refused() -> None:
    """A secret under 16 bytes is a configuration error."""
    with pytest.raises(ConfigurationError, match="MEDIAKIT_SIGNING_SECRET"):
        LocalUrlSigner(DEFAULT_LOCAL_BASE_PATH, b"short")
