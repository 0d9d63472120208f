"""Django admin pages for images and music sets.

- images: a thumbnail preview (a short-lived signed URL), processing status and
  visibility in the list, with "show" / "hide" actions;
- music sets: visibility actions and the tracks inline (position, status, tiers).

Visibility changes and deletions go through the service, so timestamps move and the
stored objects are removed with the rows (the admin's own delete would leave them for
``mediakit gc``).

Uploads: "Add image" is an upload form (several files at once, optional title and
visibility); "Add music set" creates a set with optional tracks, and each set's page links
to an "Upload tracks" form. The files go through the service
(:mod:`mediakit_django.uploads`), so limits, content sniffing, all-or-nothing storage
and processing apply as they do to the API. Adding needs Django's ``add`` permission on
the model (staff users get it as usual).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from mediakit.contract import MAX_TITLE, STREAM_TIERS
from mediakit.errors import MediaKitError
from mediakit.models import Principal
from mediakit_django.kit import get_kit
from mediakit_django.models import MediaImage, MediaMusicSet, MediaTrack
from mediakit_django.uploads import MultipleFileField, multipart_body

__all__ = [
    "ImageUploadForm",
    "MediaImageAdmin",
    "MediaMusicSetAdmin",
    "MediaTrackInline",
    "MusicSetCreateForm",
    "TrackUploadForm",
]

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


class ImageUploadForm(forms.Form):
    """The admin's "Add image" page: one or more image files, a title, visibility."""

    images = MultipleFileField(help_text="One or more image files.")
    title = forms.CharField(
        required=False,
        max_length=MAX_TITLE,
        help_text="Given to every uploaded image (empty: the file name).",
    )
    visible = forms.BooleanField(required=False, help_text="Show to users right away.")


class MusicSetCreateForm(forms.Form):
    """The admin's "Add music set" page: the set, and optionally its first tracks."""

    title = forms.CharField(max_length=MAX_TITLE)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    visible = forms.BooleanField(required=False, help_text="Show to users right away.")
    tracks = MultipleFileField(required=False, help_text="Audio files, in order.")


class TrackUploadForm(forms.Form):
    """A set's "Upload tracks" page: audio files appended to the set in order."""

    tracks = MultipleFileField(help_text="Audio files, added in this order.")


def _error_text(exc: MediaKitError) -> str:
    return str(exc.to_dict()["error"]["message"])


def _upload_page(
    modeladmin: _AnyAdmin,
    request: HttpRequest,
    form: forms.Form,
    title: str,
    submit_label: str,
    original: Model | None = None,
) -> TemplateResponse:
    settings = get_kit().settings
    limits = (
        f"At most {settings.max_files_per_request} files and "
        f"{settings.max_upload_size_total // (1024 * 1024)} MiB per upload, "
        f"{settings.max_file_size // (1024 * 1024)} MiB per file."
    )
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "form": form,
        "title": title,
        "submit_label": submit_label,
        "original": original,
        "limits": limits,
        "media": modeladmin.media + form.media,
    }
    status = 400 if form.is_bound and form.errors else 200
    return TemplateResponse(request, "admin/mediakit_django/upload.html", context, status=status)


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

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """ "Add image": an upload form; the files go through the service."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImageUploadForm(request.POST, request.FILES) if request.method == "POST" else None
        if form is not None and form.is_valid():
            data = form.cleaned_data
            fields = {"visible": "true" if data["visible"] else "false"}
            if data["title"]:
                fields["title"] = data["title"]
            ctype, length, body = multipart_body(fields, data["images"])
            try:
                result = get_kit().service.upload_images(
                    _principal(request), body, content_type=ctype, content_length=length
                )
            except MediaKitError as exc:
                form.add_error(None, _error_text(exc))
            else:
                items = result["items"]
                for image in MediaImage.objects.filter(pk__in=[i["id"] for i in items]):
                    self.log_addition(request, image, [{"added": {}}])
                self.message_user(
                    request,
                    f"{len(items)} image(s) uploaded; thumbnails are being made.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:mediakit_django_mediaimage_changelist"))
        return _upload_page(self, request, form or ImageUploadForm(), "Upload images", "Upload")

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
        return ", ".join(n for n in STREAM_TIERS if n in names) or "—"

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
    fields = ("id", "title", "description", "visible", "upload", "created_at", "updated_at")
    readonly_fields = ("id", "upload", "created_at", "updated_at")

    @admin.display(description="Tracks")
    def upload(self, obj: MediaMusicSet) -> str:
        """A link to the set's "Upload tracks" page."""
        url = reverse("admin:mediakit_django_mediamusicset_upload", args=[obj.pk])
        return format_html('<a href="{}" class="addlink">Upload tracks</a>', url)

    def get_urls(self) -> list[URLPattern]:
        """The model's admin URLs, plus ``<id>/upload/`` ("Upload tracks")."""
        upload = path(
            "<path:object_id>/upload/",
            self.admin_site.admin_view(self.upload_view),
            name="mediakit_django_mediamusicset_upload",
        )
        return [upload, *super().get_urls()]

    def _upload_tracks(
        self, request: HttpRequest, set_id: str, files: list[Any], form: forms.Form
    ) -> int | None:
        if not files:
            return 0
        ctype, length, body = multipart_body({}, files)
        try:
            result = get_kit().service.upload_tracks(
                _principal(request), set_id, body, content_type=ctype, content_length=length
            )
        except MediaKitError as exc:
            form.add_error("tracks", _error_text(exc))
            return None
        return len(result["items"])

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """ "Add music set": the set and, optionally, its first tracks (all or nothing)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = MusicSetCreateForm(request.POST, request.FILES) if request.method == "POST" else None
        if form is not None and form.is_valid():
            data = dict(form.cleaned_data)  # add_error() drops a field's cleaned value
            svc, who = get_kit().service, _principal(request)
            try:
                created = svc.create_music_set(
                    who,
                    title=data["title"],
                    description=data["description"] or None,
                    visible=data["visible"],
                )
            except MediaKitError as exc:
                form.add_error(None, _error_text(exc))
            else:
                added = self._upload_tracks(request, created["id"], data["tracks"], form)
                if data["tracks"] and added is None:
                    svc.delete_music_set(who, created["id"])  # all or nothing
                else:
                    music_set = MediaMusicSet.objects.get(pk=created["id"])
                    self.log_addition(request, music_set, [{"added": {}}])
                    self.message_user(
                        request,
                        f"Music set {music_set.title!r} created with {added or 0} track(s).",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:mediakit_django_mediamusicset_change", args=[created["id"]])
                    )
        return _upload_page(self, request, form or MusicSetCreateForm(), "Add music set", "Create")

    def upload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Upload tracks": audio files appended to the set, through the service."""
        music_set = self.get_object(request, object_id)
        if music_set is None:
            raise Http404(f"No music set {object_id!r}.")
        if not self.has_change_permission(request, music_set):
            raise PermissionDenied
        form = TrackUploadForm(request.POST, request.FILES) if request.method == "POST" else None
        if form is not None and form.is_valid():
            added = self._upload_tracks(request, music_set.pk, form.cleaned_data["tracks"], form)
            if added is not None:
                self.log_change(request, music_set, [{"changed": {"fields": ["tracks"]}}])
                self.message_user(
                    request, f"{added} track(s) added; they are being encoded.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:mediakit_django_mediamusicset_change", args=[music_set.pk])
                )
        return _upload_page(
            self,
            request,
            form or TrackUploadForm(),
            f"Upload tracks to {music_set.title}",
            "Upload",
            original=music_set,
        )

    @admin.display(description="Tracks")
    def track_count(self, obj: MediaMusicSet) -> int:
        """How many tracks the set has."""
        return MediaTrack.objects.filter(music_set=obj).count()

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
