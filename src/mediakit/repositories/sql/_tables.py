"""The tables: the current schema (:data:`metadata`) and each table as a version built it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mediakit.repositories.sql._types import RenditionsJSON, StatusType, UTCDateTime, _id_type

metadata = sa.MetaData()
"""The current schema (the state :data:`MIGRATIONS` leads to)."""


def _lease_columns(version: int) -> list[sa.Column[Any]]:
    """The processing lease (schema version 2): who holds a row's job, and until when."""
    if version < 2:
        return []
    return [
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
    ]


def _images_table(meta: sa.MetaData, version: int) -> sa.Table:
    return sa.Table(
        "images",
        meta,
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("original_key", sa.String(1024), nullable=False),
        sa.Column("filename", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("visible", sa.Boolean, nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("status", StatusType, nullable=False),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("thumbnails", RenditionsJSON, nullable=False),
        *_lease_columns(version),
        sa.Index("ix_images_created_id", "created_at", "id"),
        sa.Index("ix_images_visible_created_id", "visible", "created_at", "id"),
        *([sa.Index("ix_images_status_updated", "status", "updated_at")] if version >= 2 else []),
    )


def _music_sets_table(meta: sa.MetaData, version: int) -> sa.Table:
    return sa.Table(
        "music_sets",
        meta,
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("visible", sa.Boolean, nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Index("ix_music_sets_created_id", "created_at", "id"),
        sa.Index("ix_music_sets_visible_created_id", "visible", "created_at", "id"),
    )


def _music_tracks_table(meta: sa.MetaData, version: int) -> sa.Table:
    return sa.Table(
        "music_tracks",
        meta,
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column(
            "set_id",
            _id_type(),
            sa.ForeignKey("music_sets.id", ondelete="CASCADE", name="fk_music_tracks_set"),
            nullable=False,
        ),
        sa.Column("original_key", sa.String(1024), nullable=False),
        sa.Column("filename", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("bitrate_kbps", sa.Integer, nullable=True),
        sa.Column("status", StatusType, nullable=False),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("renditions", RenditionsJSON, nullable=False),
        *_lease_columns(version),
        sa.UniqueConstraint("set_id", "position", name="uq_music_tracks_set_position"),
        *(
            [sa.Index("ix_music_tracks_status_updated", "status", "updated_at")]
            if version >= 2
            else []
        ),
    )


_LATEST = 2


images_table = _images_table(metadata, _LATEST)
"""Table ``images``: one row per :class:`~mediakit.models.Image` (plus its lease)."""


music_sets_table = _music_sets_table(metadata, _LATEST)
"""Table ``music_sets``: one row per :class:`~mediakit.models.MusicSet`."""


music_tracks_table = _music_tracks_table(metadata, _LATEST)
"""Table ``music_tracks``: one row per :class:`~mediakit.models.Track` (plus its lease)."""


_version_metadata = sa.MetaData()


schema_version_table = sa.Table(
    "mediakit_schema_version",
    _version_metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)
