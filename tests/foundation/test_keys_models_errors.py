"""Object keys, ids, models and the error hierarchy."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit import errors, keys
from mediakit.models import AUDIO_TIERS, AudioTier, new_id

ID = re.compile(r"^[A-Za-z0-9]{22}$")


def test_new_ids_are_key_safe_and_unique() -> None:
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(ID.fullmatch(i) for i in ids)


def test_key_layout() -> None:
    i, s, t = new_id(), new_id(), new_id()
    assert keys.image_original(i) == f"images/{i}/original"
    assert keys.image_thumbnail(i, 640, "ab12cd34") == f"images/{i}/ab12cd34/w640.webp"
    assert keys.track_original(s, t) == f"music/{s}/{t}/original"
    assert (
        keys.track_tier(s, t, "medium", "ab12cd34", "mp3") == f"music/{s}/{t}/ab12cd34/medium.mp3"
    )
    assert keys.image_original(i).startswith(keys.image_prefix(i))
    assert keys.track_original(s, t).startswith(keys.music_set_prefix(s))


def test_new_revisions_differ_so_keys_are_never_overwritten() -> None:
    i = new_id()
    assert len({keys.image_thumbnail(i, 320, keys.new_revision()) for _ in range(200)}) == 200


@given(st.text(min_size=1, max_size=40))
def test_keys_refuse_anything_but_safe_ids(value: str) -> None:
    if re.fullmatch(r"[A-Za-z0-9]{1,64}", value):
        assert keys.image_original(value).endswith("/original")
    else:
        with pytest.raises(ValueError, match="not a safe key component"):
            keys.image_original(value)


def test_audio_tiers_match_the_spec() -> None:
    spec = {t.tier: (t.codec, t.bitrate_kbps, t.content_type) for t in AUDIO_TIERS}
    assert spec == {
        AudioTier.HIGH: ("libmp3lame", 320, "audio/mpeg"),
        AudioTier.MEDIUM: ("libmp3lame", 192, "audio/mpeg"),
        AudioTier.LOW: ("aac", 128, "audio/mp4"),
    }


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


def test_every_error_has_a_distinct_code_and_a_client_or_server_status() -> None:
    subs = _all_subclasses(errors.MediaKitError)
    assert {c.__name__ for c in subs} >= set(errors.__all__) - {"MediaKitError"}
    for cls in subs:
        assert 400 <= cls.http_status <= 599, cls
        assert re.fullmatch(r"[a-z_]+", cls.code), cls
    codes = [c.code for c in subs]
    assert len(codes) == len(set(codes)), "codes are unique"


def test_error_bodies_and_headers() -> None:
    e = errors.TooManyRequests("Slow down.", retry_after=7)
    assert e.http_status == 429
    assert e.headers["Retry-After"] == "7"
    assert e.to_dict() == {"error": {"code": "too_many_requests", "message": "Slow down."}}
    r = errors.RangeNotSatisfiable(1234)
    assert r.headers["Content-Range"] == "bytes */1234"
    assert errors.Unauthorized().headers["WWW-Authenticate"] == "Bearer"
    c = errors.ConfigurationError("MEDIA_X", "bad")
    assert str(c) == "MEDIA_X: bad"


def test_server_errors_hide_internals_from_clients() -> None:
    e = errors.StorageError("NoSuchBucket: bucket 'secret-bucket' for key images/abc/original")
    body = e.to_dict()["error"]
    assert body["code"] == "storage_error"
    assert "secret-bucket" not in body["message"]
    assert "images/abc" not in body["message"]
    assert "secret-bucket" in e.message, "the detail stays available for the server log"
    u = errors.StorageUnavailable("connect timeout to http://10.0.0.5:9000")
    assert "10.0.0.5" not in u.to_dict()["error"]["message"]
    assert errors.NotFound("No image abc.").to_dict()["error"]["message"] == "No image abc."
