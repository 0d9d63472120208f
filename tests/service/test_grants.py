"""Proxy URL grants (MEDIA_DELIVERY=proxy) through both service twins: the grant stands in
for the principal, is bound to the media and its variant, expires, is stable within a
signing window, and never overrides visibility."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediakit.clock import ManualClock
from mediakit.errors import Forbidden, NotFound, Unauthorized
from mediakit.presign._local import GrantSigner
from mediakit.service import MediaKit
from tests.quick import examples
from tests.service.kit import ADMIN, USER, Twin, make_kit, seed_image, seed_set


@pytest.fixture
def pkit() -> Iterator[MediaKit]:
    """A memory kit handing out proxy URLs."""
    k = make_kit(delivery="proxy", presign_ttl=900)
    yield k
    k.close()


@pytest.fixture(params=["sync", "async"])
def psvc(request: pytest.FixtureRequest, pkit: MediaKit) -> Twin:
    """Either twin over the proxy-mode kit."""
    return Twin(pkit, request.param)


def get(svc: Twin, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """Request a handed-out proxy URL the way the adapters do: no principal, its query."""
    parts = urlsplit(url)
    media_id = parts.path.split("/")[-2]
    query = dict(parse_qsl(parts.query))
    result: tuple[int, dict[str, str], bytes] = svc.proxy(
        None,
        media_id,
        method="GET",
        headers=headers,
        quality=query.get("quality"),
        size=query.get("size"),
        query=query,
    )
    return result


def test_grant_url_serves_without_principal(psvc: Twin, pkit: MediaKit) -> None:
    """Every URL of an image and a track serves its bytes with no principal."""
    image = seed_image(pkit)
    music_set, tracks = seed_set(pkit)
    view = psvc.get_image(USER, image.id)
    assert get(psvc, view["url"])[2] == b"J" * 1000
    assert get(psvc, view["thumbnails"]["w320"])[2] == b"W" * 320
    stream = psvc.stream_url(USER, music_set.id, tracks[0].id, "high")
    status, headers, body = get(psvc, stream["url"], Range="bytes=0-3")
    assert (status, body, headers["Content-Type"]) == (206, b"high", "audio/mpeg")
    download = psvc.download_url(USER, music_set.id, tracks[0].id)
    status, headers, body = get(psvc, download["url"])
    assert body == b"F" * 500
    assert headers["Content-Disposition"].startswith("attachment")


def test_expires_at_is_the_grant_expiry(psvc: Twin, pkit: MediaKit) -> None:
    """`expires_at` equals the `exp` in the URL: TTL after the window's start."""
    music_set, tracks = seed_set(pkit)
    stream = psvc.stream_url(USER, music_set.id, tracks[0].id, "low")
    exp = int(dict(parse_qsl(urlsplit(stream["url"]).query))["exp"])
    assert datetime.fromisoformat(stream["expires_at"]).timestamp() == exp
    assert exp > pkit.clock.time()


def test_grant_urls_are_stable_within_a_window_and_renewed_after(
    psvc: Twin, pkit: MediaKit
) -> None:
    """The same URL within one signing window, a new one in the next."""
    image = seed_image(pkit)
    clock = pkit.clock
    assert isinstance(clock, ManualClock)
    first = psvc.get_image(USER, image.id)["url"]
    clock.advance(1)
    assert psvc.get_image(USER, image.id)["url"] == first
    clock.advance(pkit.settings.effective_presign_window)
    later = psvc.get_image(USER, image.id)["url"]
    assert later != first
    assert get(psvc, first)[0] == 200  # the old one still lives out its TTL


def test_no_principal_and_no_grant_is_unauthorized(psvc: Twin, pkit: MediaKit) -> None:
    """Without a grant the proxy still needs a principal: 401."""
    image = seed_image(pkit)
    with pytest.raises(Unauthorized, match="Authorization"):
        psvc.proxy(None, image.id, method="GET", headers={}, query={})


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda q: {**q, "sig": q["sig"][:-2] + "AA"}, "url_signature_invalid"),
        (lambda q: {**q, "exp": str(int(q["exp"]) + 1)}, "url_signature_invalid"),
        (lambda q: {k: v for k, v in q.items() if k != "sig"}, "url_signature_invalid"),
        (lambda q: {**q, "size": "w640"}, "url_signature_invalid"),
    ],
)
def test_tampered_grant_is_forbidden(psvc: Twin, pkit: MediaKit, change: object, code: str) -> None:
    """A changed signature, expiry or variant is 403 with an actionable message."""
    image = seed_image(pkit)
    url = psvc.get_image(USER, image.id)["thumbnails"]["w320"]
    query = dict(parse_qsl(urlsplit(url).query))
    bad = change(query)  # type: ignore[operator]
    with pytest.raises(Forbidden) as info:
        psvc.proxy(None, image.id, method="GET", headers={}, size=bad.get("size"), query=bad)
    assert info.value.code == code
    assert "new one" in info.value.message


def test_grant_is_bound_to_its_media(psvc: Twin, pkit: MediaKit) -> None:
    """A grant of one image does not open another."""
    a, b = seed_image(pkit), seed_image(pkit)
    query = dict(parse_qsl(urlsplit(psvc.get_image(USER, a.id)["url"]).query))
    with pytest.raises(Forbidden):
        psvc.proxy(None, b.id, method="GET", headers={}, query=query)


def test_expired_grant_is_forbidden(psvc: Twin, pkit: MediaKit) -> None:
    """After its TTL the URL is 403 url_expired, naming the moment."""
    image = seed_image(pkit)
    url = psvc.get_image(USER, image.id)["url"]
    clock = pkit.clock
    assert isinstance(clock, ManualClock)
    clock.advance(pkit.settings.presign_ttl + 1)
    with pytest.raises(Forbidden) as info:
        get(psvc, url)
    assert info.value.code == "url_expired"
    assert "expired at" in info.value.message


def test_hiding_cuts_a_valid_grant_at_once(psvc: Twin, pkit: MediaKit) -> None:
    """A valid grant of an item hidden (or deleted) afterwards is 404 at once."""
    image = seed_image(pkit)
    music_set, tracks = seed_set(pkit)
    image_url = psvc.get_image(USER, image.id)["url"]
    track_url = psvc.stream_url(USER, music_set.id, tracks[0].id, "medium")["url"]
    assert get(psvc, image_url)[0] == get(psvc, track_url)[0] == 200
    psvc.update_image(ADMIN, image.id, visible=False)
    psvc.set_music_set_visibility(ADMIN, music_set.id, False)
    with pytest.raises(NotFound):
        get(psvc, image_url)
    with pytest.raises(NotFound):
        get(psvc, track_url)
    psvc.update_image(ADMIN, image.id, visible=True)
    assert get(psvc, image_url)[0] == 200
    psvc.delete_image(ADMIN, image.id)
    with pytest.raises(NotFound):
        get(psvc, image_url)


def test_admin_url_of_hidden_item_grants_no_admin_rights(psvc: Twin, pkit: MediaKit) -> None:
    """A URL an admin got for a hidden image is 404 without the admin's header."""
    hidden = seed_image(pkit, visible=False)
    url = psvc.get_image(ADMIN, hidden.id, admin=True)["url"]
    with pytest.raises(NotFound):
        get(psvc, url)
    status, _, _ = psvc.proxy(ADMIN, hidden.id, method="GET", headers={})
    assert status == 200


@settings(max_examples=examples(200), deadline=None)
@given(
    media_id=st.text(min_size=1, max_size=20),
    variant=st.sampled_from(["", "quality=high", "size=w640", "quality=original"]),
    other=st.text(min_size=1, max_size=20),
    sig=st.text(max_size=60),
    exp=st.text(max_size=15),
)
def test_grant_verification_accepts_only_what_was_signed(
    media_id: str, variant: str, other: str, sig: str, exp: str
) -> None:
    """A grant verifies for its own media and variant; any other id, or any arbitrary
    sig/exp pair, is Forbidden, never another error."""
    signer = GrantSigner(b"k" * 32, ttl=900, clock=ManualClock(1_790_000_000.0))
    grant = signer.grant(media_id, variant)
    query = dict(parse_qsl(grant.query))
    signer.verify(media_id, variant, query)
    if other != media_id:
        with pytest.raises(Forbidden):
            signer.verify(other, variant, query)
    if sig != query["sig"]:
        with pytest.raises(Forbidden):
            signer.verify(media_id, variant, {"sig": sig, "exp": exp})


def _s3_kit(secret_key: str, signing_secret: str | None = None) -> MediaKit:
    from mediakit.repositories.memory import MemoryRepositories
    from mediakit.service import build_service
    from mediakit.settings import Settings

    settings = Settings(
        storage_backend="s3",
        s3_endpoint="http://127.0.0.1:9",
        s3_access_key_id="AKIDEXAMPLE",
        s3_secret_access_key=secret_key,
        delivery="proxy",
        job_runner="inline",
        signing_secret=signing_secret,
    )
    return build_service(settings, repos=MemoryRepositories.create(), clock=ManualClock(1.79e9))


def test_grants_under_s3_agree_across_processes_without_a_signing_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without MEDIAKIT_SIGNING_SECRET, kits sharing the S3 credentials sign alike (a key
    derived from the secret key), with no warning; other credentials sign otherwise, and
    a set signing secret wins."""
    a, b, other = _s3_kit("secret-1" * 4), _s3_kit("secret-1" * 4), _s3_kit("secret-2" * 4)
    configured = _s3_kit("secret-1" * 4, signing_secret="configured-secret-0123456789")
    try:
        grants = [k.service.grants for k in (a, b, other, configured)]
        assert all(g is not None for g in grants)
        queries = [g.grant("media1", "").query for g in grants if g is not None]
        assert queries[0] == queries[1]
        assert queries[2] != queries[0]
        assert queries[3] not in (queries[0], queries[2])
        assert b"secret-1" not in (grants[0].secret if grants[0] else b"")
        assert "random secret" not in caplog.text
    finally:
        for k in (a, b, other, configured):
            k.close()
