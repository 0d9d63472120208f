"""Shared helpers: a MediaKit over memory parts, seeded rows, multipart bodies, and a
facade calling either service twin with the same arguments."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio

from mediakit import keys
from mediakit.clock import ManualClock
from mediakit.models import Image, MusicSet, Principal, ProcessingStatus, Rendition, Track, new_id
from mediakit.repositories.memory import MemoryRepositories
from mediakit.service import MediaKit, build_service
from mediakit.settings import Settings

ADMIN = Principal("admin-1", is_admin=True)
USER = Principal("user-1")
T0 = 1_790_000_000.0


def make_kit(prefix: str = "", **overrides: Any) -> MediaKit:
    """A kit over the memory store and repositories, inline jobs and a manual clock."""
    options: dict[str, Any] = {
        "storage_backend": "memory",
        "job_runner": "inline",
        "signing_secret": "s" * 32,
        **overrides,
    }
    return build_service(
        Settings(**options), repos=MemoryRepositories.create(), clock=ManualClock(T0), prefix=prefix
    )


def now() -> datetime:
    return datetime.fromtimestamp(T0, UTC)


def seed_image(
    kit: MediaKit, *, visible: bool = True, thumbs: tuple[int, ...] = (320, 640)
) -> Image:
    """An image row with its original and thumbnails in the store (no processing)."""
    image_id = new_id()
    original = keys.image_original(image_id)
    kit.store.put_bytes(original, b"J" * 1000, content_type="image/jpeg")
    renditions = []
    for size in thumbs:
        key = keys.image_thumbnail(image_id, size, "r1")
        kit.store.put_bytes(key, b"W" * size, content_type="image/webp")
        renditions.append(Rendition(f"w{size}", key, "image/webp", size, width=size))
    image = Image(
        id=image_id,
        original_key=original,
        filename='holiday "best".jpg',
        content_type="image/jpeg",
        size=1000,
        created_at=now(),
        updated_at=now(),
        visible=visible,
        status=ProcessingStatus.READY if thumbs else ProcessingStatus.PENDING,
        thumbnails=tuple(renditions),
    )
    kit.repos.images.add_many([image])
    return image


def seed_set(
    kit: MediaKit,
    *,
    visible: bool = True,
    tracks: int = 2,
    tiers: tuple[str, ...] = ("low", "medium", "high"),
) -> tuple[MusicSet, list[Track]]:
    """A music set with ``tracks`` tracks, each with the given tiers stored."""
    set_id = new_id()
    music_set = MusicSet(set_id, f"Set {set_id[:4]}", now(), now(), visible=visible)
    kit.repos.music_sets.add(music_set)
    rows = []
    for n in range(tracks):
        track_id = new_id()
        original = keys.track_original(set_id, track_id)
        kit.store.put_bytes(original, b"F" * 500, content_type="audio/flac")
        renditions = []
        for tier in tiers:
            ext, ct = ("m4a", "audio/mp4") if tier == "low" else ("mp3", "audio/mpeg")
            key = keys.track_tier(set_id, track_id, tier, "r1", ext)
            kit.store.put_bytes(key, tier.encode() * 100, content_type=ct)
            renditions.append(Rendition(tier, key, ct, 100 * len(tier)))
        rows.append(
            Track(
                id=track_id,
                set_id=set_id,
                original_key=original,
                filename=f"Track {n} \u2013 naïve.flac",
                content_type="audio/flac",
                size=500,
                created_at=now(),
                updated_at=now(),
                title=f"Track {n}",
                status=ProcessingStatus.READY if tiers else ProcessingStatus.PENDING,
                renditions=tuple(renditions),
            )
        )
    return music_set, kit.repos.tracks.add_many(rows)


def multipart(
    files: list[tuple[str, bytes]],
    fields: dict[str, str] | None = None,
    field: str = "files",
    *,
    after: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A multipart/form-data body (``fields``, the files, then ``after``) and its Content-Type."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in (fields or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for filename, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    for name, value in (after or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


async def _achunks(body: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for chunk in _chunks(body, size):
        yield chunk


class Twin:
    """Calls the sync or the async service with the same arguments, returning plain results.

    ``upload_*`` take the body as bytes; ``proxy`` / ``serve_local`` return
    ``(status, headers, body)`` with the body read in full.
    """

    def __init__(self, kit: MediaKit, mode: str) -> None:
        self.kit = kit
        self.mode = mode

    def __getattr__(self, name: str) -> Any:
        if self.mode == "sync":
            method = getattr(self.kit.service, name)
        else:
            amethod = getattr(self.kit.aservice, name)

            def method(*args: Any, **kwargs: Any) -> Any:
                return anyio.run(functools.partial(amethod, *args, **kwargs))

        if name.startswith("upload_"):
            return functools.partial(self._upload, name)
        if name in ("proxy", "serve_local"):
            return functools.partial(self._serve, name)
        return method

    def _upload(self, name: str, *args: Any, body: bytes, content_type: str) -> Any:
        if self.mode == "sync":
            return getattr(self.kit.service, name)(
                *args, _chunks(body), content_type=content_type, content_length=len(body)
            )

        async def run() -> Any:
            return await getattr(self.kit.aservice, name)(
                *args, _achunks(body), content_type=content_type, content_length=len(body)
            )

        return anyio.run(run)

    def _serve(self, name: str, *args: Any, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        if self.mode == "sync":
            served = getattr(self.kit.service, name)(*args, **kwargs)
            return served.status, dict(served.headers), b"".join(served.body)

        async def run() -> tuple[int, dict[str, str], bytes]:
            served = await getattr(self.kit.aservice, name)(*args, **kwargs)
            return served.status, dict(served.headers), b"".join([c async for c in served.body])

        return anyio.run(run)
