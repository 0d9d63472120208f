"""``pip install mediakit`` (no extra): the core imports, the README's first look runs, and
an upload goes through the sync service (multipart parsing, libmagic, Pillow)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from _common import (
    check_outside_the_source_tree,
    check_typed_packages,
    multipart,
    png,
    readme_block,
)

README = Path(sys.argv[1])


def main() -> None:
    check_outside_the_source_tree()
    check_typed_packages()
    for extra_only in ("fastapi", "django", "aioboto3", "psycopg", "redis", "dramatiq", "rich"):
        assert importlib.util.find_spec(extra_only) is None, f"{extra_only} is not in the core"
    for module in (
        "mediakit",
        "mediakit.http",
        "mediakit.presign",
        "mediakit.proxy",
        "mediakit.storage",
        "mediakit.uploads",
        "mediakit.processing",
        "mediakit.repositories",
        "mediakit.repositories.sql",
        "mediakit.service",
        "mediakit.cli",
    ):
        importlib.import_module(module)

    exec(compile(readme_block(README, "A first look"), "README.md: A first look", "exec"), {})
    print("README first look: ok")

    from mediakit import MediaKitError, Principal, Settings
    from mediakit.repositories import MemoryRepositories
    from mediakit.service import build_service

    kit = build_service(
        Settings(storage_backend="memory", job_runner="inline", signing_secret="x" * 32),
        repos=MemoryRepositories.create(),
    )
    try:
        body, content_type = multipart([("teal.png", "image/png", png())], {"visible": "true"})
        admin = Principal("ops", is_admin=True)
        uploaded = kit.service.upload_images(admin, [body], content_type=content_type)
        (image,) = uploaded["items"]
        assert image["content_type"] == "image/png", image
        assert (image["width"], image["height"], image["status"]) == (64, 48, "ready"), image
        assert set(image["thumbnails"]), image
        listed = kit.service.list_images(Principal("listener"))
        assert [i["id"] for i in listed["items"]] == [image["id"]]
        bad, bad_type = multipart([("fake.png", "image/png", b"not an image at all")], {})
        refused: MediaKitError | None = None
        try:  # the content check refuses it, as a client error, and keeps nothing
            kit.service.upload_images(admin, [bad], content_type=bad_type)
        except MediaKitError as exc:
            refused = exc
        assert refused is not None, "a fake PNG was accepted"
        assert 400 <= refused.http_status < 500, refused
        assert len(kit.service.list_images(admin, admin=True)["items"]) == 1
    finally:
        kit.close()
    print("core upload through the sync service: ok")


main()
