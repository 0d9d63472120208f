"""The door check of uploaded images (``check_image``): allowlist, declared size, truncation."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mediakit.errors import ProcessingError
from mediakit.processing.images import CheckedImage, check_image, pixel_limit
from tests.fixtures_media import gif_bytes, jpeg_bytes, png_bytes, webp_bytes
from tests.hostile_images import BOMB_SIZES, tiny_bomb_png
from tests.quick import examples

CAP = 100_000_000


class CountingReader(io.BytesIO):
    """A file that remembers how many bytes were read from it."""

    consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data


def encoded(fmt: str, **save: object) -> bytes:
    """A 600x400 picture in ``fmt``."""
    buf = io.BytesIO()
    mode = "CMYK" if fmt == "JPEG" and save.pop("cmyk", False) else "RGB"
    Image.new(mode, (600, 400), (10, 120, 200, 0)[: len(mode)]).save(buf, fmt, **save)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (jpeg_bytes(800, 600), "JPEG"),
        (encoded("JPEG", progressive=True), "JPEG"),
        (encoded("JPEG", cmyk=True), "JPEG"),
        (png_bytes(800, 600), "PNG"),
        (png_bytes(300, 200, alpha=True), "PNG"),
        (gif_bytes(300, 200), "GIF"),
        (webp_bytes(800, 600), "WEBP"),
    ],
)
def test_good_images_pass_with_their_declared_size(data: bytes, fmt: str) -> None:
    """Every allowed format passes and reports the size its header declares."""
    found = check_image(io.BytesIO(data), max_pixels=CAP)
    with Image.open(io.BytesIO(data)) as im:
        assert found == CheckedImage(fmt, *im.size)


@pytest.mark.parametrize(("width", "height"), BOMB_SIZES)
def test_tiny_bombs_are_refused_naming_the_setting(width: int, height: int) -> None:
    """A 68-byte PNG declaring 20000x20000, 65535x65535 or 2**31-1 x 1 is refused in
    mediakit's words (naming MEDIA_IMAGE_MAX_PIXELS), after reading the header only."""
    src = CountingReader(tiny_bomb_png(width, height))
    with pytest.raises(ProcessingError, match="MEDIA_IMAGE_MAX_PIXELS") as info:
        check_image(src, max_pixels=CAP)
    assert "decompression bomb" in info.value.message
    assert src.consumed <= len(src.getvalue())


def test_declared_size_over_the_setting_is_refused_with_both_numbers() -> None:
    """Under Pillow's threshold but over MEDIA_IMAGE_MAX_PIXELS: refused before decoding."""
    with pytest.raises(ProcessingError) as info:
        check_image(io.BytesIO(tiny_bomb_png(4000, 3000)), max_pixels=10_000_000)
    assert "4000x3000 = 12000000 pixels" in info.value.message
    assert "10000000 pixels set by MEDIA_IMAGE_MAX_PIXELS" in info.value.message
    # at the cap exactly: the header check passes (the file is then found truncated)
    with pytest.raises(ProcessingError, match="truncated or corrupt"):
        check_image(io.BytesIO(tiny_bomb_png(4000, 2500)), max_pixels=10_000_000)


def test_pillow_warning_threshold_counts_as_the_limit() -> None:
    """96 MP is past Pillow's decompression-bomb warning (89.5 MP): refused even though
    MEDIA_IMAGE_MAX_PIXELS (100 MP) would allow it, and the message says so."""
    assert Image.MAX_IMAGE_PIXELS is not None
    assert pixel_limit(CAP) == Image.MAX_IMAGE_PIXELS < CAP
    assert pixel_limit(1000) == 1000
    with pytest.raises(ProcessingError) as info:
        check_image(io.BytesIO(tiny_bomb_png(12000, 8000)), max_pixels=CAP)
    # Pillow warns inside Image.open; under "error" warning filters (as in this suite)
    # the warning itself is the refusal, otherwise the header check refuses: same limit.
    assert "MEDIA_IMAGE_MAX_PIXELS" in info.value.message
    assert str(Image.MAX_IMAGE_PIXELS) in info.value.message
    assert "decompression bomb" in info.value.message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("jpeg", jpeg_bytes(800, 600)),
        ("progressive jpeg", encoded("JPEG", progressive=True)),
        ("png", png_bytes(800, 600)),
        ("webp", webp_bytes(800, 600)),
    ],
)
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_images_are_refused(name: str, data: bytes, keep: float) -> None:
    """A file cut anywhere after its header is refused as truncated or corrupt."""
    cut = data[: int(len(data) * keep)]
    with pytest.raises(ProcessingError):
        check_image(io.BytesIO(cut), max_pixels=CAP)


def test_truncated_gif_first_frame_is_refused() -> None:
    """A GIF cut inside the first frame (the one thumbnails use) is refused."""
    data = gif_bytes(300, 200, frames=1)
    with pytest.raises(ProcessingError, match="truncated or corrupt"):
        check_image(io.BytesIO(data[: len(data) // 2]), max_pixels=CAP)


def test_corrupt_png_chunk_is_refused() -> None:
    """A flipped byte inside a PNG chunk fails its CRC: refused."""
    data = bytearray(png_bytes(300, 200))
    data[len(data) // 2] ^= 0xFF  # inside the IDAT chunk
    with pytest.raises(ProcessingError, match="truncated or corrupt"):
        check_image(io.BytesIO(bytes(data)), max_pixels=CAP)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "PPM", "ICO"])
def test_formats_outside_the_allowlist_are_refused(fmt: str) -> None:
    """Pillow could decode these, but they are not on the allowlist."""
    with pytest.raises(ProcessingError, match="Not a supported image"):
        check_image(io.BytesIO(encoded(fmt)), max_pixels=CAP)


def test_formats_narrow_the_allowlist() -> None:
    """A PNG is refused when only the sniffed JPEG format may decode it."""
    with pytest.raises(ProcessingError, match="Not a supported image"):
        check_image(io.BytesIO(png_bytes()), max_pixels=CAP, formats=["JPEG"])
    with pytest.raises(ProcessingError, match="can be decoded here"):
        check_image(io.BytesIO(png_bytes()), max_pixels=CAP, formats=["BMP"])


@settings(max_examples=examples(150), deadline=None)
@given(st.binary(max_size=600), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]))
def test_any_bytes_pass_or_raise_processing_error(tail: bytes, head: bytes) -> None:
    """For any input the check returns a result or raises ProcessingError, nothing else."""
    try:
        found = check_image(io.BytesIO(head + tail), max_pixels=CAP)
    except ProcessingError:
        return
    assert found.width * found.height <= pixel_limit(CAP)


def test_a_png_with_a_broken_data_stream_fails_processing() -> None:
    """A PNG whose deflate data is damaged (CRCs recomputed) passes the door check but its
    thumbnails are refused: reading its EXIF first must not swallow the decode error."""
    from mediakit.processing.images import make_thumbnails
    from tests.hostile_images import corrupt_png

    data = corrupt_png()
    assert check_image(io.BytesIO(data), max_pixels=CAP).format == "PNG"
    with pytest.raises(ProcessingError, match="truncated or corrupt"):
        make_thumbnails(io.BytesIO(data), (160,), max_pixels=CAP)


def test_bomb_warning_turned_error_by_the_app_is_a_bomb_refusal() -> None:
    """An app running with Pillow's DecompressionBombWarning as an error gets mediakit's
    refusal naming the setting, not a stray warning exception."""
    import warnings

    data = io.BytesIO(tiny_bomb_png(12000, 8000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ProcessingError, match="MEDIA_IMAGE_MAX_PIXELS"):
            check_image(data, max_pixels=CAP)
