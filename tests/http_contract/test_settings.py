"""Settings the servers must honour: presigned-URL lifetime and MEDIA_DELIVERY=proxy."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image

from tests.http_contract.conftest import PROXY_VARIANT, ExpiringUrl
from tests.http_contract.harness import Api, assert_error
from tests.media_samples import jpeg_bytes

Start = Callable[[Mapping[str, str]], Api]


def parse_time(value: str) -> dt.datetime:
    """An ISO 8601 UTC timestamp from the API."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


def ready_image(api: Api) -> dict[str, Any]:
    """Upload one visible image and wait until it is processed."""
    image = api.create_image(f"settings-{uuid.uuid4().hex[:8]}", content=jpeg_bytes(500, 400))
    image = api.wait_image(image["id"])
    assert image["status"] == "ready", image
    return image


def test_expires_at_is_in_the_future_within_the_ttl(api: Api) -> None:
    """Handed-out URLs expire after now and no later than MEDIA_PRESIGN_TTL_SECONDS (900)."""
    image = api.user.get(f"/api/v1/user/images/{ready_image(api)['id']}").json()
    now = dt.datetime.now(dt.UTC)
    expires = parse_time(image["expires_at"])
    assert now < expires <= now + dt.timedelta(seconds=900 + 5)
    parse_time(image["created_at"])
    parse_time(image["updated_at"])


def test_short_ttl_urls_expire(expiring_urls: dict[str, ExpiringUrl]) -> None:
    """With MEDIA_PRESIGN_TTL_SECONDS=2 a URL stops working after its expires_at.

    Local signed URLs answer 403 ``url_expired``; on S3 the URL carries X-Amz-Expires=2
    (moto does not enforce expiry; nanio-backed store tests do). (The URL was handed out,
    and fetched, by the ``expiring_urls`` fixture, with test_proxy_grants's expiring one.)
    """
    url = expiring_urls["presign"]
    api, body = url.api, url.body
    expires = parse_time(body["expires_at"])
    assert expires <= url.handed_out_at + dt.timedelta(seconds=3)
    if api.uses_s3:
        assert "X-Amz-Expires=2" in body["url"]
        return
    assert url.first_status == 200
    assert_error(api.fetch_once_expired(body["url"], body["expires_at"]), 403, "url_expired")
    # asking again hands out a fresh, working URL
    again = api.user.get(f"/api/v1/user/images/{url.image_id}").json()
    assert api.fetch(again["url"]).status_code == 200


def test_proxy_delivery_and_thumbnail_sizes(start_variant: Start) -> None:
    """MEDIA_DELIVERY=proxy hands out URLs of the app's Range proxy, which checks the token;
    MEDIA_THUMBNAIL_SIZES (120,200, not the default 320,640,1280) decides which thumbnails
    exist. (The server is test_proxy_grants's proxy variant.)"""
    api = start_variant(PROXY_VARIANT)
    image = ready_image(api)
    body = api.user.get(f"/api/v1/user/images/{image['id']}").json()
    proxy_prefix = api.absolute(f"/api/v1/user/media/{image['id']}/stream")
    assert api.absolute(body["url"]).startswith(proxy_prefix), body["url"]
    for url in (body["url"], *body["thumbnails"].values()):
        assert api.absolute(url).startswith(proxy_prefix), url
        r = api.user.get(api.absolute(url))
        assert r.status_code == 200, r.text[:200]
        assert r.content
        assert api.fetch(url).status_code == 200  # its grant stands in for the token
        assert_error(api.anon.get(api.absolute(url).split("?")[0]), 401)
    assert set(body["thumbnails"]) == {"w120", "w200"}
    for name, width in [("w120", 120), ("w200", 200)]:
        r = api.user.get(api.absolute(body["thumbnails"][name]))
        with Image.open(io.BytesIO(r.content)) as im:
            assert max(im.size) == width
