"""Image thumbnails with Pillow: bytes or a file in, WebP thumbnails out.

:func:`check_image` is the door check run on every upload before it is answered (see its
docstring for what it costs); :func:`make_thumbnails` makes the thumbnails later, in the
job. Both are safe on untrusted input:

- **format allowlist**: only JPEG, PNG, WebP, GIF (first frame), and AVIF/HEIF when this
  Pillow can decode them (:data:`ALLOWED_FORMATS`); anything else (BMP, TIFF, SVG, PSD...)
  is refused before a decoder runs;
- **pixel cap from the header**: width x height is checked right after the header is
  parsed, before any pixel is decoded, so a decompression bomb costs a few hundred bytes
  of reading; Pillow's own :class:`~PIL.Image.DecompressionBombError` is translated too;
- **EXIF orientation applied** (the ``ImageOps.exif_transpose`` table) and the oriented
  size recorded;
- **no metadata in derivatives**: EXIF, GPS, XMP, comments and text chunks are never
  copied. Colour: an embedded ICC profile is *converted to sRGB* (LittleCMS) and then
  dropped, so every thumbnail is plain sRGB that every browser shows the same way, and no
  profile (which can carry device or vendor data) travels along; a profile that is already
  sRGB (what most cameras write) is recognised and costs no per-pixel work;
- **small files, one decode**: JPEGs are decoded once with ``Image.draft`` at the smallest
  DCT scale that leaves a factor of 2 for the resize (libjpeg-turbo skips most of the IDCT
  work; closer than that, the DCT scale's block average aliases fine texture); the largest
  thumbnail is resized (bicubic) before orientation and colour are applied, so those run
  on its pixels only; smaller sizes are derived from the next larger (bicubic), and the
  WebP encodes (Pillow's default quality 80 and effort 4: the files are Pillow's
  ``thumbnail`` + ``save`` files' size at the same quality) run in parallel threads (Pillow
  releases the GIL while encoding; ``encode_threads=1`` turns that off), the largest's
  beside the smaller sizes' resizes and encodes; the largest resize itself runs as
  strips on those threads. Nothing is ever upscaled.

Where the time goes (a 24 MP JPEG to 320/640/1280, one core's CPU time; ``python -m
benchmarks thumbnails``): the decode at 1/2 scale ~95 ms (~70 of it the entropy decode, which
no DCT scale skips), the 1280's resize ~55 ms (two strips: ~30 ms wall on two cores), the
1280's method-4 encode ~137 ms; each needs the previous one's pixels, so ~260 ms of wall time
is the floor on any number of cores (the 640 and 320 take ~45 ms beside the 1280's encode).
"""

from __future__ import annotations

import functools
import io
import math
import os
import struct
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, BinaryIO

import attrs
from PIL import Image, ImageChops, ImageCms, UnidentifiedImageError, features

from mediakit.errors import ProcessingError

__all__ = [
    "ALLOWED_FORMATS",
    "MIME_TO_FORMAT",
    "WEBP_METHOD",
    "WEBP_QUALITY",
    "CheckedImage",
    "Thumbnail",
    "ThumbnailSet",
    "check_image",
    "make_thumbnails",
    "pixel_limit",
]


def _decodable_formats() -> frozenset[str]:
    formats = {"JPEG", "PNG", "WEBP", "GIF"}
    if features.check("avif"):  # Pillow >= 11.2 ships an AVIF plugin when libavif is built in
        formats.add("AVIF")
    try:  # HEIC needs the optional pillow-heif plugin
        import pillow_heif  # type: ignore[import-not-found]

        pillow_heif.register_heif_opener()
        formats.add("HEIF")
    except ImportError:
        pass
    Image.init()
    return frozenset(f for f in formats if f in Image.OPEN)


ALLOWED_FORMATS: frozenset[str] = _decodable_formats()
"""Pillow format names :func:`make_thumbnails` decodes here."""

MIME_TO_FORMAT: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/avif": "AVIF",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
}
"""Sniffed MIME type -> the one Pillow format allowed to decode it."""

THUMBNAIL_CONTENT_TYPE = "image/webp"
WEBP_QUALITY = 80
"""Default WebP quality of thumbnails: Pillow's default."""
# WebP "method" is encoder effort (0 fastest .. 6 smallest), not quality. Measured per
# size against Pillow's default (q80, method 4) as the bytes needed for the same PSNR
# (``python -m benchmarks thumbnails``: a generated 24 MP photo and graphic, a grainy
# 5640x3172 real photo, two smooth 1920x1200 / 2560x1600 real photos). The cheapest
# method within 1.05x on every input is 3 at every size: methods 0-2 pass on some grainy
# inputs at some sizes (up to 1.40x at 320) but need 1.41-1.65x (0), 1.27-1.50x (1) and
# 1.10-1.17x (2) on the smooth photos, at 1280, 640 and 320 alike. Method 3 encodes no faster than 4 (the 1280 of the
# 24 MP photo: ~137 ms CPU for either; 2: ~62, 1: ~44, 0: ~35), 5-6 save a few percent at
# best for 1.1-3x the time. So Pillow's default effort, 4, at every size. The time this
# leaves: see the module docstring (the 1280's decode, resize and encode, in a row).
WEBP_METHOD = 4
"""Default WebP encoder effort (0-6) of thumbnails: Pillow's default; see the comment above."""
# JPEGs are decoded at the smallest DCT scale (1/2, 1/4, 1/8) that leaves at least this
# factor for the resize, as Pillow's ``thumbnail`` and libvips' ``thumbnail`` do. A DCT scale
# is a block average; taken down to just above the target it aliases fine texture (on an
# 18 MP photo the 1280 fell from 42.7 to 35.5 dB PSNR and needed 1.46x the bytes for the
# same PSNR), while a bicubic resize over a factor of 2+ filters it out.
_DRAFT_MARGIN = 2
_ENCODE_THREADS = max(1, min(3, os.cpu_count() or 1))
# The largest thumbnail's resize runs as this many strips (in parallel with threads); see
# _resize_in_strips. Fixed (more only to bound the rows each strip copies), so the pixels
# do not depend on the thread count.
_RESIZE_STRIPS = 2
_STRIP_BYTES = 16 << 20
_SRGB = ImageCms.createProfile("sRGB") if features.check("littlecms2") else None
_ROTATING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@attrs.frozen
class Thumbnail:
    """One encoded thumbnail: longest side at most ``size`` pixels."""

    size: int
    """The requested size (longest side), which names the thumbnail (``w{size}``)."""
    data: bytes
    width: int
    height: int
    content_type: str = THUMBNAIL_CONTENT_TYPE


@attrs.frozen
class ThumbnailSet:
    """The thumbnails of one image, and the image's oriented size and format."""

    width: int
    """Width of the original after EXIF orientation."""
    height: int
    """Height of the original after EXIF orientation."""
    format: str
    """Pillow's name of the decoded format (``"JPEG"``, ``"PNG"``...)."""
    thumbnails: tuple[Thumbnail, ...]
    """One per requested size, smallest first."""


def fit_box(width: int, height: int, size: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image scaled to fit ``size`` x ``size``.

    Never larger than the image itself (no upscaling), never below 1 pixel.
    """
    longest = max(width, height)
    if longest <= size:
        return width, height
    scale = size / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def pixel_limit(max_pixels: int) -> int:
    """The largest ``width * height`` accepted: ``max_pixels``, capped at Pillow's own
    decompression-bomb warning threshold (:data:`PIL.Image.MAX_IMAGE_PIXELS`, about
    89.5 MP), so Pillow's warning is treated as an error instead of a decode going ahead."""
    pillow = Image.MAX_IMAGE_PIXELS
    return max_pixels if pillow is None else min(max_pixels, int(pillow))


def _over_limit(width: int, height: int, max_pixels: int) -> ProcessingError:
    limit = pixel_limit(max_pixels)
    capped = (
        ""
        if limit == max_pixels
        else f" (MEDIA_IMAGE_MAX_PIXELS is {max_pixels}, capped at Pillow's "
        f"decompression-bomb threshold of {limit})"
    )
    return ProcessingError(
        f"The image is {width}x{height} = {width * height} pixels, over the limit of "
        f"{limit} pixels set by MEDIA_IMAGE_MAX_PIXELS{capped}; refused as a possible "
        "decompression bomb."
    )


def _bomb(exc: Exception, max_pixels: int) -> ProcessingError:
    # Pillow refuses before giving us the size (over twice its threshold, or its warning
    # turned into an error by the app's warning filters): say so in our terms.
    return ProcessingError(
        f"The image declares more than {pixel_limit(max_pixels)} pixels, the limit set by "
        f"MEDIA_IMAGE_MAX_PIXELS; refused as a possible decompression bomb ({exc})."
    )


def _open(src: IO[bytes] | str | os.PathLike[str], allowed: Collection[str]) -> Image.Image:
    """``Image.open`` restricted to ``allowed`` formats, its errors as ProcessingError."""
    try:
        return Image.open(src, formats=sorted(allowed))
    except UnidentifiedImageError:
        raise ProcessingError(
            f"Not a supported image: allowed formats are {', '.join(sorted(allowed))}."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ProcessingError(f"The image header could not be read: {exc}") from None


def _allowed(formats: Collection[str] | None) -> frozenset[str]:
    allowed = ALLOWED_FORMATS if formats is None else ALLOWED_FORMATS & {f.upper() for f in formats}
    if not allowed:
        raise ProcessingError(f"None of the formats {sorted(formats or ())} can be decoded here.")
    return allowed


@attrs.frozen
class CheckedImage:
    """What :func:`check_image` found: the format and the size the header declares."""

    format: str
    """Pillow's name of the format (``"JPEG"``, ``"PNG"``...)."""
    width: int
    height: int


def check_image(
    src: IO[bytes] | str | os.PathLike[str],
    *,
    max_pixels: int,
    formats: Collection[str] | None = None,
) -> CheckedImage:
    """Refuse an untrusted image that processing could not (or must not) decode.

    Run on every uploaded image before the upload is answered, so a bad file is refused
    at the door instead of leaving a ``failed`` item behind. In order:

    1. **format allowlist**: only :data:`ALLOWED_FORMATS` (narrowed by ``formats``, e.g.
       to the sniffed type) may even parse the header;
    2. **declared size**: width x height from the header, nothing decoded, against
       :func:`pixel_limit` (``MEDIA_IMAGE_MAX_PIXELS``, capped at Pillow's
       decompression-bomb threshold, so Pillow's warning counts as an error);
    3. **the whole file read, cheaply**: a truncated or corrupt file is refused.

       - JPEG: decoded at 1/8 scale (``Image.draft``): every entropy-coded byte is read,
         the IDCT runs on 1/64 of the pixels. A truncated scan raises.
       - PNG: ``Image.verify()``: every chunk's CRC and the ``IEND`` chunk, no inflating.
       - GIF: the first frame (the one thumbnails use) is decoded: one byte a pixel.
       - WebP, AVIF, HEIF: opening them already runs the container parser (a truncated
         file is refused); a bitstream corrupt *inside* an intact container is only
         found by the job's decode (the item becomes ``failed``, never shown to users):
         a full decode here would cost ~0.6 s and 4 bytes a pixel per 24 MP WebP.

    Measured cost per image (``python -m benchmarks image_check``): see docs/security.md.

    Raises:
        ProcessingError: not an allowed format, over the pixel limit, truncated or corrupt.
    """
    allowed = _allowed(formats)
    try:
        im = _open(src, allowed)
    except Image.DecompressionBombError as exc:
        raise _bomb(exc, max_pixels) from None
    except Image.DecompressionBombWarning as exc:  # under the app's "error" filters
        raise _bomb(exc, max_pixels) from None
    except Warning as exc:  # e.g. corrupt EXIF, under the app's "error" filters
        raise ProcessingError(f"The image header could not be read: {exc}") from None
    with im:
        fmt = im.format or "unknown"
        width, height = im.size  # from the header only; nothing decoded yet
        if width <= 0 or height <= 0:
            raise ProcessingError("The image has no pixels.")
        if width * height > pixel_limit(max_pixels):
            raise _over_limit(width, height, max_pixels)
        try:
            if fmt == "PNG":
                im.verify()
                _check_png_data_length(src, width, height)
            elif fmt in ("JPEG", "MPO", "GIF"):
                if fmt != "GIF":  # MPO: a camera's multi-picture JPEG, read as one
                    im.draft(None, (1, 1))  # the smallest DCT scale, 1/8
                im.load()
        except Image.DecompressionBombError as exc:
            raise _bomb(exc, max_pixels) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, Warning) as exc:
            raise ProcessingError(f"The image is truncated or corrupt: {exc}") from None
    return CheckedImage(fmt, width, height)


# Deflate cannot compress better than 1032:1 (a 258-byte match per 2-bit code, RFC 1951),
# so IDAT data shorter than 1/1032 of the pixel bytes cannot hold the declared image.
_DEFLATE_MAX_RATIO = 1032
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _check_png_data_length(
    src: IO[bytes] | str | os.PathLike[str], width: int, height: int
) -> None:
    """Refuse a PNG whose compressed pixel data is too short for its declared size.

    ``verify()`` checks every chunk's CRC but does not inflate the data (inflating costs
    as much as decoding); this bound catches the tiny PNG that declares millions of
    pixels, for the cost of reading the chunk headers. Hand-written: twenty lines over
    the PNG chunk layout, which no library exposes without decoding.
    """
    with _reopen(src) as fp:
        fp.seek(8)
        ihdr = fp.read(25)
        if len(ihdr) < 25 or ihdr[4:8] != b"IHDR":
            raise ProcessingError("The image is truncated or corrupt: no PNG header.")
        depth, colour = ihdr[16], ihdr[17]
        bits = width * height * depth * _PNG_CHANNELS.get(colour, 1)
        idat = 0
        fp.seek(8)
        while True:
            head = fp.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IDAT":
                idat += length
            elif kind == b"IEND":
                break
            fp.seek(length + 4, io.SEEK_CUR)
    if idat * _DEFLATE_MAX_RATIO * 8 < bits:
        raise ProcessingError(
            f"The image is truncated or corrupt: {idat} bytes of compressed pixel data "
            f"cannot hold the {width}x{height} pixels its header declares."
        )


class _reopen:
    """The source as a binary file positioned anywhere: a path is opened (and closed),
    a file object is used as it is and put back where it was."""

    def __init__(self, src: IO[bytes] | str | os.PathLike[str]) -> None:
        self._src = src
        self._fp: IO[bytes] | None = None
        self._pos = 0

    def __enter__(self) -> IO[bytes]:
        if isinstance(self._src, (str, os.PathLike)):
            self._fp = open(self._src, "rb")  # closed in __exit__
            return self._fp
        self._pos = self._src.tell()
        return self._src

    def __exit__(self, *exc: object) -> None:
        if self._fp is not None:
            self._fp.close()
        else:
            assert not isinstance(self._src, (str, os.PathLike))
            self._src.seek(self._pos)


def make_thumbnails(
    src: BinaryIO | str | os.PathLike[str],
    sizes: Sequence[int],
    *,
    max_pixels: int,
    formats: Collection[str] | None = None,
    encode_threads: int | None = None,
    quality: int = WEBP_QUALITY,
    method: int = WEBP_METHOD,
) -> ThumbnailSet:
    """Decode an untrusted image once and encode a WebP thumbnail per size.

    Args:
        src: a path or a binary file object positioned at the image's first byte.
        sizes: longest sides in pixels (e.g. ``(320, 640, 1280)``); sizes larger than the
            image produce a thumbnail at the image's own size (never upscaled).
        max_pixels: largest ``width * height`` decoded; bigger images are refused.
        formats: restrict decoding further (e.g. to the format the upload was sniffed
            as, see :data:`MIME_TO_FORMAT`); always intersected with :data:`ALLOWED_FORMATS`.
        encode_threads: WebP encoder threads; ``None`` (default) uses up to one per size
            and CPU (at most 3), which shortens the wall time on a multi-core machine; ``1``
            encodes on the calling thread (least CPU time; best when many images are
            already processed in parallel, e.g. by a thread-pool job runner).
        quality: WebP quality, 1-100 (default :data:`WEBP_QUALITY`, Pillow's default 80).
        method: WebP encoder effort, 0 (fastest, largest files) to 6 (slowest, smallest);
            default :data:`WEBP_METHOD` (4, Pillow's default). Methods 0-2 encode 2-4x
            faster but write files 1.1-1.65x larger at equal quality on smooth photos;
            3 costs what 4 costs.

    Raises:
        ProcessingError: not an allowed format, over the pixel cap, truncated or corrupt.
    """
    wanted = sorted({int(s) for s in sizes})
    if not wanted or wanted[0] <= 0:
        raise ValueError("sizes must be a non-empty sequence of positive integers")
    threads = _ENCODE_THREADS if encode_threads is None else int(encode_threads)
    if threads < 1:
        raise ValueError("encode_threads must be at least 1")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100, not {quality}")
    if not 0 <= method <= 6:
        raise ValueError(f"method must be 0-6, not {method}")
    webp = _WebP(int(quality), int(method))
    allowed = _allowed(formats)
    try:
        im = _open(src, allowed)
    except Image.DecompressionBombError as exc:
        raise _bomb(exc, max_pixels) from None
    except Warning as exc:
        # Warning: Pillow warns about corrupt EXIF or near-bomb sizes; an app running with
        # warnings as errors gets a ProcessingError, not a stray exception.
        raise ProcessingError(f"The image header could not be read: {exc}") from None
    with im:
        return _thumbnails(im, wanted, max_pixels, threads, webp)


def _thumbnails(
    im: Image.Image, sizes: list[int], max_pixels: int, threads: int, webp: _WebP
) -> ThumbnailSet:
    fmt = im.format or "unknown"
    raw_w, raw_h = im.size  # from the header only; nothing decoded yet
    if raw_w <= 0 or raw_h <= 0:
        raise ProcessingError("The image has no pixels.")
    if raw_w * raw_h > pixel_limit(max_pixels):
        raise _over_limit(raw_w, raw_h, max_pixels)
    if fmt != "JPEG":
        # Only a JPEG's EXIF comes before its pixels (and its draft scale needs the
        # orientation); reading a PNG's or WebP's decodes the image first, and a decode
        # error there must fail the image, not pass as "no EXIF" (a second load() of a
        # failed image returns its partial pixels without error).
        try:
            im.load()
        except Image.DecompressionBombError as exc:
            raise _bomb(exc, max_pixels) from None
        except (OSError, SyntaxError, ValueError, EOFError, Warning) as exc:
            raise ProcessingError(f"The image is truncated or corrupt: {exc}") from None
    try:
        orientation = int(im.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block must not fail the image; ignore orientation
        orientation = 1
    rotated = orientation in _ROTATING_ORIENTATIONS
    width, height = (raw_h, raw_w) if rotated else (raw_w, raw_h)
    largest = sizes[-1]
    target_w, target_h = fit_box(width, height, largest)
    if fmt == "JPEG":
        # Decode at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the largest
        # thumbnail, in the unrotated frame the decoder works in. The real box matters:
        # for 6000x4000, 1280x853 gives 1/4 (1500x1000); a square 1280x1280 only 1/2.
        box = (target_h, target_w) if rotated else (target_w, target_h)
        im.draft("RGB", (box[0] * _DRAFT_MARGIN, box[1] * _DRAFT_MARGIN))
    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
    try:
        return _decode_and_encode(im, (width, height), orientation, sizes, max_pixels, pool, webp)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _decode_and_encode(
    im: Image.Image,
    oriented: tuple[int, int],
    orientation: int,
    sizes: list[int],
    max_pixels: int,
    pool: ThreadPoolExecutor | None,
    webp: _WebP,
) -> ThumbnailSet:
    fmt = im.format or "unknown"
    width, height = oriented
    rotated = orientation in _ROTATING_ORIENTATIONS
    target_w, target_h = fit_box(width, height, sizes[-1])
    try:
        im.load()
        icc = im.info.get("icc_profile")
        # The largest thumbnail is resized first, in the decoder's (unrotated) frame and
        # colour space; orientation and the colour transform then run on its ~1 MP, not on
        # the decoded pixels (for a 24 MP PNG that is 24x less work, for a draft-decoded
        # JPEG ~1.4x). libvips' thumbnail orders it the same way.
        frame = _resizable(im)
        raw_box = (target_h, target_w) if rotated else (target_w, target_h)
        if frame.size != raw_box:
            frame = _resize_in_strips(frame, raw_box, pool)
        # The ImageOps.exif_transpose table, applied with the orientation read above: a
        # corrupt EXIF block is parsed once (and ignored), not again mid-decode.
        method = _TRANSPOSE.get(orientation)
        if method is not None:
            frame = frame.transpose(method)
        largest_frame = _to_srgb(frame, icc if isinstance(icc, bytes) else None)
    except Image.DecompressionBombError as exc:
        raise _bomb(exc, max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError, Warning) as exc:
        raise ProcessingError(f"The image is truncated or corrupt: {exc}") from None

    # Largest from the decoded pixels with bicubic (above); each smaller one from the
    # previous with bicubic. Chosen by the bytes each chain needs to reach the PSNR of
    # Pillow's thumbnail() + save (against a full-resolution Lanczos reference), on a
    # synthetic 24 MP photo, a 24 MP graphic and two real photos: Lanczos steps, or every
    # size from the decoded pixels, give higher PSNR before encoding but sharper frames
    # that cost 4-20 % more bytes for the same PSNR after it; bicubic from the previous
    # size matches Pillow's own files. With threads, each frame's WebP encode starts on a
    # worker as soon as the frame exists and overlaps the next resize (Pillow releases
    # the GIL in both).
    frames: list[tuple[int, Image.Image]] = []
    pending: list[Future[bytes] | bytes] = []
    current = largest_frame
    for size in reversed(sizes):
        w, h = fit_box(width, height, size)
        if current.size != (w, h):
            current = current.resize((w, h), Image.Resampling.BICUBIC)
        frames.append((size, current))
        pending.append(pool.submit(_encode, current, webp) if pool else _encode(current, webp))
    encoded = [p if isinstance(p, bytes) else p.result() for p in pending]
    frames.reverse()
    encoded.reverse()
    thumbs = tuple(
        Thumbnail(size=size, data=data, width=frame.width, height=frame.height)
        for (size, frame), data in zip(frames, encoded, strict=True)
    )
    return ThumbnailSet(width=width, height=height, format=fmt, thumbnails=thumbs)


def _resize_in_strips(
    im: Image.Image, size: tuple[int, int], pool: ThreadPoolExecutor | None
) -> Image.Image:
    """A bicubic resize as ``im.resize(size, BICUBIC, reducing_gap=2.0)`` does it, computed
    as horizontal strips of output rows that run on ``pool``'s threads (Pillow releases
    the GIL while resampling).

    The largest thumbnail's resize (e.g. 3000x2000 -> 1280x853, ~55 ms) is the one step
    between the decode and the first encode that nothing else can overlap, so on a
    multi-core machine its wall time is split. Pillow resamples in two passes; each strip
    runs them explicitly, horizontal then vertical (a horizontal-only resize of a copy of
    the source rows its output rows read, then a vertical-only one), so the arithmetic is
    Pillow's: the strips join without seams and match the two passes done on the whole
    image within 1 level (the filter's window is placed with float32 coordinates). For a
    landscape photo that is Pillow's single call; for some shapes Pillow runs the vertical
    pass first, which rounds its 8-bit intermediate differently (>= 45 dB PSNR apart on
    pure noise, the worst case). Vertical-first strips would copy nothing but measured
    up to 1.04x the bytes at equal PSNR where these give 0.92x. The strips are the same
    with or without a pool, so the pixels do not depend on ``encode_threads``.
    Hand-written: Pillow has no threaded resize.
    """
    width, height = im.size
    out_w, out_h = size
    mode = im.mode
    premultiplied = {"LA": "La", "RGBA": "RGBa"}.get(mode)
    if premultiplied:  # what resize() does for alpha, done once for all strips
        im = im.convert(premultiplied)
    # reducing_gap=2.0, as Pillow applies it: a cheap box reduce first when the resize
    # shrinks by 4x or more, so the bicubic filter never spans more than ~2x its taps.
    factor = (int(width / out_w / 2.0) or 1, int(height / out_h / 2.0) or 1)
    src_w, src_h = float(width), float(height)
    if factor != (1, 1):
        im = im.reduce(factor)
        src_w, src_h = width / factor[0], height / factor[1]
    # Two strips at least (two cores); more for a big decoded image, so the source rows
    # each strip copies stay under _STRIP_BYTES. A function of the sizes only.
    strips = max(_RESIZE_STRIPS, math.ceil(im.width * im.height * 4 / _STRIP_BYTES))
    strips = min(strips, out_h // 64)
    if strips <= 1:
        out = im.resize(size, Image.Resampling.BICUBIC, box=(0.0, 0.0, src_w, src_h))
        return out.convert(mode) if premultiplied else out
    rows = [out_h * i // strips for i in range(strips + 1)]
    scale = src_h / out_h
    reach = 2.0 * max(scale, 1.0) + 2  # bicubic's reach in source rows, plus rounding

    def strip(i: int) -> Image.Image:
        # Horizontal-only over the source rows this strip's rows read, then vertical-only:
        # Pillow's own passes, in the order its single call takes for landscape photos
        # (which gave the smallest files at equal quality).
        y0, y1 = rows[i] * scale, rows[i + 1] * scale
        first = max(0, int(y0 - reach))
        last = min(im.height, math.ceil(y1 + reach))
        horizontal = im.crop((0, first, im.width, last)).resize(
            (out_w, last - first), Image.Resampling.BICUBIC, box=(0.0, 0.0, src_w, last - first)
        )
        return horizontal.resize(
            (out_w, rows[i + 1] - rows[i]),
            Image.Resampling.BICUBIC,
            box=(0.0, y0 - first, float(out_w), y1 - first),
        )

    parts = list(pool.map(strip, range(strips))) if pool else [strip(i) for i in range(strips)]
    out = Image.new(im.mode, size)
    for top, part in zip(rows, parts, strict=False):
        out.paste(part, (0, top))
    return out.convert(mode) if premultiplied else out


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )


def _resizable(im: Image.Image) -> Image.Image:
    """The decoded pixels in a mode ``resize`` filters (8 bits a channel), colours untouched."""
    if im.mode.startswith("I;16") or im.mode == "I":
        # 16-bit greyscale (PNG): scale to 8 bits; a plain convert would clip to white.
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return im
    return im.convert("RGBA" if _has_alpha(im) else "RGB")  # P, PA, 1, F...


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB or RGBA pixels in sRGB, with no profile or other metadata attached."""
    mode = "RGBA" if _has_alpha(im) else "RGB"
    if im.mode == "CMYK" and icc is None:
        # Adobe CMYK JPEGs without a profile are stored inverted; Pillow handles that.
        out = im.convert("RGB")
    elif icc is not None and _SRGB is not None:
        src_mode = im.mode if im.mode in ("RGB", "RGBA", "CMYK", "L") else mode
        src = im if im.mode == src_mode else im.convert(src_mode)
        out_mode = "RGBA" if src_mode == "RGBA" else "RGB"
        try:
            transform = _srgb_transform(icc, src_mode, out_mode)
            out = src.convert(out_mode) if transform is None else transform.apply(src)
        except (ImageCms.PyCMSError, OSError, ValueError):
            out = im.convert(mode)  # a broken profile: use the pixels as they are
    else:
        out = im.convert(mode) if im.mode != mode else im  # ours: decoded for this call
    out.info.clear()  # exif, xmp, comment, icc_profile, text chunks: none travel on
    return out


@functools.lru_cache(maxsize=8)
def _srgb_transform(icc: bytes, mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
    """The transform from an embedded profile to sRGB, or ``None`` if it changes nothing.

    Most photos carry the profile of the space they are already in (sRGB IEC61966-2.1 from
    cameras and editors); converting them costs ~20 ms per megapixel for nothing, so the
    transform is tried on every 17th level of each channel and skipped when no level moves
    by more than 1. Cached per profile (building one costs ~3 ms); NOCACHE turns off
    LittleCMS's one-pixel cache, which makes a transform safe to share between threads.
    """
    assert _SRGB is not None
    transform = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        _SRGB,
        mode,
        out_mode,
        flags=ImageCms.Flags.NOCACHE,
    )
    if mode == "CMYK":
        return transform
    probe = _probe(mode)
    moved = ImageChops.difference(transform.apply(probe), probe.convert(out_mode))
    over_one = moved.point(lambda v: 255 if v > 1 else 0)
    return transform if over_one.getbbox(alpha_only=False) is not None else None


@functools.cache
def _probe(mode: str) -> Image.Image:
    """Every 17th level of each channel of ``mode`` (L, RGB or RGBA), one pixel each."""
    levels = range(0, 256, 17)
    if mode == "L":
        return Image.frombytes("L", (16, 1), bytes(levels))
    cube = bytes(c for r in levels for g in levels for b in levels for c in (r, g, b))
    rgb = Image.frombytes("RGB", (16 * 16, 16), cube)
    return rgb if mode == "RGB" else rgb.convert(mode)


@attrs.frozen
class _WebP:
    quality: int
    method: int


def _encode(im: Image.Image, webp: _WebP) -> bytes:
    # Pillow's WebP writer passes libwebp quality, method, lossless, alpha_quality, exact
    # and metadata only (PIL.WebPImagePlugin._save -> _webp.WebPEncode): libwebp's
    # thread_level (which only splits its analysis pass anyway), sns/filter strength,
    # segments and presets are out of reach. ``exact`` only keeps the colour under fully
    # transparent pixels (larger files); an RGB frame is imported as opaque ARGB and
    # libwebp writes no alpha plane for it, so there is nothing to save there either.
    buf = io.BytesIO()
    # No exif=/xmp=/icc_profile= arguments: the WebP written carries pixels only.
    im.save(buf, "WEBP", quality=webp.quality, method=webp.method)
    return buf.getvalue()
