"""Django admin pages for images and music sets.

- images: a thumbnail preview (a short-lived signed URL), processing status and
  visibility in the list, with "show" / "hide" actions;
- music sets: visibility actions and the tracks inline (position, status, tiers).

Visibility changes and deletions go through the service, so timestamps move and the
stored objects are removed with the rows (the admin's own delete would leave them for
``mediakit gc``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from mediakit.errors import MediaKitError
from mediakit.models import Principal
from mediakit_django.kit import get_kit
from mediakit_django.models import MediaImage, MediaMusicSet, MediaTrack

__all__ = ["MediaImageAdmin", "MediaMusicSetAdmin", "MediaTrackInline"]

if TYPE_CHECKING:  # django-stubs' generics; plain classes at run time
    _ImageAdmin = admin.ModelAdmin[MediaImage]
    _SetAdmin = admin.ModelAdmin[MediaMusicSet]
    _TrackInline = admin.TabularInline[MediaTrack, MediaMusicSet]
    _AnyAdmin = admin.ModelAdmin[Any]
else:
    _ImageAdmin = _SetAdmin = _AnyAdmin = admin.ModelAdmin
    _TrackInline = admin.TabularInline


def _principal(request: HttpRequest) -> Principal:
    user = request.user
    return Principal(f"user:{user.pk}", is_admin=True)


def _preview_url(image: MediaImage) -> str | None:
    thumbs = sorted(image.thumbnails or (), key=lambda t: int(t.get("width") or 0))
    if not thumbs:
        return None
    thumb = thumbs[0]
    try:
        return get_kit().signer.sign(thumb["key"], content_type=thumb.get("content_type")).url
    except MediaKitError:
        return None


def _set_visible(
    modeladmin: _AnyAdmin, request: HttpRequest, queryset: QuerySet[Any], visible: bool
) -> None:
    svc = get_kit().service
    who = _principal(request)
    update = svc.update_image if queryset.model is MediaImage else svc.update_music_set
    done = 0
    for pk in queryset.values_list("pk", flat=True):
        try:
            update(who, pk, visible=visible)
            done += 1
        except MediaKitError as exc:
            modeladmin.message_user(request, f"{pk}: {exc}", messages.ERROR)
    word = "shown" if visible else "hidden"
    modeladmin.message_user(request, f"{done} item(s) {word}.", messages.SUCCESS)


@admin.action(description="Show to users (make visible)")
def make_visible(modeladmin: _AnyAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    """Make the selected items visible."""
    _set_visible(modeladmin, request, queryset, True)


@admin.action(description="Hide from users")
def make_hidden(modeladmin: _AnyAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    """Hide the selected items."""
    _set_visible(modeladmin, request, queryset, False)


@admin.register(MediaImage)
class MediaImageAdmin(_ImageAdmin):
    """Images: preview, status and visibility; uploads happen through the API."""

    list_display = ("preview", "title", "filename", "status", "visible", "size", "created_at")
    list_filter = ("status", "visible")
    search_fields = ("title", "filename", "id")
    actions = (make_visible, make_hidden)
    ordering = ("-created_at", "-id")
    fields = (
        "preview",
        "id",
        "title",
        "description",
        "visible",
        "filename",
        "content_type",
        "size",
        "width",
        "height",
        "status",
        "failure_reason",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "preview",
        "id",
        "filename",
        "content_type",
        "size",
        "width",
        "height",
        "status",
        "failure_reason",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Preview")
    def preview(self, obj: MediaImage) -> str:
        """The smallest thumbnail, through a short-lived signed URL."""
        url = _preview_url(obj)
        if url is None:
            return "—" if obj.status != "failed" else "failed"
        return format_html(
            '<img src="{}" alt="" style="max-height:64px;max-width:96px" loading="lazy">', url
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Images are added by upload (the API), not by a form."""
        return False

    def save_model(self, request: HttpRequest, obj: MediaImage, form: Any, change: bool) -> None:
        """Save only the editable fields, through the service (a processing job may be
        writing the others right now; a full ``save()`` would overwrite them)."""
        get_kit().service.update_image(
            _principal(request),
            obj.pk,
            title=obj.title,
            description=obj.description,
            visible=obj.visible,
        )

    def delete_model(self, request: HttpRequest, obj: MediaImage) -> None:
        """Delete through the service: the row, then its stored objects."""
        get_kit().service.delete_image(_principal(request), obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MediaImage]) -> None:
        """Delete each selected image through the service."""
        for pk in list(queryset.values_list("pk", flat=True)):
            get_kit().service.delete_image(_principal(request), pk)


class MediaTrackInline(_TrackInline):
    """A set's tracks in order, with their processing status."""

    model = MediaTrack
    extra = 0
    ordering = ("position",)
    fields = ("position", "title", "filename", "status", "qualities", "duration_s")
    readonly_fields = ("position", "filename", "status", "qualities", "duration_s")
    can_delete = False
    show_change_link = False

    @admin.display(description="Tiers")
    def qualities(self, obj: MediaTrack) -> str:
        """The encoded streaming tiers."""
        names = [r.get("name", "") for r in obj.renditions or ()]
        return ", ".join(n for n in ("low", "medium", "high") if n in names) or "—"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Tracks are added by upload (the API)."""
        return False


@admin.register(MediaMusicSet)
class MediaMusicSetAdmin(_SetAdmin):
    """Music sets with their tracks inline and visibility actions."""

    list_display = ("title", "visible", "track_count", "created_at")
    list_filter = ("visible",)
    search_fields = ("title", "id")
    actions = (make_visible, make_hidden)
    ordering = ("-created_at", "-id")
    inlines = (MediaTrackInline,)
    fields = ("id", "title", "description", "visible", "created_at", "updated_at")
    readonly_fields = ("id", "created_at", "updated_at")

    @admin.display(description="Tracks")
    def track_count(self, obj: MediaMusicSet) -> int:
        """How many tracks the set has."""
        return MediaTrack.objects.filter(music_set=obj).count()

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Sets are created through the API (ids and timestamps are the service's)."""
        return False

    def save_model(self, request: HttpRequest, obj: MediaMusicSet, form: Any, change: bool) -> None:
        """Save the editable fields through the service."""
        get_kit().service.update_music_set(
            _principal(request),
            obj.pk,
            title=obj.title,
            description=obj.description,
            visible=obj.visible,
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Track titles edited inline are saved one column at a time, through the service."""
        svc = get_kit().service
        for track_form in formset.forms:
            if track_form.instance.pk and "title" in track_form.changed_data:
                track = track_form.instance
                svc.update_track(
                    _principal(request), track.music_set_id, track.pk, title=track.title
                )

    def delete_model(self, request: HttpRequest, obj: MediaMusicSet) -> None:
        """Delete through the service: rows, then every stored object."""
        get_kit().service.delete_music_set(_principal(request), obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MediaMusicSet]) -> None:
        """Delete each selected set through the service."""
        for pk in list(queryset.values_list("pk", flat=True)):
            get_kit().service.delete_music_set(_principal(request), pk)
