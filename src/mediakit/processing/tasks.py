"""Processing tasks: make an image's thumbnails or a track's audio tiers, publish atomically.

Both tasks are idempotent and never half-publish:

1. claim the row's processing **lease** (one atomic compare-and-set in the repository:
   the row becomes ``processing``, owned by this job until the lease expires); a
   heartbeat thread renews it every third of ``MEDIAKIT_JOB_LEASE_SECONDS`` while the
   job runs. A row whose live lease another job holds is not touched
   (:class:`LeaseHeld`), so several workers or replicas never process one row at once;
2. copy the original from the object store to a private temp directory
   (``$TMPDIR/mediakit-img-p{pid}-*`` or ``mediakit-audio-p{pid}-*``), removed on every
   way out of the job (success, failure, timeout, cancellation);
3. generate every derivative (:mod:`mediakit.processing.images` / ``.audio``);
4. upload them under a **new revision** (keys from :mod:`mediakit.keys`; an object is written
   once and never overwritten);
5. swap the row in **one** partial ``update`` (renditions + dimensions or duration + ``ready``);
6. delete the previous revision's objects.

On any failure every object written by this run is deleted and the row is marked ``failed``
with a reason (the previous, complete set of derivatives stays published). If the row was
deleted meanwhile, whatever this run wrote is deleted and the task ends quietly.
Unexpected errors (storage or database down) are re-raised after the clean-up so that a
job runner can log or retry them; retrying is safe. The lease is released at the end.

A process killed mid-job (SIGKILL, OOM, power) leaves its row ``processing`` with a lease
nobody renews, and its temp directory: :func:`mediakit.processing.jobs.requeue_interrupted`
finds such rows once the lease expired and :func:`remove_stale_temp_dirs` such
directories (their process is gone); the job runners call both at start and regularly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

import attrs

from mediakit import keys
from mediakit.clock import Clock, system_clock
from mediakit.errors import ConfigurationError, MediaKitError, NotFound, ProcessingError
from mediakit.models import AUDIO_TIERS, Image, ProcessingStatus, Rendition, Track, new_id
from mediakit.processing import audio, images
from mediakit.repositories import Repositories
from mediakit.settings import Settings
from mediakit.storage import ObjectStore
from mediakit.values import Closable

__all__ = [
    "TEMP_PREFIXES",
    "LeaseHeld",
    "ProcessingContext",
    "ReprocessProgress",
    "process_image",
    "process_track",
    "remove_stale_temp_dirs",
    "reprocess_all",
    "stale_temp_dirs",
]

log = logging.getLogger("mediakit.processing")

_CHUNK = 1024 * 1024


@attrs.frozen
class ProcessingContext:
    """Everything a processing task needs; built once per process by the app or worker."""

    store: ObjectStore
    repos: Repositories
    settings: Settings
    clock: Clock = system_clock
    tmp_dir: str | None = None
    """Where originals are copied while processed (``None``: the system temp directory)."""


def _download(ctx: ProcessingContext, key: str, dest: Path) -> None:
    chunks = ctx.store.get_range(key, chunk_size=_CHUNK)
    try:
        with dest.open("wb") as f:
            for chunk in chunks:
                f.write(chunk)
    finally:
        if isinstance(chunks, Closable):
            chunks.close()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _delete_quietly(ctx: ProcessingContext, written: Sequence[str]) -> None:
    if not written:
        return
    try:
        ctx.store.delete_many(list(written))
    except MediaKitError:
        # Left for the garbage collector (objects no row references); say so loudly.
        log.exception("could not delete %d derivative(s) after a failure", len(written))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MediaKitError):
        return exc.message
    return f"Internal error while processing ({type(exc).__name__})."


# --- leases, heartbeats and temp directories --------------------------------------------------

TEMP_PREFIXES = ("mediakit-img-", "mediakit-audio-")
"""Prefixes of the jobs' temp directories (each followed by ``p{pid}-``)."""

_UNNAMED_MIN_AGE_S = 3600.0
_PID_IN_NAME = re.compile(r"^mediakit-(?:img|audio)-p(\d+)-")


class LeaseHeld(Exception):
    """Another job holds the row's live processing lease; this run did nothing.

    Job runners treat it as "someone is on it": the thread and inline runners drop the
    job (their sweep takes the row up again if that other job dies), the Dramatiq
    actor lets Dramatiq retry it later.
    """


class _LeaseRepo(Protocol):
    def get(self, item_id: str, /) -> Image | Track | None: ...

    def claim(
        self,
        item_id: str,
        *,
        owner: str,
        now: datetime,
        until: datetime,
        unfinished_only: bool = False,
    ) -> Image | Track | None: ...

    def renew(self, item_id: str, *, owner: str, until: datetime) -> bool: ...

    def release(self, item_id: str, *, owner: str) -> None: ...


def _owner() -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:60]
    return f"{host}:{os.getpid()}:{new_id()[:12]}"


class _Job:
    """One run of a task on one row: the lease, its heartbeat and the temp directory.

    Entering claims the lease (``row`` is ``None`` when there is nothing to do;
    :class:`LeaseHeld` when another job holds it). While inside, a daemon thread renews
    the lease and touches the temp directory every third of the lease, so neither looks
    abandoned. Leaving removes the temp directory, stops the heartbeat and releases the
    lease, whatever happened inside.
    """

    def __init__(
        self,
        ctx: ProcessingContext,
        repo: _LeaseRepo,
        kind: str,
        item_id: str,
        unfinished_only: bool,
    ) -> None:
        self.ctx = ctx
        self.repo = repo
        self.kind = kind
        self.item_id = item_id
        self.unfinished_only = unfinished_only
        self.owner = _owner()
        self.row: Image | Track | None = None
        self.lost = False
        self._lease = timedelta(seconds=ctx.settings.job_lease_seconds)
        self._tmp: Path | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> _Job:
        now = self.ctx.clock.now()
        row = self.repo.claim(
            self.item_id,
            owner=self.owner,
            now=now,
            until=now + self._lease,
            unfinished_only=self.unfinished_only,
        )
        if row is None:
            current = self.repo.get(self.item_id)
            if current is None:
                log.info("%s %s no longer exists; nothing to process", self.kind, self.item_id)
            elif self.unfinished_only and current.status in (
                ProcessingStatus.READY,
                ProcessingStatus.FAILED,
            ):
                log.info("%s %s is already %s", self.kind, self.item_id, current.status.value)
            else:
                raise LeaseHeld(f"{self.kind} {self.item_id} is being processed by another job")
            return self
        self.row = row
        self._beat = threading.Thread(
            target=self._heartbeat, name=f"mediakit-lease-{self.item_id[:8]}", daemon=True
        )
        self._beat.start()
        return self

    def _heartbeat(self) -> None:
        every = max(self._lease.total_seconds() / 3, 0.05)
        while not self._stop.wait(every):
            if self._tmp is not None:
                with contextlib.suppress(OSError):
                    os.utime(self._tmp)
            try:
                renewed = self.repo.renew(
                    self.item_id, owner=self.owner, until=self.ctx.clock.now() + self._lease
                )
            except Exception:
                log.warning("%s %s: could not renew the lease", self.kind, self.item_id)
                continue
            if not renewed:
                self.lost = True
                log.warning("%s %s: the processing lease was lost", self.kind, self.item_id)
                return

    def tmp_dir(self, prefix: str) -> Path:
        """This job's private temp directory (created on first call)."""
        if self._tmp is None:
            self._tmp = Path(
                tempfile.mkdtemp(prefix=f"{prefix}p{os.getpid()}-", dir=self.ctx.tmp_dir)
            )
        return self._tmp

    def remove_tmp(self) -> None:
        """Remove the temp directory now (it is removed at the end anyway)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove_tmp()
        if self._beat is None:
            return
        self._stop.set()
        self._beat.join()
        try:
            self.repo.release(self.item_id, owner=self.owner)
        except Exception:  # the lease then just expires
            log.warning("%s %s: could not release the lease", self.kind, self.item_id)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def stale_temp_dirs(
    tmp_dir: str | os.PathLike[str] | None = None,
    *,
    older_than: timedelta,
    now: float | None = None,
) -> list[Path]:
    """Job temp directories left behind by a process that died (SIGKILL, OOM, power).

    A directory counts when its name has a job prefix (:data:`TEMP_PREFIXES`), it was
    last modified more than ``older_than`` ago (a running job touches its directory at
    every heartbeat) and the process named in it is gone. A directory naming no process
    (made by an older mediakit) must be older than an hour too. Only ``tmp_dir``
    (default: the system temp directory) is looked at, not below it.
    """
    base = Path(tmp_dir) if tmp_dir is not None else Path(tempfile.gettempdir())
    now = time.time() if now is None else now
    cutoff = now - older_than.total_seconds()
    cutoff_unnamed = min(cutoff, now - _UNNAMED_MIN_AGE_S)
    found: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    for path in entries:
        if not path.name.startswith(TEMP_PREFIXES):
            continue
        try:
            st = path.lstat()
        except OSError:
            continue
        if not path.is_dir() or path.is_symlink() or st.st_mtime > cutoff:
            continue
        m = _PID_IN_NAME.match(path.name)
        if m and (int(m[1]) == os.getpid() or _pid_alive(int(m[1]))):
            continue  # a job of a live process (this one, or another on this host)
        if not m and st.st_mtime > cutoff_unnamed:
            continue  # named by a mediakit before 0.2: its process is unknown, wait longer
        found.append(path)
    return sorted(found)


def remove_stale_temp_dirs(
    tmp_dir: str | os.PathLike[str] | None = None, *, older_than: timedelta
) -> list[Path]:
    """Remove what :func:`stale_temp_dirs` finds; returns the directories removed."""
    removed = []
    for path in stale_temp_dirs(tmp_dir, older_than=older_than):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("removed %d temp director(ies) of jobs that died", len(removed))
    return removed


# --- images ---------------------------------------------------------------------------------


def process_image(ctx: ProcessingContext, image_id: str, *, unfinished_only: bool = False) -> None:
    """Generate and publish an image's thumbnails (``settings.thumbnail_sizes``).

    With ``unfinished_only`` (what job runners pass) a row already ``ready`` or
    ``failed`` is left alone. :class:`LeaseHeld` if another job holds the row's lease.
    """
    repo = ctx.repos.images
    with _Job(ctx, repo, "image", image_id, unfinished_only) as job:
        if job.row is None:
            return
        image = job.row
        assert isinstance(image, Image)
        written: list[str] = []
        try:
            src = job.tmp_dir("mediakit-img-") / "original"
            _download(ctx, image.original_key, src)
            fmt = images.MIME_TO_FORMAT.get(image.content_type)
            result = images.make_thumbnails(
                str(src),
                ctx.settings.thumbnail_sizes,
                max_pixels=ctx.settings.image_max_pixels,
                formats=[fmt] if fmt else None,
                quality=ctx.settings.thumbnail_webp_quality,
                method=ctx.settings.thumbnail_webp_method,
            )
            job.remove_tmp()  # the thumbnails are in memory now
            rev = keys.new_revision()
            renditions = []
            for thumb in result.thumbnails:
                key = keys.image_thumbnail(image_id, thumb.size, rev)
                written.append(key)
                info = ctx.store.put_bytes(key, thumb.data, content_type=thumb.content_type)
                renditions.append(
                    Rendition(
                        name=f"w{thumb.size}",
                        key=key,
                        content_type=thumb.content_type,
                        size=info.size,
                        width=thumb.width,
                        height=thumb.height,
                    )
                )
            changes: dict[str, object] = {
                "thumbnails": tuple(renditions),
                "width": result.width,
                "height": result.height,
            }
            _publish(ctx, job, repo.get, repo.update, image_id, changes, written, "thumbnails")
        except BaseException as exc:
            _fail(ctx, repo.update, "image", image_id, written, exc)
            if not isinstance(exc, ProcessingError):
                raise


# --- tracks ---------------------------------------------------------------------------------


def process_track(ctx: ProcessingContext, track_id: str, *, unfinished_only: bool = False) -> None:
    """Encode and publish a track's streaming tiers, and record duration and bitrate.

    With ``settings.audio_pre_encode`` off, the track becomes ready with its original only
    (duration and bitrate are still read when an ffmpeg is available). ``unfinished_only``
    and :class:`LeaseHeld` as for :func:`process_image`.
    """
    repo = ctx.repos.tracks
    with _Job(ctx, repo, "track", track_id, unfinished_only) as job:
        if job.row is None:
            return
        track = job.row
        assert isinstance(track, Track)
        written: list[str] = []
        try:
            changes = _track_changes(ctx, job, track, written)
            _publish(ctx, job, repo.get, repo.update, track_id, changes, written, "renditions")
        except BaseException as exc:
            _fail(ctx, repo.update, "track", track_id, written, exc)
            if not isinstance(exc, ProcessingError):
                raise


def _track_changes(
    ctx: ProcessingContext, job: _Job, track: Track, written: list[str]
) -> dict[str, object]:
    settings = ctx.settings
    try:
        ffmpeg: str | None = audio.find_ffmpeg(settings)
    except ConfigurationError:
        if settings.audio_pre_encode:
            raise
        ffmpeg = None
    input_format = audio.input_format_for(track.content_type)
    if ffmpeg is None:  # nothing to read the original with: do not download it
        return {"renditions": ()}
    tmp = job.tmp_dir("mediakit-audio-")
    src = tmp / "original"
    _download(ctx, track.original_key, src)
    info = audio.probe(
        src, ffmpeg=ffmpeg, input_format=input_format, timeout_s=settings.ffmpeg_timeout
    )
    changes: dict[str, object] = {
        "duration_s": info.duration_s,
        "bitrate_kbps": info.bitrate_kbps,
        "renditions": (),
    }
    if not settings.audio_pre_encode:
        return changes
    out = tmp / "tiers"
    out.mkdir()
    tiers = audio.encode_tiers(
        src,
        out,
        input_format=input_format,
        ffmpeg=ffmpeg,
        tiers=AUDIO_TIERS,
        timeout_s=settings.ffmpeg_timeout,
    )
    rev = keys.new_revision()
    renditions = []
    for tier in tiers:
        key = keys.track_tier(track.set_id, track.id, str(tier.tier), rev, tier.extension)
        written.append(key)
        obj = ctx.store.put_stream(key, _file_chunks(tier.path), content_type=tier.content_type)
        renditions.append(
            Rendition(
                name=str(tier.tier),
                key=key,
                content_type=tier.content_type,
                size=obj.size,
                bitrate_kbps=tier.bitrate_kbps,
                duration_s=tier.duration_s,
            )
        )
    changes["renditions"] = tuple(renditions)
    if changes["duration_s"] is None:
        changes["duration_s"] = tiers[0].duration_s
    return changes


# --- the shared publish / fail steps ----------------------------------------------------------


def _publish(
    ctx: ProcessingContext,
    job: _Job,
    get: _Get,
    update: _Update,
    item_id: str,
    changes: dict[str, object],
    written: list[str],
    field: Literal["thumbnails", "renditions"],
) -> None:
    """Swap the row to the new derivatives in one update, then drop the previous ones."""
    before = get(item_id)
    if before is None or job.lost:
        # gone, or our lease expired and another job took the row over: ours is not needed
        if job.lost:
            log.warning("%s: lease lost while processing; discarding this run's output", item_id)
        _delete_quietly(ctx, written)
        written.clear()
        return
    previous = {r.key for r in getattr(before, field)}
    try:
        update(
            item_id,
            {
                **changes,
                "status": ProcessingStatus.READY,
                "failure_reason": None,
                "updated_at": ctx.clock.now(),
            },
        )
    except NotFound:  # deleted while we worked: what we wrote belongs to nobody
        _delete_quietly(ctx, written)
        written.clear()
        return
    new = set(written)
    written.clear()  # published: from here on a failure must not delete them
    _delete_quietly(ctx, sorted(previous - new))


def _fail(
    ctx: ProcessingContext,
    update: _Update,
    kind: str,
    item_id: str,
    written: list[str],
    exc: BaseException,
) -> None:
    _delete_quietly(ctx, written)
    reason = _reason(exc)
    if isinstance(exc, ProcessingError):
        log.info("%s %s failed processing: %s", kind, item_id, reason)
    else:
        log.error("%s %s: processing crashed", kind, item_id, exc_info=exc)
    try:
        update(
            item_id,
            {
                "status": ProcessingStatus.FAILED,
                "failure_reason": reason,
                "updated_at": ctx.clock.now(),
            },
        )
    except NotFound:
        pass
    except Exception:
        log.exception("%s %s: could not record the failure", kind, item_id)


# Narrow callable types so images and tracks share the steps above.
class _Update(Protocol):
    def __call__(self, item_id: str, changes: Mapping[str, object], /) -> object: ...


class _Get(Protocol):
    def __call__(self, item_id: str, /) -> Image | Track | None: ...


# --- re-processing --------------------------------------------------------------------------


@attrs.frozen
class ReprocessProgress:
    """One step of :func:`reprocess_all`: which item, and how it ended."""

    kind: Literal["images", "tracks"]
    item_id: str
    done: int
    """Items handled so far, this one included."""
    total: int
    """Items to handle in this run (listed when the run started)."""
    status: ProcessingStatus | None
    """The item's status afterwards (``None`` if it was deleted meanwhile)."""
    failure_reason: str | None = None


def reprocess_all(
    ctx: ProcessingContext, kind: Literal["images", "tracks"]
) -> Iterator[ReprocessProgress]:
    """Re-process every image or every track, one at a time, yielding progress (for the CLI).

    Unexpected errors are logged and reported as ``failed``; the loop goes on.
    """
    ids = list(_all_ids(ctx, kind))  # ids only; a stable total for a progress bar
    for done, item_id in enumerate(ids, start=1):
        try:
            if kind == "images":
                process_image(ctx, item_id)
            else:
                process_track(ctx, item_id)
        except LeaseHeld:
            log.warning("%s %s is being processed by another job; skipped", kind, item_id)
        except Exception:
            log.exception("re-processing %s %s crashed", kind, item_id)
        row: Image | Track | None = (
            ctx.repos.images.get(item_id) if kind == "images" else ctx.repos.tracks.get(item_id)
        )
        yield ReprocessProgress(
            kind=kind,
            item_id=item_id,
            done=done,
            total=len(ids),
            status=row.status if row else None,
            failure_reason=row.failure_reason if row else None,
        )


def _all_ids(ctx: ProcessingContext, kind: Literal["images", "tracks"]) -> Iterator[str]:
    if kind == "images":
        cursor: str | None = None
        while True:
            page = ctx.repos.images.list(visible_only=False, limit=100, cursor=cursor)
            yield from (i.id for i in page.items)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
    elif kind == "tracks":
        cursor = None
        while True:
            sets = ctx.repos.music_sets.list(visible_only=False, limit=100, cursor=cursor)
            for music_set in sets.items:
                yield from (t.id for t in ctx.repos.tracks.list_for_set(music_set.id))
            if sets.next_cursor is None:
                return
            cursor = sets.next_cursor
    else:
        raise ValueError(f"kind must be 'images' or 'tracks', not {kind!r}")
