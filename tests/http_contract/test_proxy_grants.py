"""MEDIA_DELIVERY=proxy over HTTP on every server kind: handed-out proxy URLs carry a short
signed grant, so a client without any header (an <img>, an <audio>) is served; the grant
is bound to its media and variant, expires, and never outlives the item's visibility."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from tests import servers
from tests.http_contract.conftest import PROXY_VARIANT, ExpiringUrl
from tests.http_contract.harness import Api, assert_error
from tests.media_samples import FFMPEG, audio_bytes, jpeg_bytes

Start = Callable[[Mapping[str, str]], Api]


@pytest.fixture(scope="module")
def papi(start_variant: Start) -> Api:
    """A server of the current kind with MEDIA_DELIVERY=proxy (the variant that
    test_settings's proxy test uses too: a secret of its own, thumbnails w120 and w200)."""
    return start_variant(PROXY_VARIANT)


@pytest.fixture(scope="module")
def image(papi: Api) -> dict[str, Any]:
    """A visible, processed image."""
    created = papi.create_image(f"grant-{uuid.uuid4().hex[:8]}", content=jpeg_bytes(400, 300))
    ready = papi.wait_image(created["id"])
    assert ready["status"] == "ready", ready
    return ready


def with_query(url: str, **changes: str | None) -> str:
    """``url`` with query parameters replaced (None: removed)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for k, v in changes.items():
        if v is None:
            query.pop(k, None)
        else:
            query[k] = v
    return parts._replace(query=urlencode(query)).geturl()


def test_handed_out_urls_work_without_any_header(papi: Api, image: dict[str, Any]) -> None:
    """The original and every thumbnail are served to a client with no Authorization."""
    body = papi.user.get(f"/api/v1/user/images/{image['id']}").json()
    for url in (body["url"], *body["thumbnails"].values()):
        assert "sig=" in url
        r = papi.fetch(url)
        assert r.status_code == 200, r.text[:300]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"].startswith("private")
    r = papi.fetch(body["url"], {"Range": "bytes=0-9"})
    assert r.status_code == 206
    assert len(r.content) == 10
    assert papi.raw.head(papi.absolute(body["url"])).status_code == 200


def test_urls_are_stable_and_expires_at_is_the_grant(papi: Api, image: dict[str, Any]) -> None:
    """Two requests in one window get the same URL; expires_at is its `exp`, in the future."""
    first = papi.user.get(f"/api/v1/user/images/{image['id']}").json()
    second = papi.user.get(f"/api/v1/user/images/{image['id']}").json()
    assert first["url"] == second["url"]
    exp = int(dict(parse_qsl(urlsplit(first["url"]).query))["exp"])
    expires = dt.datetime.fromisoformat(first["expires_at"].replace("Z", "+00:00"))
    assert expires.timestamp() == exp
    now = dt.datetime.now(dt.UTC)
    assert now < expires <= now + dt.timedelta(seconds=905)


def test_tampered_grant_is_403_and_missing_grant_is_401(papi: Api, image: dict[str, Any]) -> None:
    """A changed sig, exp or variant is 403 url_signature_invalid; no grant and no token 401."""
    body = papi.user.get(f"/api/v1/user/images/{image['id']}").json()
    url = next(iter(body["thumbnails"].values()))
    sig = dict(parse_qsl(urlsplit(url).query))["sig"]
    bad_sig = "A" * len(sig) if not sig.startswith("A") else "B" * len(sig)
    for tampered in (
        with_query(url, sig=bad_sig),
        with_query(url, exp="9999999999"),
        with_query(url, size=None),  # the thumbnail's grant does not open the original
    ):
        error = assert_error(papi.fetch(tampered), 403, "url_signature_invalid")
        assert "new one" in error["message"]
    other = papi.create_image(f"grant-{uuid.uuid4().hex[:8]}", content=jpeg_bytes(50, 40))
    moved = body["url"].replace(image["id"], other["id"])
    assert_error(papi.fetch(moved), 403, "url_signature_invalid")
    assert_error(papi.fetch(with_query(url, sig=None, exp=None)), 401)
    # a token still works on the bare URL
    assert papi.user.get(papi.absolute(with_query(url, sig=None, exp=None))).status_code == 200


def test_hiding_an_image_cuts_its_grant_url_at_once(papi: Api) -> None:
    """A working grant URL answers 404 right after the image is hidden, 200 after unhiding."""
    created = papi.create_image(f"grant-{uuid.uuid4().hex[:8]}", content=jpeg_bytes(120, 90))
    url = papi.user.get(f"/api/v1/user/images/{created['id']}").json()["url"]
    assert papi.fetch(url).status_code == 200
    r = papi.admin.put(f"/api/v1/admin/images/{created['id']}", json={"visible": False})
    assert r.status_code == 200, r.text
    assert_error(papi.fetch(url), 404, "not_found")
    assert papi.admin.put(
        f"/api/v1/admin/images/{created['id']}", json={"visible": True}
    ).is_success
    assert papi.fetch(url).status_code == 200
    assert papi.admin.delete(f"/api/v1/admin/images/{created['id']}").is_success
    assert_error(papi.fetch(url), 404)


def test_track_stream_and_download_grants(papi: Api) -> None:
    """Stream and download URLs of a track play without a header; hiding the set is 404."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    s = papi.create_set(f"grant-{uuid.uuid4().hex[:8]}", visible=True)
    r = papi.upload_tracks(s["id"], [("Grant Tone.wav", audio_bytes("wav", 1.0), "audio/wav")])
    assert r.status_code == 201, r.text
    t = papi.wait_track(s["id"], r.json()["items"][0]["id"])
    assert t["status"] == "ready", t
    stream = papi.user.get(
        f"/api/v1/user/music-sets/{s['id']}/stream/{t['id']}", params={"quality": "low"}
    ).json()
    r = papi.fetch(stream["url"], {"Range": "bytes=0-"})
    assert r.status_code == 206, r.text[:200]
    assert r.headers["content-type"] == stream["content_type"]
    download = papi.user.get(f"/api/v1/user/music-sets/{s['id']}/download/{t['id']}").json()
    r = papi.fetch(download["url"])
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    assert_error(papi.fetch(with_query(stream["url"], quality="high")), 403)
    hidden = papi.admin.put(
        f"/api/v1/admin/music-sets/{s['id']}/visibility", json={"visible": False}
    )
    assert hidden.status_code == 200, hidden.text
    assert_error(papi.fetch(stream["url"]), 404)
    assert_error(papi.fetch(download["url"]), 404)


def test_expired_grant_is_403(expiring_urls: dict[str, ExpiringUrl]) -> None:
    """With a 2 s TTL (no window) the URL is 403 url_expired once the TTL has passed.
    (The URL was handed out, and fetched, by the ``expiring_urls`` fixture, with
    test_settings's expiring one.)"""
    url = expiring_urls["grant"]
    api, body = url.api, url.body
    assert "sig=" in body["url"]
    assert url.first_status == 200
    error = assert_error(
        api.fetch_once_expired(body["url"], body["expires_at"]), 403, "url_expired"
    )
    assert "expired at" in error["message"]
