"""Helpers shared by the smoke scripts (standard library and core dependencies only)."""

from __future__ import annotations

import importlib.metadata
import io
import os
import sys
import uuid
from pathlib import Path


def check_outside_the_source_tree() -> None:
    """mediakit comes from the virtualenv's site-packages, not from a checkout."""
    import mediakit

    where = Path(mediakit.__file__).resolve()
    assert "site-packages" in where.parts, where
    assert os.environ.get("PYTHONPATH") is None, os.environ["PYTHONPATH"]
    assert not any(Path(p, "mediakit", "__init__.py").is_file() for p in sys.path[:1]), sys.path
    print("mediakit", mediakit.__version__, "from", where.parent)


def check_typed_packages() -> None:
    """The installed distribution marks each of its packages as typed (PEP 561)."""
    files = {str(f) for f in importlib.metadata.files("mediakit") or ()}
    for package in ("mediakit", "mediakit_fastapi", "mediakit_django"):
        assert f"{package}/py.typed" in files, package


def png(width: int = 64, height: int = 48) -> bytes:
    """A small PNG made with Pillow (a core dependency)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buf, "PNG")
    return buf.getvalue()


def multipart(files: list[tuple[str, str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body (field ``files``) and its content type."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for filename, content_type, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def readme_block(readme: Path, section: str) -> str:
    """The first ```python block under the README heading ``section``."""
    text = readme.read_text()
    part = text.split(f"## {section}", 1)[1]
    return part.split("```python\n", 1)[1].split("\n```", 1)[0]
