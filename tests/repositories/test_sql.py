"""SQL-specific behaviour: migrations, engine set-up, and writers in other processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from mediakit.errors import ConfigurationError, Conflict
from mediakit.models import ProcessingStatus
from mediakit.repositories.sql import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    SqlRepositories,
    _queries,
    _tracks,
    create_engine,
    create_schema,
    metadata,
    migrate,
    schema_version,
)
from mediakit.repositories.sql._tables import images_table, music_sets_table, music_tracks_table
from mediakit.testing import builders as b

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(fresh_db_url: str) -> Iterator[sa.Engine]:
    """An engine on a new, empty database (SQLite file or PostgreSQL)."""
    e = create_engine(fresh_db_url)
    yield e
    e.dispose()


def _versions(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.exec_driver_sql(
                "SELECT version FROM mediakit_schema_version ORDER BY version"
            ).scalars()
        )


def test_a_fresh_database_reaches_the_latest_version(engine: sa.Engine) -> None:
    assert schema_version(engine) == 0
    assert migrate(engine) == SCHEMA_VERSION
    assert schema_version(engine) == SCHEMA_VERSION
    assert _versions(engine) == [m.version for m in MIGRATIONS]


def test_the_migrated_schema_matches_the_table_definitions(engine: sa.Engine) -> None:
    migrate(engine)
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
    uniques = inspector.get_unique_constraints("music_tracks")
    assert {tuple(u["column_names"]) for u in uniques} == {("set_id", "position")}
    (fk,) = inspector.get_foreign_keys("music_tracks")
    assert fk["referred_table"] == "music_sets"
    assert (fk.get("options") or {}).get("ondelete", "").upper() == "CASCADE"


def test_migrating_twice_is_a_no_op_and_keeps_data(engine: sa.Engine) -> None:
    repos = SqlRepositories.from_engine(engine)
    img = b.image()
    repos.images.add_many([img])
    assert migrate(engine) == SCHEMA_VERSION
    assert create_schema(engine) == SCHEMA_VERSION
    assert _versions(engine) == [m.version for m in MIGRATIONS]
    assert SqlRepositories.from_engine(engine).images.get(img.id) == img


def test_a_new_step_is_applied_once_in_order(engine: sa.Engine) -> None:
    calls: list[int] = []

    def add_column(conn: sa.Connection) -> None:
        calls.append(2)
        conn.exec_driver_sql("ALTER TABLE images ADD COLUMN caption TEXT")

    nxt = SCHEMA_VERSION + 1
    steps = [*MIGRATIONS, Migration(nxt, "images.caption", add_column)]
    assert migrate(engine) == SCHEMA_VERSION
    assert migrate(engine, steps) == nxt
    assert migrate(engine, steps) == nxt
    assert calls == [2]
    assert "caption" in {c["name"] for c in sa.inspect(engine).get_columns("images")}
    assert _versions(engine) == list(range(1, nxt + 1))


def test_a_failing_step_is_rolled_back_whole(engine: sa.Engine) -> None:
    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("boom")

    migrate(engine)
    with pytest.raises(RuntimeError, match="boom"):
        migrate(engine, [*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "broken", broken)])
    assert schema_version(engine) == SCHEMA_VERSION
    assert not sa.inspect(engine).has_table("half_done")


def test_a_database_newer_than_the_code_is_refused(engine: sa.Engine) -> None:
    migrate(engine, [*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "from the future", lambda c: None)])
    with pytest.raises(ConfigurationError, match="newer than this mediakit"):
        migrate(engine)


def test_migration_versions_must_count_up_from_one(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="in order"):
        migrate(engine, [MIGRATIONS[0], Migration(3, "gap", lambda conn: None)])
    with pytest.raises(ValueError, match="in order"):
        migrate(engine, [*MIGRATIONS, Migration(SCHEMA_VERSION + 2, "gap", lambda c: None)])


def test_concurrent_start_ups_apply_each_step_once(engine: sa.Engine) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        try:
            barrier.wait()
            migrate(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _versions(engine) == [m.version for m in MIGRATIONS]


def test_sqlite_engine_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    e = create_engine(f"sqlite:///{tmp_path}/a/b/c.db", busy_timeout_s=7)
    try:
        assert (tmp_path / "a" / "b").is_dir()  # parent directories created
        with e.connect() as conn:
            pragma = conn.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 7000
    finally:
        e.dispose()


def test_an_in_memory_sqlite_database_serves_several_threads() -> None:
    repos = SqlRepositories.from_url("sqlite://")
    try:
        s = b.music_set()
        repos.music_sets.add(s)
        workers = [
            threading.Thread(
                target=lambda: repos.tracks.add_many([b.track(s.id) for _ in range(5)])
            )
            for _ in range(4)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert [t.position for t in repos.tracks.list_for_set(s.id)] == list(range(20))
    finally:
        repos.close()


_WRITER = """
import sys
from mediakit.repositories.sql import SqlRepositories
from mediakit.testing import builders as b
repos = SqlRepositories.from_url(sys.argv[1])
for _ in range(5):
    repos.tracks.add_many([b.track(sys.argv[2]) for _ in range(3)])
repos.close()
"""


@pytest.mark.slow
def test_writers_in_separate_processes_give_unique_contiguous_positions(
    fresh_db_url: str,
) -> None:
    """BEGIN IMMEDIATE (SQLite) / FOR UPDATE (PostgreSQL) serialize writers across processes."""
    repos = SqlRepositories.from_url(fresh_db_url)
    try:
        s = b.music_set()
        repos.music_sets.add(s)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _WRITER, fresh_db_url, s.id],
                cwd=ROOT,
                stderr=subprocess.PIPE,
            )
            for _ in range(3)
        ]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
        assert [t.position for t in repos.tracks.list_for_set(s.id)] == list(range(45))
    finally:
        repos.close()


def test_object_keys_and_id_checks_work_across_batches(
    fresh_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key listing reads id-ordered batches; duplicate checks query ids in chunks."""
    monkeypatch.setattr(_queries, "_BATCH", 3)
    repos = SqlRepositories.from_url(fresh_db_url)
    try:
        imgs = [b.image() for _ in range(10)]
        repos.images.add_many(imgs)
        keys = list(repos.images.iter_object_keys())
        assert sorted(keys) == sorted(i.original_key for i in imgs)
        with pytest.raises(Conflict, match=imgs[8].id):
            repos.images.add_many([b.image() for _ in range(5)] + [imgs[8]])
        assert len(repos.images.list(visible_only=False, limit=100).items) == 10
    finally:
        repos.close()


def test_track_counts_are_one_group_by_statement_per_batch(
    fresh_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``count_for_sets`` asks one ``GROUP BY`` query for a page of sets, and one per
    batch of ids for a longer list, with the same answer."""
    monkeypatch.setattr(_tracks, "_BATCH", 3)
    repos = SqlRepositories.from_url(fresh_db_url)
    selects: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    try:
        sets = [b.music_set() for _ in range(7)]
        for s in sets:
            repos.music_sets.add(s)
        repos.tracks.add_many([b.track(s.id) for n, s in enumerate(sets) for _ in range(n)])
        sa.event.listen(repos.engine, "before_cursor_execute", record)
        counts = repos.tracks.count_for_sets([s.id for s in sets[:3]])
        assert counts == {sets[0].id: 0, sets[1].id: 1, sets[2].id: 2}
        assert len(selects) == 1
        assert "GROUP BY" in selects[0].upper()
        selects.clear()
        counts = repos.tracks.count_for_sets([s.id for s in sets])
        assert counts == {s.id: n for n, s in enumerate(sets)}
        assert len(selects) == 3  # 7 ids in batches of 3
        selects.clear()
        assert repos.tracks.count_for_sets([]) == {}
        assert selects == []
    finally:
        sa.event.remove(repos.engine, "before_cursor_execute", record)
        repos.close()


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-01-02 03:04:05.000007", datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)),
        ("2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
    ],
)
def test_sqlite_timestamps_in_any_stored_text_form_read_back_as_aware_utc(
    tmp_path: Path, stored: str, expected: datetime
) -> None:
    """The fast SQLite datetime reader agrees with SQLAlchemy's on every text form."""
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path}/ts.db")
    try:
        img = b.image()
        repos.images.add_many([img])
        with repos.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE images SET updated_at = ?", (stored,))
        got = repos.images.get(img.id)
        assert got is not None
        assert got.updated_at == expected
        assert got.updated_at.tzinfo is UTC
        assert got.created_at == img.created_at
    finally:
        repos.close()


def test_rows_read_back_equal_what_was_written_and_share_no_mutable_state(
    fresh_db_url: str,
) -> None:
    """Positional row reading and the renditions cache give back exactly the stored models."""
    repos = SqlRepositories.from_url(fresh_db_url)
    try:
        imgs = [b.image() for _ in range(3)]
        repos.images.add_many(imgs)
        for _ in range(2):  # the second read comes from the renditions cache
            page = repos.images.list(visible_only=False, limit=10)
            assert sorted(page.items, key=lambda i: i.id) == sorted(imgs, key=lambda i: i.id)
            assert all(isinstance(i.thumbnails, tuple) for i in page.items)
    finally:
        repos.close()


def test_a_refused_database_leaves_no_connection_open(engine: sa.Engine, fresh_db_url: str) -> None:
    """``from_url`` disposes of the engine it made when the migration refuses the
    database: a failed start leaves no pooled connection to the garbage collector."""
    migrate(engine, [*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "from the future", lambda c: None)])
    engine.dispose()
    counts = {"opened": 0, "closed": 0}

    def opened(*_: object) -> None:
        counts["opened"] += 1

    def closed(*_: object) -> None:
        counts["closed"] += 1

    sa.event.listen(sa.pool.Pool, "connect", opened)
    sa.event.listen(sa.pool.Pool, "close", closed)
    try:
        with pytest.raises(ConfigurationError, match="newer than this mediakit"):
            SqlRepositories.from_url(fresh_db_url)
    finally:
        sa.event.remove(sa.pool.Pool, "connect", opened)
        sa.event.remove(sa.pool.Pool, "close", closed)
    assert counts["opened"] >= 1
    assert counts["closed"] == counts["opened"]


def test_the_point_read_gives_what_sqlalchemy_reads(fresh_db_url: str) -> None:
    """``_Db.first`` (the Range proxy's one read, run on the driver) returns the row
    SQLAlchemy's own ``execute(...).first()`` returns, every type processed alike:
    dates, enums, floats, renditions, NULLs, and the joined set visibility."""
    repos = SqlRepositories.from_url(fresh_db_url)
    db = repos.images._db
    try:
        img = b.image(
            width=6000, height=4000, visible=True, status=ProcessingStatus.READY, title="é 🎵"
        )
        img = attrs.evolve(img, thumbnails=b.thumbs(img.id))
        bare = b.image(failure_reason="x", status=ProcessingStatus.FAILED)
        music = b.music_set(visible=True)
        repos.music_sets.add(music)
        trk = b.track(music.id, duration_s=181.25, bitrate_kbps=320, status=ProcessingStatus.READY)
        trk = attrs.evolve(trk, renditions=b.tiers(music.id, trk.id))
        repos.images.add_many([img, bare])
        (trk,) = repos.tracks.add_many([trk])
        cases = [
            (_queries._BY_ID[images_table], {"row_id": img.id}),
            (_queries._BY_ID[images_table], {"row_id": bare.id}),
            (_queries._BY_ID[images_table], {"row_id": "absent"}),
            (_queries._BY_ID[music_sets_table], {"row_id": music.id}),
            (_queries._BY_ID[music_tracks_table], {"row_id": trk.id}),
            (_tracks._track_with_visibility(), {"track_id": trk.id}),
        ]
        for _ in range(2):  # the second time with the processors kept from the first
            for stmt, params in cases:
                with repos.engine.connect() as conn:
                    row = conn.execute(stmt, params).first()
                expected = None if row is None else tuple(row)
                assert db.first(stmt, params) == expected
        assert repos.images.get(img.id) == img
        assert repos.images.get(bare.id) == bare
        assert repos.tracks.get_with_set_visibility(trk.id) == (trk, True)
    finally:
        repos.close()


def test_the_point_read_hands_its_connection_back(tmp_path: Path) -> None:
    """A driver error on the point read is SQLAlchemy's error, as on every other path
    (so the unavailability mapping sees it), and no connection stays checked out."""
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path}/pool.db")
    try:
        repos.images.add_many([img := b.image()])
        for _ in range(50):
            assert repos.images.get(img.id) == img
        with repos.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE images RENAME TO images_gone")
        for _ in range(3):
            with pytest.raises(sa.exc.OperationalError, match="no such table"):
                repos.images.get(img.id)
        pool = repos.engine.pool
        assert isinstance(pool, sa.pool.QueuePool)
        assert pool.checkedout() == 0
    finally:
        repos.close()


def test_a_watched_engine_sees_the_point_reads(tmp_path: Path) -> None:
    """With a listener on the engine's statements (tracing, query logs), the point read
    goes through SQLAlchemy's ``Connection``, so the listener sees it like any other."""
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path}/watched.db")
    try:
        repos.images.add_many([img := b.image()])
        seen: list[str] = []

        def record(conn: object, cursor: object, statement: str, *args: object) -> None:
            seen.append(statement)

        sa.event.listen(repos.engine, "before_cursor_execute", record)
        assert repos.images.get(img.id) == img
        assert repos.tracks.get_with_set_visibility("absent") is None
        assert [s.split(None, 1)[0] for s in seen] == ["SELECT", "SELECT"]
        sa.event.remove(repos.engine, "before_cursor_execute", record)
        seen.clear()
        assert repos.images.get(img.id) == img
        assert seen == []  # unwatched again: the direct read
    finally:
        repos.close()


def test_a_read_of_one_statement_opens_no_transaction_on_sqlite(tmp_path: Path) -> None:
    """SQLite: a listing (one ``SELECT``) runs as its own statement transaction, with no
    ``BEGIN``; the read of several statements that must agree keeps one; writes take
    the write lock at once (``BEGIN IMMEDIATE``)."""
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path}/begin.db")
    try:
        music = b.music_set()
        repos.music_sets.add(music)
        seen: list[str] = []

        def record(conn: object, cursor: object, statement: str, *args: object) -> None:
            seen.append(statement.split(None, 2)[0] + " " + statement.split(None, 2)[1])

        sa.event.listen(repos.engine, "before_cursor_execute", record)
        repos.images.list(visible_only=False, limit=10)
        assert seen == ["SELECT images.id,"]
        seen.clear()
        repos.tracks.count_for_sets([music.id])
        assert seen[0] == "BEGIN DEFERRED"
        seen.clear()
        repos.images.add_many([b.image()])
        assert seen[0] == "BEGIN IMMEDIATE"
    finally:
        repos.close()
