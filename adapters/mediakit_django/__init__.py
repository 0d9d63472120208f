"""mediakit for Django: a reusable app (``INSTALLED_APPS += ["mediakit_django"]``).

- settings: a ``MEDIAKIT`` dict whose lower-case keys are :class:`mediakit.Settings`
  field names (environment variables still apply underneath), see
  :mod:`mediakit_django.conf`;
- models and migrations implementing the repository protocols over the ORM
  (:class:`mediakit_django.repositories.DjangoRepositories`);
- ``path("", include("mediakit_django.urls"))``: the full HTTP API (sync views for
  WSGI, async views for ASGI), with the same JSON, statuses and errors as the FastAPI
  adapter;
- admin pages with processing status, visibility actions, thumbnail previews and uploads;
- :func:`mediakit_django.asgi.get_asgi_application`: Django's ASGI handler, except that
  uploads stream to the views instead of being spooled first.

The parts on their own, for a project with its own models (no need to install the app):

- :class:`MediaKitStorage` (:mod:`mediakit_django.storage`): a Django ``Storage`` on S3
  for ``FileField``/``ImageField``, with stable cached presigned URLs and ranged reads;
- :func:`range_response` / :func:`arange_response` (:mod:`mediakit_django.responses`):
  serve any key from your own view with Range and conditional-request semantics.

Nothing is imported eagerly, so listing the app in ``INSTALLED_APPS`` stays cheap; use
:func:`mediakit_django.kit.get_kit` for the running :class:`~mediakit.service.MediaKit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediakit_django.responses import arange_response, range_response
    from mediakit_django.storage import MediaKitStorage

__all__ = ["MediaKitStorage", "arange_response", "range_response"]

_LAZY = {
    "MediaKitStorage": "mediakit_django.storage",
    "arange_response": "mediakit_django.responses",
    "range_response": "mediakit_django.responses",
}


def __getattr__(name: str) -> Any:
    """Import the public parts on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mediakit_django' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
