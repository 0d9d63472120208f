"""Sample media for the black-box suites, as bytes, on top of :mod:`tests.fixtures_media`.

Adds what that module does not have: in-memory audio, an oversized-but-valid JPEG for the size
caps, content that must be refused (SVG, HTML, text named ``.jpg``) and undecodable audio.
"""

from __future__ import annotations

import functools
import struct
import tempfile
from pathlib import Path

from tests.fixtures_media import ffmpeg_exe, jpeg_bytes, png_bytes, sine_audio

__all__ = [
    "FFMPEG",
    "audio_bytes",
    "broken_wav_bytes",
    "html_bytes",
    "jpeg_bytes",
    "padded_jpeg",
    "png_bytes",
    "svg_bytes",
    "text_as_jpg_bytes",
]

FFMPEG = ffmpeg_exe()
"""The ffmpeg the tests use, or ``None`` (tests that need it call ``servers.need``)."""


def padded_jpeg(total_size: int) -> bytes:
    """A valid small JPEG followed by zero padding up to exactly ``total_size`` bytes.

    Decoders ignore bytes after the end-of-image marker, and content sniffing still sees a
    JPEG, so this is an allowed type that is simply large (for the size-cap tests).
    """
    head = jpeg_bytes(64, 48, gps=False, comment=None)
    if total_size < len(head):
        raise ValueError(f"total_size must be at least {len(head)}")
    return head + b"\0" * (total_size - len(head))


def svg_bytes() -> bytes:
    """An SVG document with a script (an active-content type that must be refused)."""
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script><rect width='10' height='10'/></svg>\n"
    )


def html_bytes() -> bytes:
    """An HTML page (must be refused whatever the file name says)."""
    return b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"


def text_as_jpg_bytes() -> bytes:
    """Plain text meant to be uploaded under a ``.jpg`` name with ``image/jpeg`` declared."""
    return b"this is not a picture, just some text pretending to be one\n" * 20


@functools.lru_cache(maxsize=16)
def audio_bytes(fmt: str = "flac", seconds: float = 2.0) -> bytes:
    """A sine tone of ``seconds`` made by ffmpeg (:func:`tests.fixtures_media.sine_audio`), as bytes."""
    with tempfile.TemporaryDirectory(prefix="mediakit-sample-") as tmp:
        return sine_audio(Path(tmp), fmt, seconds=seconds).read_bytes()


def broken_wav_bytes() -> bytes:
    """A file that sniffs as WAV audio but that no decoder accepts (unknown codec tag 0x7777).

    An upload of it is accepted as audio and its processing fails.
    """
    fmt = struct.pack("<HHIIHH", 0x7777, 2, 44100, 44100 * 4, 4, 16)
    data = bytes(range(256)) * 64
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body
