"""Uploads from Django forms (the admin), through the service.

Django has already parsed the form (its upload handlers keep small files in memory and
spool large ones to temporary files); the files are streamed back into a
``multipart/form-data`` body for :meth:`~mediakit.service.MediaService.upload_images` /
``upload_tracks``, so an upload from the admin gets exactly what the API does: the
per-admin upload limiter, the ``MEDIA_MAX_*`` limits, content sniffing, all-or-nothing
storage and processing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

__all__ = ["MultipleFileField", "MultipleFileInput", "multipart_body"]

_CHUNK = 256 * 1024


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that accepts several files (``<input type=file multiple>``)."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A form field holding a list of uploaded files."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        """Each file cleaned as ``FileField`` does; an empty selection is ``[]``."""
        items = [d for d in (data if isinstance(data, list | tuple) else [data]) if d]
        if not items:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        single = super().clean
        return [single(item, initial) for item in items]


def _quote(value: str) -> str:
    # As browsers send it (WHATWG multipart/form-data encoding): quote, CR and LF escaped.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_body(
    fields: Mapping[str, str], files: Sequence[UploadedFile[Any]], *, field: str = "files"
) -> tuple[str, int, Iterator[bytes]]:
    """``(content_type, content_length, chunks)`` of a ``multipart/form-data`` body with
    the text ``fields`` and the ``files`` under ``field``, streamed from the files."""
    boundary = f"mediakit-{secrets.token_hex(16)}"
    dash = f"--{boundary}\r\n".encode()
    heads: list[bytes] = [
        dash
        + f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields.items()
    ]
    file_heads = [
        dash
        + (
            f'Content-Disposition: form-data; name="{field}"; '
            f'filename="{_quote(f.name or "upload")}"\r\n'
            f"Content-Type: {f.content_type or 'application/octet-stream'}\r\n\r\n"
        ).encode()
        for f in files
    ]
    end = f"--{boundary}--\r\n".encode()
    length = (
        sum(map(len, heads))
        + sum(len(h) + (f.size or 0) + 2 for h, f in zip(file_heads, files, strict=True))
        + len(end)
    )

    def chunks() -> Iterator[bytes]:
        yield from heads
        for head, f in zip(file_heads, files, strict=True):
            yield head
            f.seek(0)
            yield from f.chunks(_CHUNK)
            yield b"\r\n"
        yield end

    return f"multipart/form-data; boundary={boundary}", length, chunks()
