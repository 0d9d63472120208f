"""The object-key layout.

Keys are derived from ids only, never from user input, so a file name can never
steer where bytes land. Derivative keys carry a revision token: re-processing
writes new keys and then swaps the row, so an object is written once and never
overwritten, and a client reading ranges never gets bytes spliced from two versions.

Layout::

    images/{image_id}/original
    images/{image_id}/{rev}/w{size}.webp
    music/{set_id}/{track_id}/original
    music/{set_id}/{track_id}/{rev}/high.mp3 | medium.mp3 | low.m4a
"""

from __future__ import annotations

import re
import secrets

__all__ = [
    "image_original",
    "image_prefix",
    "image_thumbnail",
    "music_set_prefix",
    "new_revision",
    "track_original",
    "track_prefix",
    "track_tier",
]

_SAFE = re.compile(r"^[A-Za-z0-9]{1,64}$")


def _check(kind: str, value: str) -> str:
    if not _SAFE.fullmatch(value):
        raise ValueError(f"{kind} {value!r} is not a safe key component")
    return value


def new_revision() -> str:
    """A short random revision token for a new set of derivatives."""
    return secrets.token_hex(4)


def image_prefix(image_id: str) -> str:
    """The prefix under which every object of an image lives (ends with ``/``)."""
    return f"images/{_check('image id', image_id)}/"


def image_original(image_id: str) -> str:
    """The key of an image's original upload."""
    return image_prefix(image_id) + "original"


def image_thumbnail(image_id: str, size: int, rev: str, ext: str = "webp") -> str:
    """The key of an image's thumbnail with longest side ``size`` at revision ``rev``."""
    if size <= 0:
        raise ValueError("thumbnail size must be positive")
    return f"{image_prefix(image_id)}{_check('revision', rev)}/w{size}.{_check('ext', ext)}"


def music_set_prefix(set_id: str) -> str:
    """The prefix under which every object of a music set lives (ends with ``/``)."""
    return f"music/{_check('music set id', set_id)}/"


def track_prefix(set_id: str, track_id: str) -> str:
    """The prefix under which every object of a track lives (ends with ``/``)."""
    return f"{music_set_prefix(set_id)}{_check('track id', track_id)}/"


def track_original(set_id: str, track_id: str) -> str:
    """The key of a track's original upload."""
    return track_prefix(set_id, track_id) + "original"


def track_tier(set_id: str, track_id: str, tier: str, rev: str, ext: str) -> str:
    """The key of an encoded audio tier (``high``/``medium``/``low``) at revision ``rev``."""
    return f"{track_prefix(set_id, track_id)}{_check('revision', rev)}/{_check('tier', tier)}.{_check('ext', ext)}"
