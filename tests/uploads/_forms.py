"""Helpers building multipart/form-data bodies and media samples for the upload tests."""

from __future__ import annotations

import io
import subprocess
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

from PIL import Image as PILImage

BOUNDARY = "mediakit-test-boundary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"

Part = tuple[str, str | None, bytes]
"""(field name, file name or None for a plain field, content)."""


def encode(parts: Sequence[Part], boundary: str = BOUNDARY) -> bytes:
    """A complete multipart/form-data body."""
    out = bytearray()
    for name, filename, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += f"Content-Disposition: {disp}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` in chunks of ``size`` bytes."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def achunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` as an async iterable of chunks."""
    for chunk in chunked(data, size):
        yield chunk


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (32, 24)) -> bytes:
    """A small real image encoded by Pillow."""
    buf = io.BytesIO()
    PILImage.new("RGB", size, (200, 30, 60)).save(buf, fmt)
    return buf.getvalue()


def audio_bytes(tmp: Path, name: str, *args: str) -> bytes:
    """A 1 s sine encoded by ffmpeg into ``name`` (the extension picks the muxer)."""
    out = tmp / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=1", *args, str(out)],
        check=True,
        timeout=60,
    )
    return out.read_bytes()
