"""Content sniffing with libmagic: real images and audio are recognised and normalized;
text formats, archives and unknown bytes are refused whatever their name says."""

from __future__ import annotations

import io
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from mediakit.errors import UnsupportedMediaType
from mediakit.uploads.sniff import (
    AUDIO_TYPES,
    IMAGE_TYPES,
    SNIFF_BYTES,
    check_type,
    detect_type,
    heic_supported,
    image_types,
    normalize,
    sniff,
)
from tests import servers
from tests.uploads._forms import audio_bytes, image_bytes


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_allowed_images_are_detected_from_their_bytes(fmt: str, mime: str) -> None:
    assert sniff(image_bytes(fmt), filename="x.txt", allowed=IMAGE_TYPES, kind="image") == mime


def test_avif_is_allowed_exactly_when_pillow_can_decode_it() -> None:
    from PIL import features

    decodable = bool(features.check("avif"))
    assert ("image/avif" in image_types()) is decodable
    if decodable:
        data = image_bytes("AVIF")
        assert sniff(data, filename="a.avif", allowed=IMAGE_TYPES, kind="image") == "image/avif"


def test_heic_is_allowed_only_with_pillow_heif() -> None:
    assert ("image/heic" in image_types()) is heic_supported()
    if not heic_supported():
        with pytest.raises(UnsupportedMediaType, match="image/heic"):
            check_type("image/heic", IMAGE_TYPES, filename="p.heic", kind="image")


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_other_image_formats_are_refused(fmt: str) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        sniff(image_bytes(fmt), filename="photo.jpg", allowed=IMAGE_TYPES, kind="image")
    assert info.value.http_status == 415
    assert "'photo.jpg'" in info.value.message


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    servers.need(
        shutil.which("ffmpeg") is not None, "ffmpeg is not installed: apt-get install ffmpeg"
    )
    return tmp_path_factory.mktemp("audio")


AUDIO_CASES = [
    ("s.flac", (), "audio/flac"),
    ("s.mp3", (), "audio/mpeg"),
    ("noid3.mp3", ("-id3v2_version", "0", "-write_xing", "0"), "audio/mpeg"),
    ("s.aac", ("-c:a", "aac", "-f", "adts"), "audio/aac"),
    ("s.m4a", ("-c:a", "aac"), "audio/mp4"),
    ("s.mp4", ("-c:a", "aac", "-f", "mp4"), "audio/mp4"),
    ("s.ogg", ("-c:a", "libvorbis"), "audio/ogg"),
    ("s.opus", ("-c:a", "libopus"), "audio/ogg"),
    ("s.wav", (), "audio/wav"),
]


@pytest.mark.ffmpeg
@pytest.mark.parametrize(("name", "args", "mime"), AUDIO_CASES, ids=[c[0] for c in AUDIO_CASES])
def test_allowed_audio_is_detected_and_normalized(
    audio_dir: Path, name: str, args: tuple[str, ...], mime: str
) -> None:
    data = audio_bytes(audio_dir, name, *args)
    got = sniff(data[:SNIFF_BYTES], filename="track.bin", allowed=AUDIO_TYPES, kind="audio")
    assert got == mime
    assert got in AUDIO_TYPES


@pytest.mark.ffmpeg
def test_audio_is_not_accepted_as_an_image(audio_dir: Path) -> None:
    data = audio_bytes(audio_dir, "x.flac")
    with pytest.raises(UnsupportedMediaType, match="audio/flac"):
        sniff(data, filename="cover.png", allowed=IMAGE_TYPES, kind="image")


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.jpg", image_bytes("JPEG"))
    return buf.getvalue()


REFUSED = {
    "svg": (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/svg+xml",
    ),
    "svg-bare": (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
        "image/svg+xml",
    ),
    "html": (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "text/html"),
    "html-with-png-inside": (
        b"<html><body>" + image_bytes("PNG") + b"</body></html>",
        "application/octet-stream",
    ),
    "m3u": (b"#EXTM3U\n#EXTINF:123,Artist - Title\nhttp://example.com/a.mp3\n", "text/plain"),
    "pls": (b"[playlist]\nFile1=http://example.com/a.mp3\nNumberOfEntries=1\n", "text/plain"),
    "zip-of-images": (_zip(), "application/zip"),
    "gzip": (b"\x1f\x8b\x08\x00" + bytes(60), "application/gzip"),
    "elf": (b"\x7fELF\x02\x01\x01" + bytes(120), "application/"),
    "empty": (b"", "application/x-empty"),
    "random": (bytes(range(7, 200)) * 5, "application/octet-stream"),
}


@pytest.mark.parametrize("sample", sorted(REFUSED))
@pytest.mark.parametrize("kind", ["image", "audio"])
def test_text_archives_and_unknown_bytes_are_refused_naming_file_and_type(
    sample: str, kind: str
) -> None:
    data, detected = REFUSED[sample]
    allowed = IMAGE_TYPES if kind == "image" else AUDIO_TYPES
    with pytest.raises(UnsupportedMediaType) as info:
        sniff(data, filename="innocent.jpg", allowed=allowed, kind=kind)
    assert "'innocent.jpg'" in info.value.message
    assert detected in info.value.message


def test_declared_name_never_decides() -> None:
    png = image_bytes("PNG")
    for name in ("a.svg", "a.html", "a.exe", ""):
        assert sniff(png, filename=name, allowed=IMAGE_TYPES, kind="image") == "image/png"


def test_gif_header_polyglot_is_stored_as_a_gif() -> None:
    """A GIF header followed by markup is a GIF to us: served as image/gif, never as HTML."""
    data = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;<script>alert(1)</script>"
    assert sniff(data, filename="x.html", allowed=IMAGE_TYPES, kind="image") == "image/gif"


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("audio/x-flac", "audio/flac"),
        ("audio/x-wav", "audio/wav"),
        ("audio/vnd.wave", "audio/wav"),
        ("audio/x-hx-aac-adts", "audio/aac"),
        ("audio/x-m4a", "audio/mp4"),
        ("application/ogg", "audio/ogg"),
        ("image/jpg", "image/jpeg"),
        ("Image/PNG; charset=binary", "image/png"),
    ],
)
def test_aliases_are_normalized(alias: str, canonical: str) -> None:
    assert normalize(alias) == canonical


def test_mp4_container_is_accepted_only_as_audio() -> None:
    assert check_type("video/mp4", AUDIO_TYPES, filename="t.mp4", kind="audio") == "audio/mp4"
    with pytest.raises(UnsupportedMediaType):
        check_type("video/mp4", IMAGE_TYPES, filename="t.mp4", kind="image")


def test_detection_is_safe_from_many_threads() -> None:
    samples = [
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (b"<html></html>", "text/html"),
    ]
    errors: list[str] = []

    def work() -> None:
        for _ in range(200):
            for data, want in samples:
                got = detect_type(data)
                if got != want:
                    errors.append(got)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_every_accepted_type_is_one_processing_can_decode() -> None:
    """The allowlists and the processing stage agree: nothing accepted is undecodable."""
    from mediakit.processing.audio import MIME_TO_FFMPEG_FORMAT
    from mediakit.processing.images import ALLOWED_FORMATS, MIME_TO_FORMAT

    assert set(AUDIO_TYPES) - set(MIME_TO_FFMPEG_FORMAT) == set()
    assert {MIME_TO_FORMAT[t] for t in image_types()} <= ALLOWED_FORMATS
