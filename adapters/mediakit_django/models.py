"""ORM models behind :class:`~mediakit_django.repositories.DjangoRepositories`.

Columns mirror :mod:`mediakit.models` (and the SQL repositories' tables): ids compare
byte-wise on every backend (``COLLATE "C"`` on PostgreSQL, SQLite's default
``BINARY``), so pages come in the same order everywhere; renditions are JSON lists;
datetimes are stored in UTC. Use the repositories (or the service) to change rows:
they keep the rules (positions, partial updates) the models alone do not enforce.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from mediakit.models import ProcessingStatus

__all__ = ["ByteOrderCharField", "MediaImage", "MediaMusicSet", "MediaTrack"]

STATUS_CHOICES = [(s.value, s.value.capitalize()) for s in ProcessingStatus]


if TYPE_CHECKING:  # django-stubs' generic field; the plain class at run time
    _CharField = models.CharField[str, str]
else:
    _CharField = models.CharField


class ByteOrderCharField(_CharField):
    """A ``CharField`` that sorts and compares byte-wise: ``COLLATE "C"`` on PostgreSQL.

    Python's ``str`` order, SQLite's ``BINARY`` collation and PostgreSQL's ``"C"``
    agree, so keyset cursors page identically on each backend. (``db_collation`` would
    hard-code one backend's collation name into the migration.)
    """

    def db_parameters(self, connection: BaseDatabaseWrapper) -> dict[str, Any]:
        """The column type, with collation "C" on PostgreSQL."""
        params: dict[str, Any] = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class MediaImage(models.Model):
    """An uploaded image (:class:`mediakit.models.Image`)."""

    id: ByteOrderCharField = ByteOrderCharField(primary_key=True, max_length=100)
    original_key: models.CharField[str, str] = models.CharField(max_length=1024)
    filename: models.CharField[str, str] = models.CharField(max_length=1024)
    content_type: models.CharField[str, str] = models.CharField(max_length=255)
    size: models.BigIntegerField[int, int] = models.BigIntegerField()
    created_at: models.DateTimeField[datetime, datetime] = models.DateTimeField()
    updated_at: models.DateTimeField[datetime, datetime] = models.DateTimeField()
    title: models.TextField[str, str] = models.TextField(blank=True, default="")
    description: models.TextField[str, str] = models.TextField(blank=True, default="")
    visible: models.BooleanField[bool, bool] = models.BooleanField(default=False)
    owner_id: models.CharField[str, str] = models.CharField(max_length=255, blank=True, default="")
    width: models.IntegerField[int | None, int | None] = models.IntegerField(null=True, blank=True)
    height: models.IntegerField[int | None, int | None] = models.IntegerField(null=True, blank=True)
    status: models.CharField[str, str] = models.CharField(
        max_length=16, choices=STATUS_CHOICES, default="pending"
    )
    failure_reason: models.TextField[str | None, str | None] = models.TextField(
        null=True, blank=True
    )
    thumbnails: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)
    lease_owner: models.CharField[str | None, str | None] = models.CharField(
        max_length=100, null=True, blank=True, editable=False
    )
    lease_until: models.DateTimeField[datetime | None, datetime | None] = models.DateTimeField(
        null=True, blank=True, editable=False
    )
    """The processing lease (who runs this row's job, until when); see ``claim``."""

    class Meta:
        db_table = "mediakit_image"
        verbose_name = "image"
        ordering = ("-created_at", "-id")
        indexes = (
            models.Index(fields=["created_at", "id"], name="mk_image_created_id"),
            models.Index(fields=["visible", "created_at", "id"], name="mk_image_vis_created_id"),
            models.Index(fields=["status", "updated_at"], name="mk_image_status_updated"),
        )

    def __str__(self) -> str:
        return str(self.title or self.filename)


class MediaMusicSet(models.Model):
    """A music set (:class:`mediakit.models.MusicSet`)."""

    id: ByteOrderCharField = ByteOrderCharField(primary_key=True, max_length=100)
    title: models.TextField[str, str] = models.TextField()
    created_at: models.DateTimeField[datetime, datetime] = models.DateTimeField()
    updated_at: models.DateTimeField[datetime, datetime] = models.DateTimeField()
    description: models.TextField[str, str] = models.TextField(blank=True, default="")
    visible: models.BooleanField[bool, bool] = models.BooleanField(default=False)
    owner_id: models.CharField[str, str] = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "mediakit_music_set"
        verbose_name = "music set"
        ordering = ("-created_at", "-id")
        indexes = (
            models.Index(fields=["created_at", "id"], name="mk_set_created_id"),
            models.Index(fields=["visible", "created_at", "id"], name="mk_set_vis_created_id"),
        )

    def __str__(self) -> str:
        return str(self.title)


class MediaTrack(models.Model):
    """A track of a music set (:class:`mediakit.models.Track`); deleted with its set."""

    id: ByteOrderCharField = ByteOrderCharField(primary_key=True, max_length=100)
    music_set: models.ForeignKey[MediaMusicSet, MediaMusicSet] = models.ForeignKey(
        MediaMusicSet, on_delete=models.CASCADE, related_name="tracks", db_column="set_id"
    )
    music_set_id: str
    original_key: models.CharField[str, str] = models.CharField(max_length=1024)
    filename: models.CharField[str, str] = models.CharField(max_length=1024)
    content_type: models.CharField[str, str] = models.CharField(max_length=255)
    size: models.BigIntegerField[int, int] = models.BigIntegerField()
    created_at: models.DateTimeField[datetime, datetime] = models.DateTimeField()
    updated_at: models.DateTimeField[datetime, datetime] = models.DateTimeField()
    position: models.IntegerField[int, int] = models.IntegerField()
    title: models.TextField[str, str] = models.TextField(blank=True, default="")
    duration_s: models.FloatField[float | None, float | None] = models.FloatField(
        null=True, blank=True
    )
    bitrate_kbps: models.IntegerField[int | None, int | None] = models.IntegerField(
        null=True, blank=True
    )
    status: models.CharField[str, str] = models.CharField(
        max_length=16, choices=STATUS_CHOICES, default="pending"
    )
    failure_reason: models.TextField[str | None, str | None] = models.TextField(
        null=True, blank=True
    )
    renditions: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)
    lease_owner: models.CharField[str | None, str | None] = models.CharField(
        max_length=100, null=True, blank=True, editable=False
    )
    lease_until: models.DateTimeField[datetime | None, datetime | None] = models.DateTimeField(
        null=True, blank=True, editable=False
    )
    """The processing lease (who runs this row's job, until when); see ``claim``."""

    class Meta:
        db_table = "mediakit_track"
        verbose_name = "track"
        ordering = ("music_set", "position")
        constraints = (
            models.UniqueConstraint(
                fields=["music_set", "position"], name="mk_track_set_position_uniq"
            ),
        )
        indexes = (models.Index(fields=["status", "updated_at"], name="mk_track_status_updated"),)

    def __str__(self) -> str:
        return str(self.title or self.filename)
