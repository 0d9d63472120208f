"""Which fields ``update()`` may change, and how their values are normalised.

Shared by every repository implementation so they accept and refuse exactly the same
changes. Ids, ``created_at``, ``original_key`` (keys are derived from ids and never
rewritten), a track's ``set_id`` and its ``position`` (use ``reorder``) are not updatable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

from mediakit.errors import UnprocessableEntity
from mediakit.models import ProcessingStatus, Rendition
from mediakit.repositories._cursor import to_utc

__all__ = [
    "IMAGE_UPDATABLE",
    "MUSIC_SET_UPDATABLE",
    "TRACK_UPDATABLE",
    "check_track_order",
    "normalize_changes",
]

IMAGE_UPDATABLE = frozenset(
    {
        "filename",
        "content_type",
        "size",
        "updated_at",
        "title",
        "description",
        "visible",
        "owner_id",
        "width",
        "height",
        "status",
        "failure_reason",
        "thumbnails",
    }
)
"""Fields :meth:`ImageRepository.update` accepts."""

MUSIC_SET_UPDATABLE = frozenset({"title", "updated_at", "description", "visible", "owner_id"})
"""Fields :meth:`MusicSetRepository.update` accepts."""

TRACK_UPDATABLE = frozenset(
    {
        "filename",
        "content_type",
        "size",
        "updated_at",
        "title",
        "duration_s",
        "bitrate_kbps",
        "status",
        "failure_reason",
        "renditions",
    }
)
"""Fields :meth:`TrackRepository.update` accepts (``position`` changes via ``reorder``)."""


def normalize_changes(
    kind: str, allowed: frozenset[str], changes: Mapping[str, object]
) -> dict[str, object]:
    """``changes`` checked against ``allowed`` and normalised.

    ``ValueError`` names any field that cannot be updated (a programming error, not a
    client error: services build the mapping). ``status`` strings become
    :class:`ProcessingStatus`, rendition lists become tuples, ``updated_at`` UTC.
    """
    unknown = sorted(set(changes) - allowed)
    if unknown:
        hint = " (use reorder() to move a track)" if "position" in unknown else ""
        raise ValueError(
            f"cannot update {kind} field(s) {', '.join(unknown)}{hint}; "
            f"updatable fields: {', '.join(sorted(allowed))}"
        )
    out: dict[str, object] = {}
    for name, value in changes.items():
        if name == "status":
            value = ProcessingStatus(str(value))
        elif name in {"thumbnails", "renditions"}:
            if not isinstance(value, list | tuple) or not all(
                isinstance(r, Rendition) for r in value
            ):
                raise TypeError(f"{kind}.{name} must be a sequence of Rendition")
            value = tuple(value)
        elif name == "updated_at":
            value = to_utc(value, name)
        out[name] = value
    return out


def check_track_order(set_id: str, current: Collection[str], requested: Sequence[str]) -> None:
    """``UnprocessableEntity`` unless ``requested`` lists each of ``current`` exactly once."""
    counts = Counter(requested)
    seen = set(counts)
    dupes = sorted(t for t, n in counts.items() if n > 1)
    missing = sorted(set(current) - seen)
    unknown = sorted(seen - set(current))
    problems: list[str] = []
    if dupes:
        problems.append(f"listed more than once: {', '.join(dupes)}")
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    if unknown:
        problems.append(f"not in this set: {', '.join(unknown)}")
    if problems:
        raise UnprocessableEntity(
            f"The new order must list every track of set {set_id} exactly once "
            f"({'; '.join(problems)})."
        )
