"""Reads by id in the Django repositories run a statement compiled once per connection.

The values must be exactly what the ORM's queryset gives (Django's own SQL and
converters: dates to the microsecond, JSON renditions, NULLs, booleans), on SQLite and
PostgreSQL, through the connection's cursor (one captured query per read).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mediakit.models import ProcessingStatus
from mediakit.testing import builders as b
from tests import servers
from tests.django.support import add_database, django_repositories, ensure_django
from tests.servers import ServerHandle

ensure_django()

from django.db import connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from mediakit_django import repositories as r  # noqa: E402
from mediakit_django.models import MediaImage, MediaMusicSet, MediaTrack  # noqa: E402

MISSING_IDS = ["absent", "it''s", "100%", "ünïcødé", "x'; DROP TABLE mediakit_image; --", "a\\b"]


@pytest.fixture(scope="module")
def pg_alias(postgres_server: ServerHandle) -> str:
    """A migrated PostgreSQL database registered as the Django alias ``lookups_pg``."""
    add_database("lookups_pg", servers.create_pg_database(postgres_server, "mk_django_lookups"))
    return "lookups_pg"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """The default SQLite database, or the PostgreSQL one."""
    name = "default" if request.param == "sqlite" else request.getfixturevalue("pg_alias")
    try:
        yield name
    finally:
        connections[name].close()


def _stored(alias: str) -> tuple[Any, str, str, str]:
    """Repositories holding an image, a hidden set and a track with every kind of value."""
    repos = django_repositories(alias)
    at = datetime(2026, 12, 6, 3, 4, 5, 123456, tzinfo=UTC)
    image = b.image(
        id="it's",
        title="Ünïcode ✓",
        created_at=at,
        updated_at=at,
        visible=True,
        width=640,
        height=None,
        status=ProcessingStatus.READY,
        thumbnails=b.thumbs("it's"),
        failure_reason=None,
    )
    repos.images.add_many([image])
    music_set = b.music_set(id="50%_off", visible=False, description="")
    repos.music_sets.add(music_set)
    track = b.track(
        music_set.id,
        id='q"uote;--',
        duration_s=123.456,
        bitrate_kbps=None,
        renditions=b.tiers(music_set.id, 'q"uote;--'),
        status=ProcessingStatus.FAILED,
        failure_reason="bad file",
    )
    repos.tracks.add_many([track])
    return repos, image.id, music_set.id, track.id


def test_reads_by_id_equal_the_orm_querysets(alias: str) -> None:
    """Unwatched, the reads run on the backend's cursor straight; their values are the
    ORM's either way."""
    repos, image_id, set_id, track_id = _stored(alias)
    orm_image = r._image(MediaImage.objects.using(alias).get(pk=image_id))
    orm_set = r._music_set(MediaMusicSet.objects.using(alias).get(pk=set_id))
    orm_track = r._track(MediaTrack.objects.using(alias).get(pk=track_id))
    for _ in range(2):
        assert not connections[alias].queries_logged
        assert repos.images.get(image_id) == orm_image
        assert repos.music_sets.get(set_id) == orm_set
        assert repos.tracks.get(track_id) == orm_track
        assert repos.tracks.get_with_set_visibility(track_id) == (orm_track, False)
    with CaptureQueriesContext(connections[alias]) as queries:
        assert repos.images.get(image_id) == orm_image
        assert repos.music_sets.get(set_id) == orm_set
        assert repos.tracks.get(track_id) == orm_track
        assert repos.tracks.get_with_set_visibility(track_id) == (orm_track, False)
    assert len(queries) == 4  # watched: one statement per read, through Django's cursor
    assert orm_image.created_at == datetime(2026, 12, 6, 3, 4, 5, 123456, tzinfo=UTC)
    assert orm_image.thumbnails
    assert orm_track.renditions


def test_an_execute_wrapper_sees_the_reads_by_id(alias: str) -> None:
    """Instrumentation installed with ``connection.execute_wrapper`` (tracing, query
    counting) sees every read by id."""
    repos, image_id, _, track_id = _stored(alias)
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(wrapper):
        assert repos.images.get(image_id) is not None
        assert repos.tracks.get_with_set_visibility(track_id) is not None
    assert len(seen) == 2
    assert repos.images.get(image_id) is not None
    assert len(seen) == 2  # unwatched again


def test_a_read_by_id_in_a_broken_transaction_is_refused(alias: str) -> None:
    """As through Django's cursor: inside an atomic block marked for rollback, a read by
    id raises ``TransactionManagementError`` rather than run."""
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    repos, image_id, _, _ = _stored(alias)
    with transaction.atomic(using=alias):
        transaction.set_rollback(True, using=alias)
        connections[alias].needs_rollback = True
        with pytest.raises(TransactionManagementError):
            repos.images.get(image_id)


@pytest.mark.parametrize("missing", MISSING_IDS)
def test_an_absent_or_odd_id_is_none_and_never_sql(alias: str, missing: str) -> None:
    """Ids with quotes, ``%``, backslashes or non-ASCII are parameters, not SQL."""
    repos, _, _, _ = _stored(alias)
    assert repos.images.get(missing) is None
    assert repos.music_sets.get(missing) is None
    assert repos.tracks.get(missing) is None
    assert repos.tracks.get_with_set_visibility(missing) is None
    assert MediaImage.objects.using(alias).count() == 1  # the table is still there, intact


def test_a_visible_set_is_reported_visible(alias: str) -> None:
    repos, _, set_id, track_id = _stored(alias)
    repos.music_sets.update(set_id, {"visible": True})
    found = repos.tracks.get_with_set_visibility(track_id)
    assert found is not None
    assert found[1] is True


def test_each_thread_compiles_once_for_its_own_connection(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repos, image_id, _, _ = _stored(alias)
    compiled: list[int] = []
    compile_ = r._PkLookup._compile

    def counting(self: r._PkLookup, alias: str) -> Any:
        compiled.append(threading.get_ident())
        return compile_(self, alias)

    monkeypatch.setattr(r._PkLookup, "_compile", counting)
    monkeypatch.setattr(r, "_IMAGE_BY_ID", r._PkLookup(MediaImage, r._fields(MediaImage)))
    for _ in range(5):
        assert repos.images.get(image_id) is not None
    assert len(compiled) == 1

    def elsewhere() -> None:
        try:
            for _ in range(3):
                assert repos.images.get(image_id) is not None
        finally:
            connections[alias].close()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert len(compiled) == 2
    assert compiled[0] != compiled[1]


def test_a_statement_django_compiles_with_other_parameters_runs_as_a_queryset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should Django ever compile the lookup with parameters besides the id, the read
    falls back to the queryset rather than run SQL it does not understand."""
    repos, image_id, _, _ = _stored("default")
    lookup = r._PkLookup(MediaImage, r._fields(MediaImage))
    monkeypatch.setattr(lookup, "_compile", lambda alias: None)
    monkeypatch.setattr(r, "_IMAGE_BY_ID", lookup)
    orm_image = r._image(MediaImage.objects.get(pk=image_id))
    assert repos.images.get(image_id) == orm_image
    assert repos.images.get("absent") is None


def test_on_sqlite_the_rewritten_sql_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's SQLite cursor rewrites ``%s`` into ``?`` on every execute; a read by id
    has it done once per statement and connection (by that cursor's own
    ``convert_query``), and its values stay the ORM's."""
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    repos, image_id, _, track_id = _stored("default")
    orm_image = r._image(MediaImage.objects.using("default").get(pk=image_id))
    converted: list[str] = []
    convert = SQLiteCursorWrapper.convert_query

    def counted(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        converted.append(query)
        return convert(self, query, *args, **kwargs)

    monkeypatch.setattr(SQLiteCursorWrapper, "convert_query", counted)
    assert repos.images.get(image_id) == orm_image
    assert repos.tracks.get_with_set_visibility(track_id) is not None
    first = len(converted)  # 2, or 0 if an earlier test compiled them on this connection
    assert first <= 2
    for _ in range(3):
        assert repos.images.get(image_id) == orm_image
        assert repos.tracks.get_with_set_visibility(track_id) is not None
    assert len(converted) == first
    connections["default"].close()
