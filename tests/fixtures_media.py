"""Sample media generated on the fly for tests: images with Pillow, audio with real ffmpeg.

Other test packages may import these helpers. Nothing here is a mock: the files are real
JPEG/PNG/GIF/WebP images and real FLAC/WAV/MP3/Ogg/M4A audio.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

__all__ = [
    "AUDIO_FORMATS",
    "bomb_png",
    "ffmpeg_exe",
    "gif_bytes",
    "jpeg_bytes",
    "png_bytes",
    "sine_audio",
    "webp_bytes",
]

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A picture whose left half is red and right half blue (to check orientation)."""
    im = Image.new(mode, (width, height), "red")
    ImageDraw.Draw(im).rectangle((width // 2, 0, width, height), fill="blue")
    return im


def jpeg_bytes(
    width: int = 400,
    height: int = 300,
    *,
    orientation: int | None = None,
    gps: bool = True,
    comment: bytes | None = b"secret comment",
    quality: int = 85,
    icc: bool = False,
) -> bytes:
    """A JPEG with EXIF (camera model, optional orientation, GPS position) and a comment."""
    im = _picture(width, height)
    exif = Image.Exif()
    exif[0x0110] = "SecretCam 9000"  # Model
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 17.0)})
    kwargs: dict[str, object] = {"exif": exif.tobytes(), "quality": quality}
    if comment is not None:
        kwargs["comment"] = comment
    if icc:
        from PIL import ImageCms

        kwargs["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def png_bytes(width: int = 300, height: int = 200, *, alpha: bool = False) -> bytes:
    """A PNG with a text chunk (which derivatives must not carry)."""
    from PIL import PngImagePlugin

    im = _picture(width, height, "RGBA" if alpha else "RGB")
    if alpha:
        im.putalpha(128)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret text chunk")
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def gif_bytes(width: int = 120, height: int = 80, *, frames: int = 3) -> bytes:
    """An animated GIF whose first frame is red and later frames green."""
    first = Image.new("RGB", (width, height), "red")
    rest = [Image.new("RGB", (width, height), "green") for _ in range(frames - 1)]
    buf = io.BytesIO()
    first.save(buf, "GIF", save_all=True, append_images=rest, duration=100, loop=0)
    return buf.getvalue()


def webp_bytes(width: int = 200, height: int = 100) -> bytes:
    """A lossy WebP."""
    buf = io.BytesIO()
    _picture(width, height).save(buf, "WEBP", quality=80)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb).

    The IDAT holds one compressed row only; a decoder that trusted the header would try to
    allocate width*height*3 bytes.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * (width * 3), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def ffmpeg_exe() -> str | None:
    """The ffmpeg the tests use: imageio-ffmpeg's, else the one on PATH, else ``None``."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:
        return shutil.which("ffmpeg")


AUDIO_FORMATS: dict[str, tuple[str, list[str], str]] = {
    # name: (extension, encoder args, sniffed MIME type)
    "flac": ("flac", ["-c:a", "flac", "-f", "flac"], "audio/flac"),
    "wav": ("wav", ["-c:a", "pcm_s16le", "-f", "wav"], "audio/wav"),
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"], "audio/mpeg"),
    "ogg": ("ogg", ["-c:a", "libopus", "-b:a", "64k", "-f", "ogg"], "audio/ogg"),
    "m4a": ("m4a", ["-c:a", "aac", "-b:a", "96k", "-f", "ipod"], "audio/mp4"),
}
"""Audio formats :func:`sine_audio` writes."""


def sine_audio(
    directory: Path,
    fmt: str = "flac",
    *,
    seconds: float = 2.0,
    sample_rate: int = 44100,
    channels: int = 2,
    ffmpeg: str | None = None,
    tags: bool = True,
) -> Path:
    """Write a sine tone of ``seconds`` in ``fmt`` (a key of :data:`AUDIO_FORMATS`)."""
    exe = ffmpeg or ffmpeg_exe()
    if exe is None:
        raise RuntimeError("ffmpeg is needed to generate audio")
    ext, args, _ = AUDIO_FORMATS[fmt]
    out = directory / f"sine-{seconds:g}s-{sample_rate}-{channels}ch.{ext}"
    meta = ["-metadata", "title=Secret Title", "-metadata", "comment=private"] if tags else []
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
    subprocess.run(
        [
            exe,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate={sample_rate}:duration={seconds}",
            "-af",
            f"aformat=channel_layouts={layout}" if channels <= 2 else f"pan={layout}|c0=c0",
            *meta,
            *args,
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out
