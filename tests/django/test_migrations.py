"""The app's migrations: complete (no pending model changes) and applicable from scratch."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests import servers
from tests.django.support import add_database, ensure_django
from tests.servers import ServerHandle

ensure_django()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

TABLES = {"mediakit_image", "mediakit_music_set", "mediakit_track"}
_n = itertools.count(1)


def _tables(alias: str) -> set[str]:
    return set(connections[alias].introspection.table_names()) & TABLES


def test_makemigrations_check_finds_no_pending_changes() -> None:
    """The models and the shipped migrations agree (makemigrations --check --dry-run)."""
    call_command("makemigrations", "mediakit_django", check=True, dry_run=True, verbosity=0)


def test_migrations_apply_from_scratch_and_reverse_on_sqlite(tmp_path: Path) -> None:
    """A new SQLite database gets every table; migrating to zero removes them."""
    alias = f"fresh_sqlite_{next(_n)}"
    add_database(alias, f"sqlite:///{tmp_path / 'fresh.db'}")
    assert _tables(alias) == TABLES
    call_command("migrate", "mediakit_django", "zero", database=alias, verbosity=0)
    assert _tables(alias) == set()
    connections[alias].close()


@pytest.mark.postgres
def test_migrations_apply_on_postgres_with_byte_order_ids(postgres_server: ServerHandle) -> None:
    """On PostgreSQL, ids (and the track's set id) are created with COLLATE "C"."""
    alias = f"fresh_pg_{next(_n)}"
    add_database(alias, servers.create_pg_database(postgres_server, f"mk_django_{alias}"))
    assert _tables(alias) == TABLES
    with connections[alias].cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE table_name LIKE 'mediakit_%%' AND column_name IN ('id', 'set_id')"
        )
        collations = {(t, c): coll for t, c, coll in cur.fetchall()}
    assert set(collations.values()) == {"C"}
    assert len(collations) == 4
    call_command("migrate", "mediakit_django", "zero", database=alias, verbosity=0)
    assert _tables(alias) == set()
    connections[alias].close()
