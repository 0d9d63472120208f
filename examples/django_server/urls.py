"""URLs of the reference project: the mediakit API, /healthz, the admin and the web page."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.static import serve

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

handler404 = "mediakit_django.views.json_not_found"
handler500 = "mediakit_django.views.json_server_error"


def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness probe (no auth)."""
    return JsonResponse({"status": "ok"})


async def ahealthz(request: HttpRequest) -> JsonResponse:
    """Readiness probe (no auth), async."""
    return JsonResponse({"status": "ok"})


# CSRF-exempt like the API's views (it changes nothing, sets no cookie): under ASGI the CSRF
# middleware's view hook would otherwise hop to a thread for it, a cost the API's views do
# not pay, and the probe is the benchmark's anchor for the framework's own cost per request
healthz.csrf_exempt = ahealthz.csrf_exempt = True  # type: ignore[attr-defined]


def web_page(request: HttpRequest, file: str = "") -> object:
    """The demo web page of examples/web/ (index.html at /)."""
    return serve(request, file or "index.html", document_root=str(WEB_DIR))


def admin_static(request: HttpRequest, file: str) -> object:
    """The admin's CSS and JS (a demo convenience; deploy behind a real static server)."""
    return serve_static(request, file, insecure=True)


urlpatterns = [
    path("healthz", ahealthz if settings.MEDIAKIT.get("ASYNC_VIEWS") else healthz),
    path("admin/", admin.site.urls),
    path("", include("mediakit_django.urls")),
    re_path(r"^static/(?P<file>.+)$", admin_static),
]
if WEB_DIR.is_dir():
    urlpatterns.append(re_path(r"^(?P<file>(?:index\.html|app\.js|style\.css)?)$", web_page))
