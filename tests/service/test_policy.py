"""The pure decisions of the service layer (no I/O, no event loop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from mediakit.models import (
    AudioTier,
    Image,
    MusicSet,
    Principal,
    ProcessingStatus,
    Rendition,
    Track,
)
from mediakit.service import _policy as policy
from mediakit.service import _views as views

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADMIN = Principal("a", is_admin=True)
USER = Principal("u")


def track(*tiers: str, status: ProcessingStatus = ProcessingStatus.READY) -> Track:
    return Track(
        id="t1",
        set_id="s1",
        original_key="music/s1/t1/original",
        filename="Song.flac",
        content_type="audio/flac",
        size=10,
        created_at=NOW,
        updated_at=NOW,
        status=status,
        failure_reason="ffmpeg exited with 1" if status is ProcessingStatus.FAILED else None,
        renditions=tuple(Rendition(t, f"music/s1/t1/r/{t}", "audio/mpeg", 1) for t in tiers),
    )


def image(visible: bool = True) -> Image:
    return Image(
        id="i1",
        original_key="images/i1/original",
        filename="a.jpg",
        content_type="image/jpeg",
        size=1,
        created_at=NOW,
        updated_at=NOW,
        visible=visible,
        thumbnails=(
            Rendition("w640", "images/i1/r/w640.webp", "image/webp", 1),
            Rendition("w320", "images/i1/r/w320.webp", "image/webp", 1),
        ),
    )


def test_visibility_rules() -> None:
    """Users see visible items only; admins see everything; absent and hidden look alike."""
    assert policy.can_see(USER, True)
    assert not policy.can_see(USER, False)
    assert policy.can_see(ADMIN, False)
    assert policy.see_image(ADMIN, image(False), "i1").id == "i1"
    with pytest.raises(NotFound) as hidden:
        policy.see_image(USER, image(False), "i1")
    with pytest.raises(NotFound) as absent:
        policy.see_image(USER, None, "i1")
    assert hidden.value.message == absent.value.message
    music_set = MusicSet("s1", "t", NOW, NOW, visible=False)
    with pytest.raises(NotFound):
        policy.see_music_set(USER, music_set, "s1")
    with pytest.raises(NotFound):
        policy.see_track(track(), "other-set", "t1")
    with pytest.raises(Forbidden):
        policy.require_admin(USER)


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        (None, "medium", AudioTier.MEDIUM),
        ("", "low", AudioTier.LOW),
        ("high", "low", AudioTier.HIGH),
    ],
)
def test_quality_default_and_override(value: str | None, default: str, expected: AudioTier) -> None:
    """No quality means the configured default; a named one wins."""
    assert policy.parse_quality(value, default) is expected


@given(st.text(max_size=10).filter(lambda s: s not in ("", "low", "medium", "high")))
def test_unknown_quality_is_invalid_input(value: str) -> None:
    """Anything but the three tiers is refused (original only where allowed)."""
    with pytest.raises(UnprocessableEntity):
        policy.parse_quality(value, "medium")
    if value != "original":
        with pytest.raises(UnprocessableEntity):
            policy.parse_quality(value, "medium", allow_original=True)


def test_stream_target_picks_tier_or_conflict() -> None:
    """An encoded tier is served inline; a missing one is 409 not_ready (with the failure reason)."""
    target = policy.track_stream_target(track("medium"), AudioTier.MEDIUM)
    assert (target.key, target.disposition, target.label) == (
        "music/s1/t1/r/medium",
        None,
        "medium",
    )
    with pytest.raises(Conflict) as exc:
        policy.track_stream_target(track("medium"), AudioTier.HIGH)
    assert exc.value.code == "not_ready"
    with pytest.raises(Conflict, match="ffmpeg exited"):
        policy.track_stream_target(track(status=ProcessingStatus.FAILED), AudioTier.LOW)


def test_without_pre_encoding_the_original_is_streamed() -> None:
    """MEDIA_AUDIO_PRE_ENCODE=false streams the original inline."""
    target = policy.track_stream_target(track(), AudioTier.MEDIUM, pre_encode=False)
    assert (target.key, target.label, target.disposition) == (
        "music/s1/t1/original",
        "original",
        None,
    )


def test_download_target_is_the_original_as_attachment() -> None:
    """Downloads serve the original with an attachment disposition naming the file."""
    target = policy.track_download_target(track("medium"))
    assert target.key == "music/s1/t1/original"
    assert target.disposition == 'attachment; filename="Song.flac"'
    assert (
        policy.track_proxy_target(track(), "original", "medium").disposition == target.disposition
    )


def test_image_targets_and_proxy_sizes() -> None:
    """Originals are inline with the file name; thumbnails sort by size; unknown size is 404."""
    original, thumbs = policy.image_targets(image())
    assert original.disposition == 'inline; filename="a.jpg"'
    assert list(thumbs) == ["w320", "w640"]
    assert policy.image_proxy_target(image(), None) == original
    assert policy.image_proxy_target(image(), "w640").key == "images/i1/r/w640.webp"
    with pytest.raises(NotFound):
        policy.image_proxy_target(image(), "w9999")


def test_field_validation() -> None:
    """Titles are trimmed and bounded; visible must be a boolean; empty updates change nothing."""
    assert policy.image_changes(NOW) == {}
    assert policy.image_changes(NOW, title=" x ") == {"title": "x", "updated_at": NOW}
    assert policy.new_music_set_fields("Mix", None, None) == ("Mix", "", False)
    for bad in ({"title": ""}, {"title": "x" * 201}):
        with pytest.raises(UnprocessableEntity):
            policy.music_set_changes(NOW, **bad)  # type: ignore[arg-type]
    with pytest.raises(UnprocessableEntity):
        policy.new_music_set_fields("Mix", None, "yes")
    with pytest.raises(UnprocessableEntity):
        policy.check_track_order(["a", "a"])
    assert policy.upload_changes({"visible": "TRUE", "title": "T"}, NOW) == {
        "visible": True,
        "title": "T",
        "updated_at": NOW,
    }
    assert policy.track_upload_changes({"visible": "true"}, NOW) == {}
    with pytest.raises(UnprocessableEntity):
        policy.check_listing_limit(101)


def test_proxy_urls_are_canonical_and_expire_after_ttl() -> None:
    """Proxy URLs carry sorted query parameters and an advisory expiry."""
    url = policy.proxy_url("/p", "x", {"size": "w640"}, NOW, 900)
    assert (url.url, url.expires_at) == ("/p/x/stream?size=w640", NOW + timedelta(seconds=900))
    assert policy.proxy_url("/p", "x", {}, NOW, 1).url == "/p/x/stream"


def test_views_match_the_contract_shapes() -> None:
    """Views carry every contract field; times are ISO 8601 UTC with Z."""
    signed = policy.ProxyUrl("/u", NOW)
    view = views.image_view(image(), signed, {"w320": signed})
    assert set(view) == {
        "id", "title", "description", "filename", "content_type", "size", "width", "height",
        "visible", "status", "failure_reason", "created_at", "updated_at", "url", "thumbnails",
        "expires_at",
    }  # fmt: skip
    assert view["created_at"] == "2026-01-02T03:04:05Z"
    assert view["thumbnails"] == {"w320": "/u"}
    t = views.track_view(track("high", "low"))
    assert t["qualities"] == ["low", "high"]
    assert t["status"] == "ready"
    s = views.music_set_view(MusicSet("s1", "t", NOW, NOW), 2)
    assert "tracks" not in s
    assert s["track_count"] == 2
    assert views.stream_view(signed, "low", "audio/mp4") == {
        "url": "/u",
        "expires_at": "2026-01-02T03:04:05Z",
        "quality": "low",
        "content_type": "audio/mp4",
    }
    assert views.download_view(signed, "a.flac")["filename"] == "a.flac"
    assert views.iso(datetime(2026, 1, 1)) == "2026-01-01T00:00:00Z"


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(9998, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))]
        ),
    )
)
def test_iso_is_the_utc_instant_whatever_was_formatted_before(moment: datetime) -> None:
    """iso() is memoised; equal instants in other zones (and naive times) still give the right text."""
    expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    assert views.iso(moment.astimezone(UTC)) == expected
    assert views.iso(moment) == expected
    naive = moment.replace(tzinfo=None)  # naive means UTC: equal to no aware key
    assert views.iso(naive) == naive.isoformat() + "Z"
