"""Processing tasks: make an image's thumbnails or a track's audio tiers, publish atomically.

Both tasks are idempotent and never half-publish:

1. mark the row ``processing``;
2. copy the original from the object store to a private temp directory;
3. generate every derivative (:mod:`mediakit.processing.images` / ``.audio``);
4. upload them under a **new revision** (keys from :mod:`mediakit.keys`; an object is written
   once and never overwritten);
5. swap the row in **one** partial ``update`` (renditions + dimensions or duration + ``ready``);
6. delete the previous revision's objects.

On any failure every object written by this run is deleted and the row is marked ``failed``
with a reason (the previous, complete set of derivatives stays published). If the row was
deleted meanwhile, whatever this run wrote is deleted and the task ends quietly.
Unexpected errors (storage or database down) are re-raised after the clean-up so that a
job runner can log or retry them; retrying is safe.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

import attrs

from mediakit import keys
from mediakit.clock import Clock, system_clock
from mediakit.errors import ConfigurationError, MediaKitError, NotFound, ProcessingError
from mediakit.models import AUDIO_TIERS, Image, ProcessingStatus, Rendition, Track
from mediakit.processing import audio, images
from mediakit.repositories import Repositories
from mediakit.settings import Settings
from mediakit.storage import ObjectStore

__all__ = [
    "ProcessingContext",
    "ReprocessProgress",
    "process_image",
    "process_track",
    "reprocess_all",
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
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


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


# --- images ---------------------------------------------------------------------------------


def process_image(ctx: ProcessingContext, image_id: str) -> None:
    """Generate and publish an image's thumbnails (``settings.thumbnail_sizes``)."""
    repo = ctx.repos.images
    image = repo.get(image_id)
    if image is None:
        log.info("image %s no longer exists; nothing to process", image_id)
        return
    if not _mark(repo.update, image_id, ctx):
        return
    written: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="mediakit-img-", dir=ctx.tmp_dir) as tmp:
            src = Path(tmp) / "original"
            _download(ctx, image.original_key, src)
            fmt = images.MIME_TO_FORMAT.get(image.content_type)
            result = images.make_thumbnails(
                str(src),
                ctx.settings.thumbnail_sizes,
                max_pixels=ctx.settings.image_max_pixels,
                formats=[fmt] if fmt else None,
            )
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
        _publish(ctx, repo.get, repo.update, image_id, changes, written, "thumbnails")
    except BaseException as exc:
        _fail(ctx, repo.update, "image", image_id, written, exc)
        if not isinstance(exc, ProcessingError):
            raise


# --- tracks ---------------------------------------------------------------------------------


def process_track(ctx: ProcessingContext, track_id: str) -> None:
    """Encode and publish a track's streaming tiers, and record duration and bitrate.

    With ``settings.audio_pre_encode`` off, the track becomes ready with its original only
    (duration and bitrate are still read when an ffmpeg is available).
    """
    repo = ctx.repos.tracks
    track = repo.get(track_id)
    if track is None:
        log.info("track %s no longer exists; nothing to process", track_id)
        return
    if not _mark(repo.update, track_id, ctx):
        return
    written: list[str] = []
    try:
        changes = _track_changes(ctx, track, written)
        _publish(ctx, repo.get, repo.update, track_id, changes, written, "renditions")
    except BaseException as exc:
        _fail(ctx, repo.update, "track", track_id, written, exc)
        if not isinstance(exc, ProcessingError):
            raise


def _track_changes(ctx: ProcessingContext, track: Track, written: list[str]) -> dict[str, object]:
    settings = ctx.settings
    try:
        ffmpeg: str | None = audio.find_ffmpeg(settings)
    except ConfigurationError:
        if settings.audio_pre_encode:
            raise
        ffmpeg = None
    input_format = audio.input_format_for(track.content_type)
    with tempfile.TemporaryDirectory(prefix="mediakit-audio-", dir=ctx.tmp_dir) as tmp:
        src = Path(tmp) / "original"
        _download(ctx, track.original_key, src)
        if ffmpeg is None:
            return {"renditions": ()}
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
        out = Path(tmp) / "tiers"
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


def _mark(update: _Update, item_id: str, ctx: ProcessingContext) -> bool:
    try:
        update(
            item_id,
            {
                "status": ProcessingStatus.PROCESSING,
                "failure_reason": None,
                "updated_at": ctx.clock.now(),
            },
        )
    except NotFound:
        return False
    return True


def _publish(
    ctx: ProcessingContext,
    get: _Get,
    update: _Update,
    item_id: str,
    changes: dict[str, object],
    written: list[str],
    field: Literal["thumbnails", "renditions"],
) -> None:
    """Swap the row to the new derivatives in one update, then drop the previous ones."""
    before = get(item_id)
    if before is None:
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
