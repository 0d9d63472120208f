"""``manage.py mediakit``: the CLI's operations on the project's store and Django database."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from mediakit.settings import Settings
from mediakit.storage import build_object_store
from mediakit.testing import builders as b
from tests.django.support import clear_tables, ensure_django
from tests.fixtures_media import jpeg_bytes

ensure_django()

from django.conf import settings as django_settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

from mediakit_django.repositories import DjangoRepositories  # noqa: E402


def _filesystem(tmp_path: Path) -> dict[str, Any]:
    return {
        **django_settings.MEDIAKIT,
        "storage_backend": "filesystem",
        "storage_root": str(tmp_path / "objects"),
    }


def test_gc_deletes_orphans_and_keeps_what_the_orm_rows_reference(tmp_path: Path) -> None:
    """gc reads references from the Django tables: referenced objects stay, orphans go."""
    clear_tables()
    mk = _filesystem(tmp_path)
    store = build_object_store(
        Settings(storage_backend="filesystem", storage_root=mk["storage_root"])
    )
    store.ensure_bucket()  # type: ignore[attr-defined]
    kept = b.image()
    DjangoRepositories().images.add_many([kept])
    store.put_bytes(kept.original_key, jpeg_bytes(8, 8), content_type="image/jpeg")
    store.put_bytes("images/orphan0000000000000/original", b"x", content_type="image/jpeg")
    out = io.StringIO()
    with override_settings(MEDIAKIT=mk):
        call_command("mediakit", "gc", "--min-age", "0", stdout=out)
        assert "images/orphan0000000000000/original" in out.getvalue()
        assert "dry run" in out.getvalue()
        call_command("mediakit", "gc", "--min-age", "0", "--delete", stdout=io.StringIO())
    assert list(store.list_keys("images/")) == [kept.original_key]


def test_doctor_on_a_non_s3_store_checks_this_machine_only(tmp_path: Path) -> None:
    """Without S3, doctor runs this machine's checks (ffmpeg, libmagic); the database
    check is skipped, the ORM repositories use Django's database."""
    out = io.StringIO()
    with override_settings(MEDIAKIT=_filesystem(tmp_path)):
        call_command("mediakit", "doctor", stdout=out)
    text = out.getvalue()
    assert "ok    ffmpeg" in text
    assert "ok    libmagic" in text
    assert "skip  database" in text


def test_reprocess_regenerates_thumbnails_of_orm_rows(tmp_path: Path) -> None:
    """reprocess works on the Django tables: a pending image becomes ready with thumbnails."""
    clear_tables()
    mk = _filesystem(tmp_path)
    store = build_object_store(
        Settings(storage_backend="filesystem", storage_root=mk["storage_root"])
    )
    store.ensure_bucket()  # type: ignore[attr-defined]
    image = b.image()
    repos = DjangoRepositories()
    repos.images.add_many([image])
    store.put_bytes(image.original_key, jpeg_bytes(640, 480), content_type="image/jpeg")
    out = io.StringIO()
    with override_settings(MEDIAKIT=mk):
        call_command("mediakit", "reprocess", "images", stdout=out)
    assert "1 ready, 0 failed" in out.getvalue()
    row = repos.images.get(image.id)
    assert row is not None
    assert row.status.value == "ready"
    assert row.thumbnails
