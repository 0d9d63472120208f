"""``Content-Disposition`` per RFC 6266, with an RFC 8187 ``filename*`` for non-ASCII names.

Pure. A user's file name is untrusted: whatever it holds (CR, LF, quotes, backslashes,
control characters, path separators, lone surrogates), the returned header value is
printable ASCII only, and the name cannot escape its quoted-string.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

__all__ = ["content_disposition", "safe_filename"]

MAX_FILENAME_CHARS = 150
_FALLBACK_NAME = "download"
# C0, DEL, C1, and Unicode line/paragraph separators and bidi controls
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# what may stand inside the ASCII fallback's quoted-string: printable ASCII minus " \ %
# (% because some user agents percent-decode filename=)
_NOT_FALLBACK_SAFE = re.compile(r'[^\x20-\x7e]|["\\%]')
_ALNUM = re.compile(r"[A-Za-z0-9]")
# RFC 8187 attr-char, minus the always-safe letters/digits quote() keeps anyway
_ATTR_SAFE = "!#$&+-.^_`|~"


def safe_filename(filename: str) -> str:
    """``filename`` without directories, control characters or surrounding dots/spaces.

    Truncated to :data:`MAX_FILENAME_CHARS` keeping the extension; ``"download"`` if
    nothing is left.
    """
    # lone surrogates (from os.fsdecode of bad bytes) cannot be encoded: replace them
    name = filename.encode("utf-8", "replace").decode("utf-8")
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = _CONTROL.sub("", name).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name or _FALLBACK_NAME


def _ascii_fallback(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    fallback = _NOT_FALLBACK_SAFE.sub("_", stripped).strip(" .")
    stem, dot, ext = fallback.rpartition(".")
    if not dot:
        stem, ext = fallback, ""
    if not _ALNUM.search(stem):
        # nothing readable survived (e.g. a CJK name): a neutral name, same extension
        return _FALLBACK_NAME + ("." + ext if _ALNUM.search(ext) else "")
    return fallback


def content_disposition(filename: str, *, attachment: bool) -> str:
    """The ``Content-Disposition`` value for serving a file named ``filename``.

    ``attachment=True`` asks the browser to download, ``False`` to show it inline.
    ASCII names give ``attachment; filename="name.mp3"``; others add the RFC 8187 form,
    ``attachment; filename="Cafe.mp3"; filename*=UTF-8''Caf%C3%A9.mp3``, which every
    current browser prefers over the fallback.
    """
    kind = "attachment" if attachment else "inline"
    name = safe_filename(filename)
    fallback = _ascii_fallback(name)
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + quote(name, safe=_ATTR_SAFE, encoding="utf-8")
    return value
