"""Hostile images for the door checks: tiny PNGs declaring huge sizes, truncated files."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_bomb_png(width: int, height: int) -> bytes:
    """A PNG of under 80 bytes whose header declares ``width`` x ``height`` RGB pixels.

    Its IDAT holds a few compressed zero bytes: a decoder trusting the header would
    allocate width * height * 3 bytes and find the data missing.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 8, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


BOMB_SIZES: tuple[tuple[int, int], ...] = ((20000, 20000), (65535, 65535), (2**31 - 1, 1))
"""The declared sizes of the issue's bombs (2**31 - 1 is PNG's largest dimension)."""


def corrupt_png() -> bytes:
    """A PNG that passes the door (valid chunk CRCs, plausible data length) and that no
    decoder can decode: its deflate stream is damaged and the CRC recomputed."""
    buf = io.BytesIO()
    Image.effect_noise((300, 200), 60).convert("RGB").save(buf, "PNG")
    data = bytearray(buf.getvalue())
    at = data.index(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    body = at + 4
    for i in range(body + 2, body + length, 7):  # keep the zlib header, wreck the rest
        data[i] ^= 0x5A
    crc = zlib.crc32(bytes(data[at : body + length]))
    data[body + length : body + length + 4] = struct.pack(">I", crc)
    return bytes(data)
