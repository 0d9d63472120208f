"""Upload-limit accounting: a pure core with no I/O.

:class:`UploadLimits` holds the caps; an :class:`UploadBudget` is created per request
and told about every byte, file and field as the body streams in. It raises the moment
a cap is crossed, so an oversized upload is refused after reading at most one chunk past
the cap, whether or not the client sent a ``Content-Length``. A declared
``Content-Length`` above the request cap is refused before anything is read.

What counts against which cap:

* ``max_upload_size_total`` caps the **request body**: every byte the client sends,
  multipart framing included. The same rule then applies with and without a
  ``Content-Length``, and a client cannot sneak bytes in through form fields.
* ``max_file_size`` caps the content of each file part.
* ``max_files_per_request`` / ``max_fields_per_request`` cap the number of file parts and
  of plain form fields; ``max_field_size`` caps one field's value (fields are held in
  memory, files never are).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from mediakit.errors import BadRequest, UploadTooLarge

if TYPE_CHECKING:
    from mediakit.settings import Settings

__all__ = ["DEFAULT_MAX_FIELD_SIZE", "UploadBudget", "UploadLimits", "format_size"]

DEFAULT_MAX_FIELD_SIZE = 64 * 1024
"""Largest value of one plain (non-file) form field, in bytes."""

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_size(n: int) -> str:
    """``n`` bytes in human units: ``"4 GiB"``, ``"1.5 MiB"``, ``"900 bytes"``.

    >>> format_size(4 * 1024**3), format_size(1536 * 1024), format_size(1), format_size(1000)
    ('4 GiB', '1.5 MiB', '1 byte', '1000 bytes')
    """
    if n == 1:
        return "1 byte"
    value = float(n)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{n} bytes"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} {_UNITS[unit]}"


def _positive(inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


@attrs.frozen(kw_only=True)
class UploadLimits:
    """The caps of one upload request."""

    max_file_size: int = attrs.field(default=4 * 1024**3, validator=_positive)
    """Largest single file, in bytes."""
    max_upload_size_total: int = attrs.field(default=8 * 1024**3, validator=_positive)
    """Largest request body, in bytes."""
    max_files_per_request: int = attrs.field(default=50, validator=_positive)
    """Most file parts in one request."""
    max_fields_per_request: int = attrs.field(default=20, validator=_positive)
    """Most plain form fields in one request."""
    max_field_size: int = attrs.field(default=DEFAULT_MAX_FIELD_SIZE, validator=_positive)
    """Largest value of one plain form field, in bytes."""

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        """The limits configured in ``settings``."""
        return cls(
            max_file_size=settings.max_file_size,
            max_upload_size_total=settings.max_upload_size_total,
            max_files_per_request=settings.max_files_per_request,
            max_fields_per_request=settings.max_fields_per_request,
        )

    def budget(self) -> UploadBudget:
        """A fresh budget for one request."""
        return UploadBudget(self)


@attrs.define
class UploadBudget:
    """Counts one request's bytes, files and fields as they stream; raises at the cap.

    Every method either records and returns, or raises
    :class:`~mediakit.errors.UploadTooLarge` (413) / :class:`~mediakit.errors.BadRequest`
    (400) with a message naming the limit and the file. After raising, the budget is
    spent: the request must be abandoned.

    >>> b = UploadLimits(max_file_size=10).budget()
    >>> b.start_file("a.png"); b.add_file_bytes(8)
    >>> b.add_file_bytes(3)
    Traceback (most recent call last):
    ...
    mediakit.errors.UploadTooLarge: The file 'a.png' is larger than the 10 bytes allowed per file.
    """

    limits: UploadLimits
    body_bytes: int = 0
    """Request body bytes seen so far."""
    files: int = 0
    """File parts started so far."""
    fields: int = 0
    """Plain form fields started so far."""
    file_bytes: int = 0
    """Bytes of the current file part."""
    field_bytes: int = 0
    """Bytes of the current field value."""
    current_file: str | None = None
    """Name of the file being read, if any."""

    def check_content_length(self, content_length: int | str | None) -> None:
        """Refuse a declared body size above the request cap before reading anything.

        ``None`` (no header, e.g. chunked transfer) passes: the caps are then enforced
        while streaming. A malformed header is a 400.
        """
        if content_length is None:
            return
        if isinstance(content_length, str):
            raw = content_length.strip()
            if not raw.isascii() or not raw.isdigit():
                raise BadRequest(f"Content-Length must be a whole number; got {content_length!r}.")
            content_length = int(raw)
        if content_length < 0:
            raise BadRequest(f"Content-Length must not be negative; got {content_length}.")
        cap = self.limits.max_upload_size_total
        if content_length > cap:
            raise UploadTooLarge(
                f"The request body is {format_size(content_length)}; at most "
                f"{format_size(cap)} may be uploaded in one request. Send fewer or smaller files."
            )

    def add_body(self, n: int) -> None:
        """Count ``n`` raw body bytes against the request cap."""
        self.body_bytes += n
        cap = self.limits.max_upload_size_total
        if self.body_bytes > cap:
            where = f" (while reading {self.current_file!r})" if self.current_file else ""
            raise UploadTooLarge(
                f"The request is larger than the {format_size(cap)} allowed in one request"
                f"{where}. Send fewer or smaller files."
            )

    def start_file(self, filename: str) -> None:
        """Count a new file part called ``filename``."""
        self.files += 1
        if self.files > self.limits.max_files_per_request:
            raise BadRequest(
                f"Too many files: at most {self.limits.max_files_per_request} may be uploaded "
                f"in one request ({filename!r} is one too many)."
            )
        self.current_file = filename
        self.file_bytes = 0

    def add_file_bytes(self, n: int) -> None:
        """Count ``n`` content bytes of the current file against the per-file cap."""
        self.file_bytes += n
        cap = self.limits.max_file_size
        if self.file_bytes > cap:
            raise UploadTooLarge(
                f"The file {self.current_file!r} is larger than the {format_size(cap)} allowed per file."
            )

    def end_file(self) -> None:
        """The current file part is complete."""
        self.current_file = None

    def start_field(self, name: str) -> None:
        """Count a new plain form field called ``name``."""
        self.fields += 1
        if self.fields > self.limits.max_fields_per_request:
            raise BadRequest(
                f"Too many form fields: at most {self.limits.max_fields_per_request} are "
                f"allowed in one request ({name!r} is one too many)."
            )
        self.field_bytes = 0

    def add_field_bytes(self, name: str, n: int) -> None:
        """Count ``n`` bytes of the value of field ``name``."""
        self.field_bytes += n
        cap = self.limits.max_field_size
        if self.field_bytes > cap:
            raise BadRequest(
                f"The form field {name!r} is longer than the {format_size(cap)} allowed per field."
            )
