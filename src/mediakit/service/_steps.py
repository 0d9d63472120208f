"""The repository half of every use case, shared by both service twins.

Repositories are synchronous (SQLAlchemy Core, the Django ORM, memory), so each use
case's database work is one plain function here: the sync service calls it directly,
the async service runs it in a worker thread with one ``anyio.to_thread`` hop per
request. Only storage and signing differ between the twins, which keeps them short
enough to check against each other by eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mediakit.errors import NotFound
from mediakit.models import Image, MusicSet, Page, Principal, Track, new_id
from mediakit.repositories import Repositories
from mediakit.service import _policy as policy

__all__ = [
    "SetWithTracks",
    "create_music_set",
    "list_images",
    "list_music_sets",
    "load_image",
    "load_music_set",
    "load_track",
    "proxy_target",
    "remove_image",
    "remove_music_set",
    "remove_track",
    "reorder_tracks",
    "update_image",
    "update_music_set",
    "update_track",
]

SetWithTracks = tuple[MusicSet, list[Track]]
_USER = Principal("", is_admin=False)  # how user listings see their rows


def list_images(repos: Repositories, *, admin: bool, limit: int, cursor: str | None) -> Page[Image]:
    """A page of images: every image for admin listings, visible ready ones otherwise."""
    page = repos.images.list(
        visible_only=not admin,
        limit=policy.check_listing_limit(limit),
        cursor=cursor or None,
        ready_only=not admin,
    )
    return page if admin else Page(policy.see_images(_USER, page.items), page.next_cursor)


def load_image(repos: Repositories, principal: Principal, image_id: str) -> Image:
    """The image, if ``principal`` may see it."""
    return policy.see_image(principal, repos.images.get(image_id), image_id)


def update_image(
    repos: Repositories, principal: Principal, image_id: str, changes: dict[str, object]
) -> Image:
    """Apply validated ``changes`` to an image and return it."""
    image = load_image(repos, principal, image_id)
    return repos.images.update(image_id, changes) if changes else image


def remove_image(repos: Repositories, principal: Principal, image_id: str) -> Image:
    """Delete an image's row and return it (its objects are the caller's to delete)."""
    image = load_image(repos, principal, image_id)
    if not repos.images.delete(image_id):
        raise NotFound(f"There is no image with id {image_id!r}.")
    return image


def create_music_set(
    repos: Repositories,
    principal: Principal,
    now: datetime,
    title: object,
    description: object,
    visible: object,
) -> MusicSet:
    """Validate and insert a new, empty music set."""
    title_, description_, visible_ = policy.new_music_set_fields(title, description, visible)
    music_set = MusicSet(
        id=new_id(),
        title=title_,
        description=description_,
        visible=visible_,
        created_at=now,
        updated_at=now,
        owner_id=principal.id,
    )
    repos.music_sets.add(music_set)
    return music_set


def list_music_sets(
    repos: Repositories, *, admin: bool, limit: int, cursor: str | None
) -> tuple[list[tuple[MusicSet, int]], str | None]:
    """A page of sets with their track counts, and the next cursor."""
    page = repos.music_sets.list(
        visible_only=not admin, limit=policy.check_listing_limit(limit), cursor=cursor or None
    )
    counts = repos.tracks.count_for_sets([s.id for s in page.items], ready_only=not admin)
    return [(s, counts[s.id]) for s in page.items], page.next_cursor


def load_music_set(repos: Repositories, principal: Principal, set_id: str) -> SetWithTracks:
    """A set ``principal`` may see, with its tracks in order."""
    music_set = policy.see_music_set(principal, repos.music_sets.get(set_id), set_id)
    tracks = repos.tracks.list_for_set(set_id, ready_only=policy.ready_only(principal))
    return music_set, policy.see_tracks(principal, tracks)


def update_music_set(
    repos: Repositories, principal: Principal, set_id: str, changes: dict[str, object]
) -> SetWithTracks:
    """Apply validated ``changes`` to a set; returns it with its tracks."""
    music_set = policy.see_music_set(principal, repos.music_sets.get(set_id), set_id)
    if changes:
        music_set = repos.music_sets.update(set_id, changes)
    return music_set, repos.tracks.list_for_set(set_id)


def remove_music_set(repos: Repositories, principal: Principal, set_id: str) -> list[str]:
    """Delete a set and its tracks' rows; returns every object key they named."""
    music_set, tracks = load_music_set(repos, principal, set_id)
    if not repos.music_sets.delete(music_set.id):
        raise NotFound(f"There is no music set with id {set_id!r}.")
    return [k for t in tracks for k in t.object_keys()]


def load_track(repos: Repositories, principal: Principal, set_id: str, track_id: str) -> Track:
    """A track of a set ``principal`` may see."""
    policy.see_music_set(principal, repos.music_sets.get(set_id), set_id)
    return policy.see_track(repos.tracks.get(track_id), set_id, track_id, principal)


def update_track(
    repos: Repositories,
    principal: Principal,
    set_id: str,
    track_id: str,
    changes: dict[str, object],
) -> Track:
    """Apply validated ``changes`` to a track."""
    track = load_track(repos, principal, set_id, track_id)
    return repos.tracks.update(track_id, changes) if changes else track


def remove_track(repos: Repositories, principal: Principal, set_id: str, track_id: str) -> Track:
    """Delete a track's row and return it (its objects are the caller's to delete)."""
    track = load_track(repos, principal, set_id, track_id)
    if not repos.tracks.delete(track_id):
        raise NotFound(f"There is no track with id {track_id!r} in this music set.")
    return track


def reorder_tracks(
    repos: Repositories, principal: Principal, set_id: str, track_ids: Sequence[str]
) -> SetWithTracks:
    """Put a set's tracks in the order given."""
    ids = policy.check_track_order(track_ids)
    music_set = policy.see_music_set(principal, repos.music_sets.get(set_id), set_id)
    return music_set, repos.tracks.reorder(set_id, ids)


def proxy_target(
    repos: Repositories,
    principal: Principal,
    media_id: str,
    *,
    quality: str | None,
    size: str | None,
    default_quality: str,
    pre_encode: bool,
) -> policy.ServeTarget:
    """What the Range proxy serves for ``media_id`` (an image id or a track id).

    One read when the kind is known from the URL (a ``quality`` is a track's, a ``size``
    an image's; proxy URLs always carry the one of their kind except an image's
    original), two at most: the id's table is tried first.
    """
    if quality is None:
        image = repos.images.get(media_id)
        if image is not None:
            return policy.image_proxy_target(policy.see_image(principal, image, media_id), size)
    found = repos.tracks.get_with_set_visibility(media_id)
    if found is None and quality is not None:
        image = repos.images.get(media_id)
        if image is not None:
            return policy.image_proxy_target(policy.see_image(principal, image, media_id), size)
    if (
        found is None
        or not policy.can_see(principal, found[1])
        or not policy.can_see_item(principal, found[0])
    ):
        raise NotFound(f"There is no media with id {media_id!r}.")
    return policy.track_proxy_target(found[0], quality, default_quality, pre_encode=pre_encode)
