"""Stable signing windows, expiry arithmetic and temporary-credential clamping."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.clock import ManualClock
from mediakit.errors import BadRequest, ConfigurationError, StorageUnavailable
from mediakit.presign import Credentials, SigV4Presigner, resolve_window, signing_time

CREDS = Credentials("AKID", "SECRET")
T0 = 1_699_999_800.0  # a multiple of 300


def make(clock: ManualClock, **kw: object) -> SigV4Presigner:
    opts: dict[str, object] = {"credentials": CREDS, "endpoint_url": "http://127.0.0.1:9000"}
    opts.update(kw)
    return SigV4Presigner("bkt", clock=clock, **opts)  # type: ignore[arg-type]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@given(
    now=st.floats(min_value=0, max_value=4e9),
    ttl=st.integers(min_value=2, max_value=604800),
    data=st.data(),
)
def test_every_url_has_at_least_ttl_minus_window_to_live(
    now: float, ttl: int, data: st.DataObject
) -> None:
    """Property: remaining life >= ttl - window, and expiry = signing time + ttl."""
    window = data.draw(st.integers(min_value=0, max_value=ttl // 2))
    signed = make(ManualClock(now), ttl=ttl, window=window).sign("k")
    remaining = signed.expires_at.timestamp() - now
    assert ttl - window - 1 < remaining <= ttl
    q = query(signed.url)
    start = signing_time(now, window)
    assert q["X-Amz-Expires"] == str(ttl)
    assert q["X-Amz-Date"] == datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%SZ")
    assert signed.expires_at == datetime.fromtimestamp(start + ttl, UTC)
    assert signed.expires_at.tzinfo is not None


def test_same_url_within_a_window_and_across_instances() -> None:
    """Two processes (instances) hand out the same URL anywhere in one window."""
    clock_a, clock_b = ManualClock(T0 + 1), ManualClock(T0 + 299.9)
    a = make(clock_a, ttl=900, window=300).sign("k", content_type="image/png")
    b = make(clock_b, ttl=900, window=300).sign("k", content_type="image/png")
    assert a == b
    assert a.renew_at == datetime.fromtimestamp(T0 + 300, UTC)


def test_a_new_window_gives_a_new_url() -> None:
    """At the window boundary the signing time moves on, and so does the URL."""
    clock = ManualClock(T0 + 299)
    signer = make(clock, ttl=900, window=300)
    first = signer.sign("k")
    clock.advance(1)
    second = signer.sign("k")
    assert first.url != second.url
    assert second.expires_at.timestamp() == T0 + 300 + 900


def test_window_zero_disables_rounding() -> None:
    """Window 0: signed at the current second."""
    signed = make(ManualClock(T0 + 123.7), ttl=900, window=0).sign("k")
    assert signed.expires_at.timestamp() == T0 + 123 + 900


def test_default_window_is_a_third_of_the_ttl() -> None:
    """``window=None`` means ttl // 3, as in the settings."""
    assert resolve_window(900, None) == 300
    signed = make(ManualClock(T0 + 299), ttl=900).sign("k")
    assert signed.expires_at.timestamp() == T0 + 900


@pytest.mark.parametrize(("ttl", "window"), [(900, 451), (900, -1), (0, None), (604801, 0)])
def test_bad_ttl_or_window_fails_at_construction(ttl: int, window: int | None) -> None:
    """A window over half the TTL, a negative one, or a TTL out of SigV4 range is refused."""
    with pytest.raises(ConfigurationError):
        make(ManualClock(), ttl=ttl, window=window)


def test_empty_key_is_refused() -> None:
    """An empty key names no object."""
    with pytest.raises(BadRequest):
        make(ManualClock()).sign("")


class Provider:
    """Temporary credentials from a fake STS: each call hands out the next set."""

    def __init__(self, lifetimes: list[float], clock: ManualClock) -> None:
        self.lifetimes = lifetimes
        self.clock = clock
        self.calls = 0

    def __call__(self) -> tuple[str, str, str | None, datetime | None]:
        life = self.lifetimes[min(self.calls, len(self.lifetimes) - 1)]
        self.calls += 1
        exp = datetime.fromtimestamp(self.clock.time() + life, UTC)
        return (f"ASIA{self.calls}", f"secret{self.calls}", f"token{self.calls}", exp)


def test_url_never_outlives_temporary_credentials() -> None:
    """X-Amz-Expires is clamped to the credentials' remaining life."""
    clock = ManualClock(T0 + 10)
    provider = Provider([500], clock)
    signed = make(clock, credentials=provider, ttl=900, window=300).sign("k")
    creds_expiry = T0 + 10 + 500
    assert signed.expires_at.timestamp() <= creds_expiry
    assert int(query(signed.url)["X-Amz-Expires"]) == int(creds_expiry - T0)
    assert query(signed.url)["X-Amz-Security-Token"] == "token1"


def test_credentials_near_expiry_are_refreshed_from_the_provider() -> None:
    """Once credentials have less than a TTL left, the provider is asked again."""
    clock = ManualClock(T0)
    provider = Provider([3600, 7200], clock)
    signer = make(clock, credentials=provider, ttl=900, window=300)
    assert "ASIA1" in signer.sign("k").url
    clock.advance(3600 - 800)  # 800 s left: less than the TTL
    signed = signer.sign("k")
    assert provider.calls == 2
    assert "ASIA2" in signed.url
    assert int(query(signed.url)["X-Amz-Expires"]) == 900


def test_static_credentials_are_never_refetched() -> None:
    """A provider without expiry is called once."""
    clock = ManualClock(T0)
    calls = []

    def provider() -> Credentials:
        calls.append(1)
        return CREDS

    signer = make(clock, credentials=provider, ttl=900, window=300)
    for _ in range(5):
        signer.sign("k")
        clock.advance(400)
    assert len(calls) == 1


def test_expiring_credentials_without_fresher_ones_raise_storage_unavailable() -> None:
    """Less than the minimum life left and nothing fresher: a clear 503, not a dead URL."""
    clock = ManualClock(T0)
    provider = Provider([30], clock)
    with pytest.raises(StorageUnavailable, match="expire in 30 s"):
        make(clock, credentials=provider).sign("k")
    assert provider.calls == 1


def test_naive_credential_expiry_is_refused() -> None:
    """An expiry without a timezone is ambiguous: refused with a message."""
    creds = Credentials("A", "B", "T", datetime(2030, 1, 1))
    with pytest.raises(ConfigurationError, match="aware"):
        make(ManualClock(T0), credentials=lambda: creds).sign("k")


def test_a_failing_provider_is_a_storage_unavailable() -> None:
    """A provider's own error (STS down...) becomes StorageUnavailable, cause kept."""

    def provider() -> Credentials:
        raise OSError("connection refused")

    with pytest.raises(StorageUnavailable, match="connection refused") as info:
        make(ManualClock(T0), credentials=provider).sign("k")
    assert isinstance(info.value.__cause__, OSError)


def test_an_expiring_provider_is_asked_at_most_once_a_second() -> None:
    """Near expiry with nothing fresher, repeated signing doesn't hammer the provider."""
    clock = ManualClock(T0)
    provider = Provider([30], clock)
    signer = make(clock, credentials=provider)
    for _ in range(20):
        with pytest.raises(StorageUnavailable):
            signer.sign("k")
    assert provider.calls == 1
    clock.advance(1)
    with pytest.raises(StorageUnavailable):
        signer.sign("k")
    assert provider.calls == 2
