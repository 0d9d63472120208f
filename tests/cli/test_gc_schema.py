"""``mediakit gc`` refuses a database without mediakit's schema (a Django project's one
above all), creates nothing in it, and never deletes an object a row refers to.

Real databases: a Django project's database migrated by ``manage.py migrate`` (SQLite and
PostgreSQL), an empty SQLite file; the command is configured by the environment, as an
operator would run it: in-process (:func:`tests.cli.test_cli.run_cli`), and as a subprocess
on the Django database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediakit import keys
from mediakit.models import Image, new_id
from mediakit.repositories.memory import MemoryRepositories
from mediakit.storage.memory import MemoryObjectStore
from mediakit.uploads.gc import OrphanReport, collect
from tests import servers
from tests.cli.test_cli import run_cli
from tests.servers import ServerHandle

REPO_ROOT = Path(__file__).resolve().parents[2]

_SETUP = """
import os, sys, datetime
import django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from mediakit.models import Image
from mediakit_django.repositories import DjangoRepositories
now = datetime.datetime.now(datetime.UTC)
image_id = sys.argv[1]
DjangoRepositories().images.add_many([Image(
    id=image_id, original_key=f"images/{image_id}/original", filename="a.jpg",
    content_type="image/jpeg", size=3, created_at=now, updated_at=now)])
"""


def _env(db_url: str, root: Path, tmp: Path) -> dict[str, str]:
    (root / "mediakit").mkdir(parents=True, exist_ok=True)  # the bucket directory
    return {
        "MEDIAKIT_DATABASE_URL": db_url,
        "MEDIAKIT_STORAGE": "filesystem",
        "MEDIAKIT_STORAGE_ROOT": str(root),
        "DJANGO_SETTINGS_MODULE": "examples.django_server.settings",
        "DJANGO_SECRET_KEY": "gc-test-secret",
        "TMPDIR": str(tmp),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }


def _django(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIA", "DJANGO"))}
    return subprocess.run(
        [sys.executable, *args],
        env={**base, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _old_object(root: Path, key: str) -> Path:
    # the filesystem store keeps objects under <root>/<bucket>/<key>
    path = root / "mediakit" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"jpg")
    t = time.time() - 3 * 86400
    os.utime(path, (t, t))
    return path


def _tables(db_url: str) -> set[str]:
    engine = sa.create_engine(db_url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def django_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/django.db"
    pg: ServerHandle = request.getfixturevalue("postgres_server")
    return servers.create_pg_database(pg, f"mk_gc_django_{os.getpid()}_{id(tmp_path) % 10000}")


@pytest.mark.slow
def test_gc_refuses_a_django_database_and_changes_nothing(
    django_db_url: str, tmp_path: Path
) -> None:
    """On a Django project's database, ``mediakit gc --delete --min-age 0`` exits 2 with a
    message pointing at ``manage.py mediakit gc``, creates no table, deletes no object;
    ``manage.py mediakit gc`` there deletes the orphan and keeps the referenced object."""
    root, tmp = tmp_path / "objects", tmp_path / "tmp"
    tmp.mkdir()
    env = _env(django_db_url, root, tmp)
    image_id = new_id()
    setup = _django(env, "-c", _SETUP, image_id)
    assert setup.returncode == 0, setup.stderr
    referenced = _old_object(root, keys.image_original(image_id))
    orphan = _old_object(root, "images/orphan0000000000000000/original")
    before = _tables(django_db_url)
    assert "mediakit_image" in before

    for args in (["gc", "--delete", "--min-age", "0"], ["gc", "--min-age", "0", "--json"]):
        r = run_cli(*args, env=env, subprocess=True)
        assert r.returncode == 2, (r.stdout, r.stderr)
        assert "manage.py mediakit gc" in r.stderr
        assert "MEDIAKIT_DATABASE_URL" in r.stderr
    assert run_cli("reprocess", env=env, subprocess=True).returncode == 2
    assert _tables(django_db_url) == before  # no "images", no "mediakit_schema_version"
    assert referenced.exists()
    assert orphan.exists()

    r = _django(env, "-m", "django", "mediakit", "gc", "--delete", "--min-age", "0")
    assert r.returncode == 0, r.stderr
    assert "deleted 1 object(s)" in r.stdout
    assert referenced.exists()
    assert not orphan.exists()


def test_gc_refuses_a_database_without_any_mediakit_schema(tmp_path: Path) -> None:
    """An empty database is refused too (its empty tables would make every object an
    orphan), and gc leaves it empty."""
    db = tmp_path / "empty.db"
    url = f"sqlite:///{db}"
    sa.create_engine(url).dispose()
    root = tmp_path / "objects"
    kept = _old_object(root, "images/x000000000000000000000/original")
    r = run_cli("gc", "--delete", "--min-age", "0", env=_env(url, root, tmp_path))
    assert r.returncode == 2
    assert "does not hold mediakit's schema" in r.stderr
    assert _tables(url) == set()
    assert kept.exists()


def test_gc_refuses_a_schema_newer_than_it_knows_and_reprocess_an_older_one(
    tmp_path: Path,
) -> None:
    """A schema from a newer mediakit is refused; ``reprocess`` needs the current schema
    and says to run ``mediakit migrate``; ``gc`` works on any mediakit schema."""
    from mediakit.repositories.sql import MIGRATIONS, Migration, create_engine, migrate

    url = f"sqlite:///{tmp_path}/m.db"
    engine = create_engine(url)
    migrate(engine, MIGRATIONS[:1])
    engine.dispose()
    env = _env(url, tmp_path / "objects", tmp_path)
    r = run_cli("reprocess", env=env)
    assert r.returncode == 2
    assert "mediakit migrate" in r.stderr
    assert run_cli("gc", "--min-age", "0", env=env).returncode == 0
    engine = create_engine(url)
    future = [*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "future", lambda c: None)]
    migrate(engine, future)
    engine.dispose()
    r = run_cli("gc", env=env)
    assert r.returncode == 2
    assert "newer than this mediakit knows" in r.stderr


def test_gc_removes_temp_directories_of_dead_jobs_only_with_delete(tmp_path: Path) -> None:
    """A job temp directory of a dead process is reported, and removed with ``--delete``."""
    from mediakit.repositories.sql import create_engine, migrate

    url = f"sqlite:///{tmp_path}/m.db"
    engine = create_engine(url)
    migrate(engine)
    engine.dispose()
    tmp = tmp_path / "tmp"
    dead = tmp / "mediakit-audio-p999999999-abc"  # no such pid
    dead.mkdir(parents=True)
    (dead / "original").write_bytes(b"flac")
    env = _env(url, tmp_path / "objects", tmp)
    dry = run_cli("gc", "--min-age", "0", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "temp directories of dead jobs: 1" in dry.stdout
    assert str(dead) in dry.stdout
    assert dead.exists()
    done = run_cli("gc", "--min-age", "0", "--delete", env=env)
    assert "removed 1 temp director(ies)" in done.stdout
    assert not dead.exists()


def test_collect_spares_an_object_a_row_refers_to_meanwhile() -> None:
    """Given a report naming a key that a row now references, ``collect`` keeps it."""
    store = MemoryObjectStore()
    repos = MemoryRepositories.create()
    image_id = new_id()
    key = keys.image_original(image_id)
    store.put_bytes(key, b"x", content_type="image/jpeg")
    store.put_bytes("images/gone/original", b"y", content_type="image/jpeg")
    report = OrphanReport(objects=(key, "images/gone/original"))
    t = datetime.now(UTC)
    repos.images.add_many(  # a row written after the report was made
        [
            Image(
                id=image_id,
                original_key=key,
                filename="a.jpg",
                content_type="image/jpeg",
                size=1,
                created_at=t,
                updated_at=t,
            )
        ]
    )
    removed = collect(store, report, repos=repos)
    assert removed.objects == ("images/gone/original",)
    assert list(store.list_keys("")) == [key]
