"""A WSGI app for tests/http/test_gunicorn_body.py, served by a real gunicorn: it reads
the body with :func:`mediakit.gunicorn.body_reader` (through ``wsgi.input`` when that
answers ``None``) in the sizes the ``X-Read-Sizes`` header lists, cycling, and answers
with the body's length and SHA-256 and which path read it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from mediakit import gunicorn


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    wsgi_input = environ["wsgi.input"]
    sizes = [int(s) for s in environ.get("HTTP_X_READ_SIZES", "65536").split(",")]
    # "mixed": every other read through wsgi.input, to check both follow one count
    mixed = environ.get("HTTP_X_MIXED") == "1"
    direct = gunicorn.body_reader(wsgi_input)
    digest = hashlib.sha256()
    length = 0
    i = 0
    while True:
        size = sizes[i % len(sizes)]
        read = wsgi_input.read if direct is None or (mixed and i % 2) else direct
        chunk = read(size)
        i += 1
        if not chunk:
            break
        assert len(chunk) <= size
        digest.update(chunk)
        length += len(chunk)
    payload = json.dumps(
        {"length": length, "sha256": digest.hexdigest(), "direct": direct is not None}
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]
