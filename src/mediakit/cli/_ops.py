"""``mediakit reprocess``, ``mediakit gc`` and ``mediakit migrate``: thin shells over
:mod:`mediakit.processing.tasks`, :mod:`mediakit.uploads.gc` and the SQL migrations."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TextIO

from mediakit.errors import ConfigurationError
from mediakit.models import ProcessingStatus
from mediakit.processing.tasks import (
    LeaseHeld,
    ProcessingContext,
    ReprocessProgress,
    process_image,
    process_track,
    remove_stale_temp_dirs,
    reprocess_all,
    stale_temp_dirs,
)
from mediakit.repositories import Repositories
from mediakit.settings import Settings
from mediakit.storage import ObjectStore, build_object_store
from mediakit.uploads.gc import OrphanReport, collect, find_orphans
from mediakit.values import Closable

__all__ = ["check_schema", "gc", "migrate", "open_repositories", "reprocess"]

log = logging.getLogger("mediakit.cli")

Kind = Literal["images", "tracks"]


def open_repositories(settings: Settings, *, oldest_version: int | None = None) -> Repositories:
    """The SQL repositories on ``MEDIAKIT_DATABASE_URL``, never migrating or creating it.

    The database must hold mediakit's schema at ``oldest_version`` (default: the
    current one) or newer, up to the current one; anything else is a
    :class:`~mediakit.errors.ConfigurationError` saying what to run instead. An operation
    must never create mediakit's tables in a database that is not mediakit's (a Django
    project's, for one), nor take an empty schema for "no rows reference anything".
    """
    from mediakit.repositories.sql import SCHEMA_VERSION, SqlRepositories, create_engine

    engine = create_engine(settings.database_url)
    try:
        check_schema(engine, oldest_version if oldest_version is not None else SCHEMA_VERSION)
    except BaseException:
        engine.dispose()
        raise
    return SqlRepositories.from_engine(engine, migrate_schema=False)


_DJANGO_TABLES = ("mediakit_image", "mediakit_track", "mediakit_music_set")


def check_schema(engine: Any, oldest_version: int) -> int:
    """The schema version of ``engine``'s database, if it is mediakit's and recent enough.

    Raises:
        ConfigurationError: no mediakit schema there (with a pointer to
            ``manage.py mediakit`` when it is a Django project's database), a schema
            older than ``oldest_version`` (run ``mediakit migrate``) or newer than this
            mediakit knows.
    """
    import sqlalchemy as sa

    from mediakit.repositories.sql import SCHEMA_VERSION, schema_version

    url = engine.url.render_as_string(hide_password=True)
    version = schema_version(engine)
    tables = set(sa.inspect(engine).get_table_names())
    if version == 0 or not {"images", "music_tracks"} <= tables:
        if tables & set(_DJANGO_TABLES):
            raise ConfigurationError(
                "MEDIAKIT_DATABASE_URL",
                f"{url} is a Django project's database (it has the mediakit_django tables, "
                "not mediakit's own schema); run this from the project instead: "
                "python manage.py mediakit gc (or reprocess), which reads the Django models",
            )
        raise ConfigurationError(
            "MEDIAKIT_DATABASE_URL",
            f"{url} does not hold mediakit's schema (no mediakit tables); point "
            "MEDIAKIT_DATABASE_URL at the application's database. Nothing was changed "
            "(this command never creates tables; 'mediakit migrate' does)",
        )
    if version > SCHEMA_VERSION:
        raise ConfigurationError(
            "MEDIAKIT_DATABASE_URL",
            f"the schema of {url} is at version {version}, newer than this mediakit knows "
            f"({SCHEMA_VERSION}); upgrade mediakit",
        )
    if version < oldest_version:
        raise ConfigurationError(
            "MEDIAKIT_DATABASE_URL",
            f"the schema of {url} is at version {version}; run 'mediakit migrate' first "
            f"(this command needs version {oldest_version})",
        )
    return version


def _close(repos: Repositories) -> None:
    if isinstance(repos, Closable):  # the SQL ones own an engine; memory ones nothing
        repos.close()


# --- reprocess ------------------------------------------------------------------------------


def _by_ids(ctx: ProcessingContext, what: str, ids: Sequence[str]) -> Iterator[ReprocessProgress]:
    """Like :func:`reprocess_all`, for named ids (images or tracks, whichever they are)."""
    for done, item_id in enumerate(ids, start=1):
        kind: Kind
        if what in {"images", "all"} and ctx.repos.images.get(item_id) is not None:
            kind = "images"
        elif what in {"tracks", "all"} and ctx.repos.tracks.get(item_id) is not None:
            kind = "tracks"
        else:
            yield ReprocessProgress(
                kind="images" if what == "images" else "tracks",
                item_id=item_id,
                done=done,
                total=len(ids),
                status=None,
                failure_reason=f"no {what if what != 'all' else 'image or track'} has this id",
            )
            continue
        try:
            (process_image if kind == "images" else process_track)(ctx, item_id)
        except LeaseHeld:
            log.warning("%s %s is being processed by another job; skipped", kind, item_id)
        except Exception:
            log.exception("re-processing %s %s crashed", kind, item_id)
        row = ctx.repos.images.get(item_id) if kind == "images" else ctx.repos.tracks.get(item_id)
        yield ReprocessProgress(
            kind=kind,
            item_id=item_id,
            done=done,
            total=len(ids),
            status=row.status if row else None,
            failure_reason=row.failure_reason if row else None,
        )


def _describe(p: ReprocessProgress) -> str:
    status = p.status.value if p.status is not None else "missing"
    line = f"[{p.done}/{p.total}] {p.kind[:-1]} {p.item_id}: {status}"
    if p.failure_reason:
        line += f" ({p.failure_reason})"
    return line


def _plain(steps: Iterable[ReprocessProgress], out: TextIO) -> Iterator[ReprocessProgress]:
    for p in steps:
        print(_describe(p), file=out, flush=True)
        yield p


def _with_rich(
    steps: Iterable[ReprocessProgress], label: str, out: TextIO
) -> Iterator[ReprocessProgress]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=out),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)
        for p in steps:
            bar.update(task, total=p.total, completed=p.done)
            if p.status is not ProcessingStatus.READY:
                bar.console.print(_describe(p))
            yield p


def _progress(
    steps: Iterable[ReprocessProgress], label: str, out: TextIO
) -> Iterator[ReprocessProgress]:
    """A rich progress bar on a terminal (``pip install 'mediakit[cli]'``), lines otherwise."""
    if out.isatty():
        try:
            import rich.progress  # noqa: F401
        except ImportError:
            pass
        else:
            return _with_rich(steps, label, out)
    return _plain(steps, out)


def reprocess(
    settings: Settings,
    what: Literal["images", "tracks", "all"],
    ids: Sequence[str] = (),
    *,
    out: TextIO = sys.stdout,
    store: ObjectStore | None = None,
    repos: Repositories | None = None,
) -> int:
    """Regenerate renditions (new revision keys, old ones deleted); exit status 1 if any failed."""
    own_repos = repos is None
    repos = repos if repos is not None else open_repositories(settings)
    try:
        ctx = ProcessingContext(store or build_object_store(settings), repos, settings)
        ready = failed = 0
        kinds: list[Kind] = ["images", "tracks"] if what == "all" else [what]
        runs: list[tuple[str, Iterable[ReprocessProgress]]] = (
            [(f"re-processing {', '.join(ids)}", _by_ids(ctx, what, ids))]
            if ids
            else [(f"re-processing {kind}", reprocess_all(ctx, kind)) for kind in kinds]
        )
        for label, steps in runs:
            for p in _progress(steps, label, out):
                if p.status is ProcessingStatus.READY:
                    ready += 1
                else:
                    failed += 1
        print(f"re-processed: {ready} ready, {failed} failed or missing", file=out)
        return 1 if failed else 0
    finally:
        if own_repos:
            _close(repos)


# --- gc -------------------------------------------------------------------------------------


def _report_json(report: OrphanReport, deleted: bool, temp_dirs: list[Path]) -> dict[str, Any]:
    return {
        "deleted": deleted,
        "orphan_objects": list(report.objects),
        "stale_multipart_uploads": [
            {"key": u.key, "upload_id": u.upload_id, "initiated": u.initiated.isoformat()}
            for u in report.stale_multipart_uploads
        ],
        "stale_temp_dirs": [str(p) for p in temp_dirs],
        "young_skipped": report.young_skipped,
    }


def gc(
    settings: Settings,
    *,
    delete: bool = False,
    min_age: timedelta,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    store: ObjectStore | None = None,
    repos: Repositories | None = None,
    tmp_dir: str | None = None,
) -> int:
    """Find (and with ``delete``, remove) orphaned objects, stale multipart uploads and
    the temp directories of processing jobs whose process died.

    Without ``repos``, the SQL repositories on ``MEDIAKIT_DATABASE_URL`` are opened
    without migrating: a database without mediakit's schema is refused
    (:func:`check_schema`), since an empty schema would make every object an orphan.
    Just before deleting, the references are read again and any object a row names
    meanwhile is spared.
    """
    own_repos = repos is None
    repos = repos if repos is not None else open_repositories(settings, oldest_version=1)
    try:
        store = store or build_object_store(settings)
        report = find_orphans(store, repos, min_age=min_age)
        temp_dirs = stale_temp_dirs(tmp_dir, older_than=min_age)
        if delete and not report.empty:
            report = collect(store, report, repos=repos)
        if delete:
            temp_dirs = remove_stale_temp_dirs(tmp_dir, older_than=min_age)
        if as_json:
            json.dump(_report_json(report, delete, temp_dirs), out, indent=2)
            out.write("\n")
            return 0
        print(f"orphan objects: {len(report.objects)}", file=out)
        for key in report.objects:
            print(f"  {key}", file=out)
        print(f"stale multipart uploads: {len(report.stale_multipart_uploads)}", file=out)
        for u in report.stale_multipart_uploads:
            print(f"  {u.key} (upload {u.upload_id}, started {u.initiated.isoformat()})", file=out)
        print(f"temp directories of dead jobs: {len(temp_dirs)}", file=out)
        for path in temp_dirs:
            print(f"  {path}", file=out)
        if report.young_skipped:
            print(
                f"left alone: {report.young_skipped} unreferenced item(s) younger than "
                f"{int(min_age.total_seconds())} s (uploads may be in flight)",
                file=out,
            )
        if report.empty and not temp_dirs:
            print("nothing to collect", file=out)
        elif delete:
            print(
                f"deleted {len(report.objects)} object(s), aborted "
                f"{len(report.stale_multipart_uploads)} multipart upload(s), removed "
                f"{len(temp_dirs)} temp director(ies)",
                file=out,
            )
        else:
            print("dry run: nothing deleted; run again with --delete to remove these", file=out)
        return 0
    finally:
        if own_repos:
            _close(repos)


# --- migrate --------------------------------------------------------------------------------


def migrate(settings: Settings, *, out: TextIO = sys.stdout) -> int:
    """Bring the SQL schema on ``MEDIAKIT_DATABASE_URL`` up to date; print the versions."""
    from mediakit.repositories.sql import create_engine, schema_version
    from mediakit.repositories.sql import migrate as apply

    engine = create_engine(settings.database_url)
    try:
        before = schema_version(engine)
        after = apply(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"schema already at version {after}; nothing to do", file=out)
    else:
        print(f"schema migrated from version {before} to {after}", file=out)
    return 0
