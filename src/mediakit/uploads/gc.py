"""Garbage collection: objects no row references, and multipart uploads left open.

The upload path already deletes what a failed request wrote; this routine catches what
slipped through anyway (a process killed between the store and the database, a cleanup
that itself failed, derivatives of a re-processing whose row swap never happened).

Safety rule: nothing younger than ``min_age`` is touched. An upload writes its objects
*before* its rows are committed, so a young unreferenced object is most likely an upload
in flight; ``min_age`` must exceed the longest upload you allow (the default, a day, is
generous). Keys are made from fresh random ids and never reused, so an object that is
unreferenced *and* old cannot become referenced later.

Order matters: the store is listed first, then the references are read, so a row
committed while the store is being listed is still seen; :func:`collect` reads them once
more just before deleting. The referenced keys are held in memory as a set (roughly 100
bytes per key). An empty set of references is only trusted from a database that holds
mediakit's schema: ``mediakit gc`` refuses any other (see ``mediakit.cli._ops.check_schema``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import attrs

from mediakit.clock import Clock, system_clock
from mediakit.errors import ObjectNotFound
from mediakit.repositories import Repositories
from mediakit.storage import MultipartUploadInfo, ObjectStore

__all__ = ["DEFAULT_MIN_AGE", "OrphanReport", "collect", "find_orphans"]

log = logging.getLogger(__name__)

DEFAULT_MIN_AGE = timedelta(days=1)
"""Objects and multipart uploads younger than this are left alone."""


@attrs.frozen
class OrphanReport:
    """What :func:`find_orphans` found; pass it to :func:`collect` to remove it."""

    objects: tuple[str, ...] = ()
    """Keys of objects old enough that no row references."""
    stale_multipart_uploads: tuple[MultipartUploadInfo, ...] = ()
    """Multipart uploads initiated more than ``min_age`` ago and never completed."""
    young_skipped: int = 0
    """Unreferenced objects and uploads left alone because they are younger than ``min_age``."""

    @property
    def empty(self) -> bool:
        """Whether there is nothing to collect."""
        return not self.objects and not self.stale_multipart_uploads


def find_orphans(
    store: ObjectStore,
    repos: Repositories,
    *,
    prefixes: Sequence[str] = ("images/", "music/"),
    min_age: timedelta = DEFAULT_MIN_AGE,
    clock: Clock = system_clock,
) -> OrphanReport:
    """Objects under ``prefixes`` that no image or track row references, and stale
    multipart uploads; nothing younger than ``min_age`` is reported."""
    cutoff = clock.now() - min_age
    listed = [key for prefix in prefixes for key in store.list_keys(prefix)]
    uploads = [u for prefix in prefixes for u in store.list_multipart_uploads(prefix)]
    referenced = set(repos.images.iter_object_keys())
    referenced.update(repos.tracks.iter_object_keys())
    orphans: list[str] = []
    young = 0
    for key in listed:
        if key in referenced:
            continue
        try:
            info = store.head(key)
        except ObjectNotFound:
            continue  # deleted meanwhile
        if info.last_modified > cutoff:
            young += 1
        else:
            orphans.append(key)
    stale = [u for u in uploads if u.initiated <= cutoff]
    young += len(uploads) - len(stale)
    return OrphanReport(tuple(orphans), tuple(stale), young)


def collect(
    store: ObjectStore, report: OrphanReport, *, repos: Repositories | None = None
) -> OrphanReport:
    """Delete the report's objects and abort its multipart uploads; returns what was removed.

    With ``repos``, every key any row references is read again first, and such keys
    are spared (a row written since :func:`find_orphans` ran); keys are never reused,
    so this cannot happen in normal operation, but deleting a referenced object would
    lose media, and the second read is cheap next to that.
    """
    if report.objects and repos is not None:
        referenced = set(repos.images.iter_object_keys())
        referenced.update(repos.tracks.iter_object_keys())
        spared = [key for key in report.objects if key in referenced]
        if spared:
            log.warning("gc: %d object(s) became referenced meanwhile; kept", len(spared))
            report = attrs.evolve(
                report, objects=tuple(k for k in report.objects if k not in referenced)
            )
    if report.objects:
        store.delete_many(report.objects)
        log.info("garbage collection deleted %d orphan object(s)", len(report.objects))
    for upload in report.stale_multipart_uploads:
        store.abort_multipart_upload(upload.key, upload.upload_id)
    if report.stale_multipart_uploads:
        log.info(
            "garbage collection aborted %d stale multipart upload(s)",
            len(report.stale_multipart_uploads),
        )
    return attrs.evolve(report, young_skipped=0)
