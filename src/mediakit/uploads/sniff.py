"""Content sniffing: the media type comes from the bytes, never from the client.

libmagic (through python-magic) reads the first :data:`SNIFF_BYTES` of a file; the
result is normalized (``audio/x-flac`` -> ``audio/flac``...) and checked against an
allowlist. The declared ``Content-Type`` and the file extension are never consulted, and
the type stored with the object is the one found here.

Allowed images: JPEG, PNG, WebP, GIF; AVIF and HEIC only where this Pillow can decode
them (AVIF: Pillow >= 11.2 built with libavif, see :func:`PIL.features.check`; HEIC: the
``pillow-heif`` plugin installed). A type we could store but not thumbnail would leave a
broken item behind, so it is refused at the door instead.

Allowed audio: FLAC, MP3, AAC (ADTS), M4A/MP4 (libmagic names an MP4 file whose brand is
not ``M4A`` ``video/mp4``; it is accepted as ``audio/mp4`` and the encoder's probe then
requires an audio stream), Ogg (Vorbis, Opus, FLAC in Ogg), WAV.

Everything else is refused with :class:`~mediakit.errors.UnsupportedMediaType` (415):
text formats (SVG, HTML, XML, M3U/PLS playlists and other ``text/*``, which a browser
may render or follow), archives, executables, unknown binaries.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import cache
from typing import TYPE_CHECKING

from mediakit.errors import ConfigurationError, UnsupportedMediaType

if TYPE_CHECKING:
    import magic

__all__ = [
    "AUDIO_TYPES",
    "IMAGE_TYPES",
    "SNIFF_BYTES",
    "check_type",
    "detect_type",
    "heic_supported",
    "image_types",
    "libmagic_problem",
    "sniff",
]

SNIFF_BYTES = 8192
"""How many leading bytes are given to libmagic (enough for every allowed format)."""

_ALIASES: dict[str, str] = {
    "audio/x-flac": "audio/flac",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-pn-wav": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-hx-aac-adts": "audio/aac",
    "audio/x-aac": "audio/aac",
    "audio/aacp": "audio/aac",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-mp4": "audio/mp4",
    "audio/x-ogg": "audio/ogg",
    "application/ogg": "audio/ogg",
    "audio/opus": "audio/ogg",
    "audio/x-opus+ogg": "audio/ogg",
    "audio/x-vorbis+ogg": "audio/ogg",
    "audio/x-flac+ogg": "audio/ogg",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/heif": "image/heic",
    "image/heic-sequence": "image/heic",
    "image/heif-sequence": "image/heic",
}

AUDIO_TYPES: frozenset[str] = frozenset(
    {"audio/flac", "audio/mpeg", "audio/aac", "audio/mp4", "audio/ogg", "audio/wav"}
)
"""Normalized audio types accepted for tracks."""

_AUDIO_EXTRA: dict[str, str] = {"video/mp4": "audio/mp4"}
"""Container types accepted as audio (the encoder's probe checks for an audio stream)."""

_BASE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


@cache
def heic_supported() -> bool:
    """Whether HEIC can be decoded here (the ``pillow-heif`` plugin is installed)."""
    return importlib.util.find_spec("pillow_heif") is not None


@cache
def _avif_supported() -> bool:
    from PIL import features

    try:
        return bool(features.check("avif"))
    except ValueError:  # Pillow older than 11.2 does not know the feature
        return False


@cache
def image_types() -> frozenset[str]:
    """Normalized image types accepted here (JPEG, PNG, WebP, GIF, + AVIF/HEIC if decodable)."""
    extra = set()
    if _avif_supported():
        extra.add("image/avif")
    if heic_supported():
        extra.add("image/heic")
    return _BASE_IMAGE_TYPES | extra


IMAGE_TYPES: frozenset[str] = image_types()
"""Normalized image types accepted for images on this installation."""

_local = threading.local()


LIBMAGIC_HINT = (
    "libmagic, which mediakit uses to check the type of every upload by its content, is "
    "not installed: apt-get install libmagic1 (Debian/Ubuntu), dnf install file-libs "
    "(Fedora), apk add libmagic (Alpine) or brew install libmagic (macOS)"
)


@cache
def libmagic_problem() -> str | None:
    """Why libmagic cannot be used here (not installed...), or ``None`` when it works."""
    try:
        import magic

        magic.Magic(mime=True).from_buffer(b"GIF89a")
    except ImportError as exc:  # python-magic raises it when the C library is missing
        return f"{LIBMAGIC_HINT} ({exc})"
    except Exception as exc:
        return f"{LIBMAGIC_HINT} ({type(exc).__name__}: {exc})"
    return None


def _magic() -> magic.Magic:
    # One libmagic handle per thread: a magic_t is not safe to share between threads.
    m: magic.Magic | None = getattr(_local, "magic", None)
    if m is None:
        problem = libmagic_problem()
        if problem is not None:
            raise ConfigurationError("libmagic", problem)
        import magic

        m = magic.Magic(mime=True)
        _local.magic = m
    return m


def normalize(mime: str) -> str:
    """The canonical spelling of a media type (``audio/x-flac`` -> ``audio/flac``)."""
    mime = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(mime, mime)


def detect_type(head: bytes) -> str:
    """The normalized media type libmagic finds in ``head`` (the first bytes of a file)."""
    if not head:
        return "application/x-empty"
    return normalize(str(_magic().from_buffer(head[:SNIFF_BYTES])))


def check_type(detected: str, allowed: frozenset[str], *, filename: str, kind: str) -> str:
    """Return the type to store for ``detected`` or raise ``UnsupportedMediaType``.

    Pure: the allowlist decision apart from libmagic. ``kind`` is ``"image"`` or
    ``"audio"``, used for the accepted extras and in the message.
    """
    if detected in allowed:
        return detected
    if kind == "audio" and detected in _AUDIO_EXTRA:
        return _AUDIO_EXTRA[detected]
    names = ", ".join(sorted(t.split("/", 1)[1].upper() for t in allowed))
    raise UnsupportedMediaType(
        f"The file {filename!r} is {detected}, which is not an allowed {kind} type "
        f"(allowed: {names}). The type is read from the file's content, not its name."
    )


def sniff(head: bytes, *, filename: str, allowed: frozenset[str], kind: str) -> str:
    """Detect the type of ``head`` and check it against ``allowed``; return the type to store.

    Raises:
        UnsupportedMediaType: the content is not of an allowed type; the message names
            the file and the detected type.
    """
    return check_type(detect_type(head), allowed, filename=filename, kind=kind)
