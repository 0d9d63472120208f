"""make_thumbnails: allowlist, pixel cap, orientation, metadata stripping, sizes."""

from __future__ import annotations

import io
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from mediakit.errors import ProcessingError
from mediakit.processing.images import (
    ALLOWED_FORMATS,
    Thumbnail,
    fit_box,
    make_thumbnails,
)
from tests.fixtures_media import bomb_png, gif_bytes, jpeg_bytes, png_bytes, webp_bytes
from tests.quick import examples

SIZES = (320, 640, 1280)
CAP = 100_000_000


def thumbs(data: bytes, sizes: tuple[int, ...] = SIZES, **kw: object) -> tuple[Thumbnail, ...]:
    return make_thumbnails(io.BytesIO(data), sizes, max_pixels=CAP, **kw).thumbnails  # type: ignore[arg-type]


def decode(t: Thumbnail) -> Image.Image:
    im = Image.open(io.BytesIO(t.data))
    assert im.format == "WEBP"
    im.load()
    return im


def test_thumbnails_are_webp_at_each_size_longest_side() -> None:
    """Each size gives a WebP whose longest side is that size, aspect kept."""
    result = make_thumbnails(io.BytesIO(jpeg_bytes(3000, 2000)), SIZES, max_pixels=CAP)
    assert (result.width, result.height, result.format) == (3000, 2000, "JPEG")
    assert [(t.size, t.width, t.height) for t in result.thumbnails] == [
        (320, 320, 213),
        (640, 640, 427),
        (1280, 1280, 853),
    ]
    for t in result.thumbnails:
        assert t.content_type == "image/webp"
        assert decode(t).size == (t.width, t.height)


def test_sizes_never_upscale() -> None:
    """A small image gives thumbnails at its own size for sizes larger than it."""
    result = thumbs(jpeg_bytes(200, 100), (64, 320, 640))
    assert [(t.size, t.width, t.height) for t in result] == [
        (64, 64, 32),
        (320, 200, 100),
        (640, 200, 100),
    ]


def test_orientation_6_swaps_dimensions_and_rotates_pixels() -> None:
    """EXIF orientation 6 (rotate 90 CW) is applied: dims swap, red left half ends on top."""
    result = make_thumbnails(
        io.BytesIO(jpeg_bytes(400, 300, orientation=6)), (100, 1000), max_pixels=CAP
    )
    assert (result.width, result.height) == (300, 400)
    small, big = result.thumbnails
    assert (small.width, small.height) == (75, 100)
    assert (big.width, big.height) == (300, 400)
    im = decode(big).convert("RGB")
    top, bottom = im.getpixel((150, 20)), im.getpixel((150, 380))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200, top  # red on top
    assert top[2] < 60, top
    assert bottom[2] > 200, bottom  # blue at the bottom
    assert bottom[0] < 60, bottom


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(jpeg_bytes(800, 600, orientation=6, icc=True), id="jpeg-exif-gps-icc-comment"),
        pytest.param(png_bytes(), id="png-text-chunk"),
        pytest.param(png_bytes(alpha=True), id="png-alpha"),
    ],
)
def test_no_metadata_in_any_thumbnail(data: bytes) -> None:
    """No EXIF, GPS, XMP, ICC profile, comment or text chunk survives into a thumbnail."""
    for t in thumbs(data):
        im = decode(t)
        assert len(im.getexif()) == 0
        assert not im.info.get("exif")
        assert not im.info.get("icc_profile")
        assert not im.info.get("xmp")
        for marker in (b"Exif", b"EXIF", b"GPS", b"ICCP", b"XMP", b"secret", b"SecretCam"):
            assert marker not in t.data, marker


def test_alpha_is_kept() -> None:
    """A translucent PNG gives thumbnails with an alpha channel."""
    (t,) = thumbs(png_bytes(alpha=True), (100,))
    assert decode(t).mode == "RGBA"


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [
        ("I;16", 30000, (117, 117, 117)),
        ("L", 128, (128, 128, 128)),
        ("1", 1, (255, 255, 255)),
        ("P", 0, (0, 0, 0)),
    ],
)
def test_png_modes_become_rgb_with_the_right_levels(
    mode: str, color: int, expected: tuple[int, int, int]
) -> None:
    """16-bit grey is scaled to 8 bits (not clipped to white); other modes convert to RGB."""
    buf = io.BytesIO()
    Image.new(mode, (60, 40), color).save(buf, "PNG")
    (t,) = thumbs(buf.getvalue(), (30,))
    px = decode(t).convert("RGB").getpixel((5, 5))
    assert isinstance(px, tuple)
    assert all(abs(a - b) <= 2 for a, b in zip(px, expected, strict=True)), px


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    """A CMYK JPEG (as print workflows make) gives correct RGB thumbnails."""
    buf = io.BytesIO()
    Image.new("CMYK", (60, 40), (0, 255, 0, 0)).save(buf, "JPEG")
    (t,) = thumbs(buf.getvalue(), (30,))
    r, g, b = decode(t).convert("RGB").getpixel((5, 5))  # type: ignore[misc]
    assert r > 230
    assert g < 30
    assert b > 230


@pytest.mark.parametrize(
    ("mode", "fmt", "color", "expected"),
    [
        ("I;16", "PNG", 30000, (117, 117, 117, 255)),
        ("L", "PNG", 128, (128, 128, 128, 255)),
        ("P", "PNG", 0, (0, 0, 0, 255)),
        ("CMYK", "JPEG", (0, 255, 0, 0), (255, 0, 255, 255)),
        ("RGBA", "PNG", (200, 30, 30, 255), (200, 30, 30, 255)),
    ],
)
def test_modes_through_the_strip_resize_keep_levels_and_alpha(
    mode: str, fmt: str, color: object, expected: tuple[int, int, int, int]
) -> None:
    """Images big enough for the largest thumbnail's strip resize (1400x1000 to 700x500)
    keep their levels in every mode; an RGBA image's transparent right half stays
    transparent and its opaque left half keeps its colour (alpha premultiplied once)."""
    im = Image.new(mode, (1400, 1000), color)  # type: ignore[arg-type]
    if mode == "RGBA":
        im.paste((0, 0, 255, 0), (700, 0, 1400, 1000))
    buf = io.BytesIO()
    im.save(buf, fmt)
    (t,) = thumbs(buf.getvalue(), (700,))
    assert (t.width, t.height) == (700, 500)
    out = decode(t).convert("RGBA")
    left = out.getpixel((100, 250))
    assert isinstance(left, tuple)
    assert all(abs(a - b) <= 6 for a, b in zip(left, expected, strict=True)), left
    if mode == "RGBA":
        right = out.getpixel((600, 250))
        assert isinstance(right, tuple)
        assert right[3] == 0, right


def test_gif_uses_the_first_frame() -> None:
    """An animated GIF gives a still thumbnail of its first (red) frame."""
    (t,) = thumbs(gif_bytes(), (60,))
    im = decode(t).convert("RGB")
    assert getattr(im, "n_frames", 1) == 1
    r, g, _ = im.getpixel((10, 10))  # type: ignore[misc]
    assert r > 200
    assert g < 60


def test_webp_and_avif_inputs_are_decoded() -> None:
    """WebP (and AVIF where this Pillow decodes it) are allowed inputs."""
    assert thumbs(webp_bytes(), (50,))[0].width == 50
    if "AVIF" in ALLOWED_FORMATS:
        buf = io.BytesIO()
        Image.new("RGB", (120, 60), "green").save(buf, "AVIF")
        assert thumbs(buf.getvalue(), (60,))[0].height == 30


def test_decompression_bomb_refused_by_pillow_limit() -> None:
    """A PNG claiming 50000x50000 pixels is refused without decoding it."""
    with pytest.raises(ProcessingError, match="decompression bomb"):
        make_thumbnails(io.BytesIO(bomb_png()), SIZES, max_pixels=CAP)


def test_pixel_cap_checked_from_header_before_decoding() -> None:
    """Over ``max_pixels`` is refused from the header: the message names the cap's setting."""
    with pytest.raises(ProcessingError, match="MEDIA_IMAGE_MAX_PIXELS"):
        # The body holds one row only: decoding it would report a truncated file instead.
        make_thumbnails(io.BytesIO(bomb_png(9000, 9000)), SIZES, max_pixels=50_000_000)
    with pytest.raises(ProcessingError, match="over the limit of 1000"):
        make_thumbnails(io.BytesIO(jpeg_bytes(100, 100)), SIZES, max_pixels=1000)


def _other_format(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_other_format("BMP"), id="bmp"),
        pytest.param(_other_format("TIFF"), id="tiff"),
        pytest.param(_other_format("PPM"), id="ppm"),
        pytest.param(_other_format("ICO"), id="ico"),
        pytest.param(
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>',
            id="svg",
        ),
        pytest.param(b"<html><body>hi</body></html>", id="html"),
        pytest.param(b"", id="empty"),
    ],
)
def test_formats_outside_the_allowlist_are_refused(data: bytes) -> None:
    """BMP, TIFF, PPM, ICO, SVG, HTML and empty input are refused with ProcessingError."""
    with pytest.raises(ProcessingError, match="Not a supported image"):
        thumbs(data)


def test_formats_argument_narrows_the_allowlist() -> None:
    """A PNG is refused when the upload was sniffed as JPEG (formats=["JPEG"])."""
    with pytest.raises(ProcessingError, match="allowed formats are JPEG"):
        thumbs(png_bytes(), formats=["JPEG"])
    assert thumbs(png_bytes(), (10,), formats=["PNG"])[0].width == 10


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_jpeg_is_a_processing_error(cut: float) -> None:
    """A JPEG cut short is refused with ProcessingError (never a half-grey thumbnail)."""
    data = jpeg_bytes(600, 400, quality=95)
    with pytest.raises(ProcessingError, match="truncated or corrupt"):
        thumbs(data[: int(len(data) * cut)])


def test_truncated_png_is_a_processing_error() -> None:
    """A PNG cut short is refused with ProcessingError."""
    data = png_bytes(500, 500)
    with pytest.raises(ProcessingError):
        thumbs(data[: len(data) // 2])


def test_path_input_works(tmp_path: pytest.TempPathFactory) -> None:
    """``src`` may be a path."""
    path = tmp_path / "a.jpg"  # type: ignore[operator]
    path.write_bytes(jpeg_bytes(100, 50))
    assert make_thumbnails(str(path), (40,), max_pixels=CAP).thumbnails[0].height == 20


def test_bad_sizes_are_a_value_error() -> None:
    """No sizes, or a non-positive size, is a programming error."""
    with pytest.raises(ValueError):
        thumbs(jpeg_bytes(), ())
    with pytest.raises(ValueError):
        thumbs(jpeg_bytes(), (0, 10))


@given(w=st.integers(1, 20_000), h=st.integers(1, 20_000), size=st.integers(1, 5000))
def test_fit_box_fits_and_never_upscales(w: int, h: int, size: int) -> None:
    """fit_box never exceeds the box or the image, and fills the box when the image is bigger."""
    fw, fh = fit_box(w, h, size)
    assert 1 <= fw <= w
    assert 1 <= fh <= h
    assert max(fw, fh) <= max(size, max(w, h) if max(w, h) <= size else size)
    if max(w, h) > size:
        assert max(fw, fh) == size


_SEED = jpeg_bytes(64, 48, quality=90)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(
            lambda i, b: _SEED[:i] + bytes([b]) + _SEED[i + 1 :],
            st.integers(0, len(_SEED) - 1),
            st.integers(0, 255),
        ),
        st.builds(lambda i: _SEED[:i], st.integers(0, len(_SEED))),
    )
)
def test_any_bytes_give_thumbnails_or_processing_error(data: bytes) -> None:
    """Arbitrary, mutated or truncated input either gives thumbnails or raises ProcessingError."""
    try:
        result = make_thumbnails(io.BytesIO(data), (32,), max_pixels=10_000_000)
    except ProcessingError:
        return
    assert result.thumbnails[0].width <= 32


@pytest.mark.parametrize("size", [(1200, 800), (2600, 1800)])
def test_encode_threads_one_gives_the_same_thumbnails_on_the_calling_thread(
    size: tuple[int, int],
) -> None:
    """encode_threads=1 encodes inline and writes byte-identical thumbnails; 0 is refused.
    2600x1800: the 1280 is resized in strips, on threads or inline, to the same pixels."""
    data = jpeg_bytes(*size)
    threaded = thumbs(data)
    inline = thumbs(data, encode_threads=1)
    assert [t.data for t in inline] == [t.data for t in threaded]
    with pytest.raises(ValueError, match="encode_threads"):
        thumbs(data, encode_threads=0)


def _spy_resizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, int], bool]]:
    """Record (thread name, output size, whether a source box was given) of each resize."""
    import threading

    calls: list[tuple[str, tuple[int, int], bool]] = []
    real = Image.Image.resize

    def spy(self: Image.Image, size: tuple[int, int], *args: object, **kw: object) -> Image.Image:
        calls.append((threading.current_thread().name, tuple(size), kw.get("box") is not None))  # type: ignore[arg-type]
        return real(self, size, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "resize", spy)
    return calls


def test_largest_resize_runs_as_strips_on_the_encode_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 1280 of a 2600x1800 JPEG (1280x886) is resized as two strips of output rows
    (443 + 443), each a horizontal pass over the source rows it reads (not all 1800) and
    a vertical one, each on a worker thread when threads are allowed, on the calling
    thread with encode_threads=1; the smaller sizes are one resize each."""
    import threading

    calls = _spy_resizes(monkeypatch)
    result = thumbs(jpeg_bytes(2600, 1800), SIZES)
    strips = [c for c in calls if c[2]]
    assert len(strips) == 4, calls
    assert {c[1][0] for c in strips} == {1280}
    heights = sorted(c[1][1] for c in strips)
    assert heights[:2] == [443, 443]
    assert result[-1].height == 443 + 443
    assert all(900 < h < 1000 for h in heights[2:]), heights  # half the rows + the filter's reach
    main = threading.current_thread().name
    assert all(c[0] != main for c in strips), strips
    assert [c[1] for c in calls if not c[2]] == [(640, 443), (320, 222)]

    calls.clear()
    thumbs(jpeg_bytes(2600, 1800), SIZES, encode_threads=1)
    assert [c[0] for c in calls if c[2]] == [main] * 4


def test_a_big_decoded_image_is_resized_in_more_strips_copying_little(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 4200x3000 PNG (50 MB decoded) is resized to its 1280 in 4 strips, so each copies
    about a quarter of the source rows (<= 16 MiB), not the whole image."""
    buf = io.BytesIO()
    Image.new("RGB", (4200, 3000), (10, 200, 30)).save(buf, "PNG")
    calls = _spy_resizes(monkeypatch)
    (t,) = thumbs(buf.getvalue(), (1280,))
    strips = [c for c in calls if c[2]]
    horizontal = sorted(c[1][1] for c in strips)[4:]
    assert len(strips) == 8, calls
    assert all(750 <= h <= 780 for h in horizontal), horizontal
    assert sum(c[1][1] for c in strips) - sum(horizontal) == t.height


_MODES = st.sampled_from(["RGB", "RGBA", "L", "LA", "CMYK"])


@given(
    width=st.integers(1, 2400),
    height=st.integers(1, 2400),
    box=st.integers(1, 1280),
    mode=_MODES,
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_resize_in_strips_is_pillows_bicubic_without_seams(
    width: int, height: int, box: int, mode: str, seed: int
) -> None:
    """The largest thumbnail's strip resize, at any size, aspect, shrink factor (past 4x a
    box reduce runs first) and mode, alpha included: the same pixels with or without
    threads; when no reduce runs, within 1 level of Pillow's two bicubic passes done on
    the whole image (horizontal, then vertical); and >= 45 dB PSNR from Pillow's
    ``resize(BICUBIC, reducing_gap=2.0)`` (which runs the passes the other way round for
    some shapes) on pure noise, the worst case for rounding."""
    from concurrent.futures import ThreadPoolExecutor

    from mediakit.processing.images import _resize_in_strips

    rnd = random.Random(seed)
    noise = Image.frombytes("L", (width, height), rnd.randbytes(width * height))
    im = Image.merge("RGB", (noise, noise.transpose(Image.Transpose.ROTATE_180), noise)).convert(
        mode
    )
    size = fit_box(width, height, box)
    inline = _resize_in_strips(im, size, None)
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = _resize_in_strips(im, size, pool)
    assert inline.mode == mode
    assert inline.size == size
    assert inline.tobytes() == threaded.tobytes()
    pillow = im.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    if mode in ("RGB", "L", "CMYK") and width < 4 * size[0] and height < 4 * size[1]:
        passes = (
            im.resize((size[0], height), Image.Resampling.BICUBIC).resize(
                size, Image.Resampling.BICUBIC
            )
            if size[1] >= 128
            else pillow
        )
        for got, ref in zip(inline.split(), passes.split(), strict=True):
            assert ImageChops.difference(got, ref).getextrema()[1] <= 1  # type: ignore[operator]
    assert _psnr(inline, pillow) >= 45


def test_large_rotated_jpeg_is_resized_in_the_decoder_frame_then_rotated() -> None:
    """Orientation 6 on a JPEG big enough for the draft decode and the strip resize: the
    1280 is upright (red half on top) at the swapped size."""
    result = make_thumbnails(
        io.BytesIO(jpeg_bytes(2600, 1800, orientation=6)), (320, 1280), max_pixels=CAP
    )
    assert (result.width, result.height) == (1800, 2600)
    small, big = result.thumbnails
    assert (big.width, big.height) == fit_box(1800, 2600, 1280)
    assert (small.width, small.height) == fit_box(1800, 2600, 320)
    im = decode(big).convert("RGB")
    top, bottom = im.getpixel((im.width // 2, 40)), im.getpixel((im.width // 2, im.height - 40))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200, top  # red on top
    assert top[2] < 60, top
    assert bottom[2] > 200, bottom  # blue at the bottom
    assert bottom[0] < 60, bottom


def test_jpeg_is_decoded_at_the_dct_scale_of_the_largest_real_box(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 3000x2000 JPEG for a 640 box (640x427) decodes at 1/2 scale (1500x1000): the
    smallest DCT scale that leaves a factor of 2 for the resize, and no larger.

    1/4 scale (750x500) would leave the block average to do the downscale (it aliases fine
    texture); asking draft for twice the square 640x640 box would decode at full size.
    """
    from PIL import JpegImagePlugin

    decoded: list[tuple[int, int]] = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spy_load(self: JpegImagePlugin.JpegImageFile) -> object:
        decoded.append(self.size)  # the size the decoder will produce, set by draft()
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy_load)
    result = thumbs(jpeg_bytes(3000, 2000), (320, 640))
    assert set(decoded) == {(1500, 1000)}, decoded
    assert [(t.width, t.height) for t in result] == [(320, 213), (640, 427)]


def _swapped_primaries_profile() -> bytes:
    """An RGB profile whose red and blue primaries are swapped: stored red *means* blue."""
    import struct

    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", icc, 128)
    tags = {bytes(icc[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, b = tags[b"rXYZ"], tags[b"bXYZ"]
    icc[r + 4 : r + 12], icc[b + 4 : b + 12] = icc[b + 4 : b + 12], icc[r + 4 : r + 12]
    return bytes(icc)


def _red_jpeg(**save: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG", quality=95, **save)
    return buf.getvalue()


def test_embedded_profile_other_than_srgb_is_converted_to_srgb() -> None:
    """Pixels tagged with a non-sRGB profile are converted: red in a red/blue-swapped space is blue."""
    (t,) = thumbs(_red_jpeg(icc_profile=_swapped_primaries_profile()), (32,))
    r, _, b = decode(t).convert("RGB").getpixel((5, 5))  # type: ignore[misc]
    assert b > 150
    assert r < 80


def test_srgb_profile_is_skipped_and_leaves_pixels_as_an_untagged_image() -> None:
    """An sRGB-tagged image (what cameras write) gives exactly the untagged image's thumbnails,
    and its profile is recognised as a no-op (no per-pixel transform); others are not."""
    from PIL import ImageCms

    from mediakit.processing.images import _srgb_transform

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged, plain = thumbs(_red_jpeg(icc_profile=srgb), (32,)), thumbs(_red_jpeg(), (32,))
    assert [t.data for t in tagged] == [t.data for t in plain]
    assert _srgb_transform(srgb, "RGB", "RGB") is None
    assert _srgb_transform(_swapped_primaries_profile(), "RGB", "RGB") is not None


# --- resize chain and encoder settings (issue 15) ---------------------------------------


def _striped_jpeg(width: int = 2400, height: int = 1600, period: int = 6) -> bytes:
    """Fine vertical stripes (period 6 px) over gradients: detail that a thumbnail must
    smooth away, and that a block-average (DCT-scale) downscale aliases into moire."""
    row = bytes(int(128 + 60 * math.sin(2 * math.pi * x / period)) for x in range(width))
    stripes = Image.frombytes("L", (width, 1), row).resize((width, height))
    ramp = Image.linear_gradient("L").resize((width, height))
    im = Image.merge("RGB", (stripes, ramp, stripes.transpose(Image.Transpose.ROTATE_180)))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _photo_like_jpeg(width: int = 2400, height: int = 1600) -> bytes:
    """Gradients, coarse texture and fine grain from a seeded generator (reproducible)."""
    rnd = random.Random(15)
    coarse = Image.frombytes(
        "L", (width // 8, height // 8), rnd.randbytes(width * height // 64)
    ).resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.frombytes("L", (width, height), rnd.randbytes(width * height))
    ramp = Image.linear_gradient("L").resize((width, height))
    im = Image.merge(
        "RGB",
        (
            Image.blend(ramp, coarse, 0.5),
            Image.blend(coarse, grain, 0.1),
            Image.blend(
                ramp.transpose(Image.Transpose.ROTATE_90).resize((width, height)), grain, 0.05
            ),
        ),
    )
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _psnr(a: Image.Image, b: Image.Image) -> float:
    hist = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    mse = sum(n * (i % 256) ** 2 for i, n in enumerate(hist)) / (a.width * a.height * 3)
    return 10 * math.log10(255**2 / mse) if mse else math.inf


def _lanczos_reference(data: bytes, size: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as full:
        full.load()
        return full.convert("RGB").resize(fit_box(*full.size, size), Image.Resampling.LANCZOS)


def test_fine_detail_is_smoothed_not_aliased() -> None:
    """Near-lossless thumbnails of fine stripes stay close to a full-resolution Lanczos
    downscale (> 41 dB PSNR). Decoding at the DCT scale that just covers the box (1/4 here)
    left the block average to do the downscale: 37.1 / 33.9 dB, visible moire."""
    data = _striped_jpeg()
    for t in thumbs(data, (300, 500), quality=100):
        assert _psnr(decode(t), _lanczos_reference(data, t.size)) > 41, t.size


def test_default_files_are_no_larger_than_pillows_at_equal_quality() -> None:
    """With the defaults, each thumbnail is at most 1.05x the bytes of Pillow's own
    ``thumbnail()`` + ``save("WEBP")`` (quality 80, method 4) and no further from a Lanczos
    reference (within 0.1 dB PSNR). The previous chain (DCT scale just covering the box,
    Lanczos, WebP method 0) wrote 1.08x the bytes at 1280 here."""
    data = _photo_like_jpeg()
    for t in thumbs(data, SIZES):
        ref = _lanczos_reference(data, t.size)
        with Image.open(io.BytesIO(data)) as naive:
            naive.thumbnail((t.size, t.size))
            buf = io.BytesIO()
            naive.save(buf, "WEBP")
        assert len(t.data) <= 1.05 * len(buf.getvalue()), (t.size, len(t.data), len(buf.getvalue()))
        assert _psnr(decode(t), ref) >= _psnr(Image.open(buf), ref) - 0.1, t.size


def test_quality_and_method_are_passed_to_the_encoder() -> None:
    """``quality`` and ``method`` change the files (lower quality: smaller); out of range is
    a ValueError naming the argument."""
    data = _photo_like_jpeg(1200, 800)
    (default,) = thumbs(data, (640,))
    (low,) = thumbs(data, (640,), quality=40)
    (fast,) = thumbs(data, (640,), method=0)
    assert len(low.data) < len(default.data)
    assert fast.data != default.data
    assert (fast.width, fast.height) == (default.width, default.height)
    for bad in ({"quality": 0}, {"quality": 101}, {"method": -1}, {"method": 7}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            thumbs(data, (64,), **bad)


def test_palette_with_transparency_keeps_its_alpha() -> None:
    """A P-mode PNG with a transparent index gives an RGBA thumbnail, transparent there."""
    im = Image.new("P", (400, 200), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (200, 0, 400, 200))
    buf = io.BytesIO()
    im.save(buf, "PNG", transparency=1)
    (t,) = thumbs(buf.getvalue(), (100,))
    out = decode(t)
    assert out.mode == "RGBA"
    assert (t.width, t.height) == (100, 50)
    left, right = out.getpixel((10, 25)), out.getpixel((90, 25))
    assert isinstance(left, tuple)
    assert isinstance(right, tuple)
    assert left[3] == 255, left
    assert left[0] > 200, left
    assert right[3] == 0, right


@pytest.mark.parametrize(("width", "height"), [(4000, 300), (300, 4000), (2501, 1667)])
def test_extreme_and_odd_aspects_keep_their_shape(width: int, height: int) -> None:
    """Panoramas, tall strips and odd sizes come out at fit_box's size for every thumbnail,
    whatever DCT scale the decode used."""
    for t in thumbs(jpeg_bytes(width, height), SIZES):
        assert (t.width, t.height) == fit_box(width, height, t.size)
        assert decode(t).size == (t.width, t.height)
