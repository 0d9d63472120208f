"""Hostile images for the door checks: tiny PNGs declaring huge sizes, truncated files."""

from __future__ import annotations

import struct
import zlib


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
