"""mediakit for Django: a reusable app (``INSTALLED_APPS += ["mediakit_django"]``).

- settings: a ``MEDIAKIT`` dict whose lower-case keys are :class:`mediakit.Settings`
  field names (environment variables still apply underneath), see
  :mod:`mediakit_django.conf`;
- models and migrations implementing the repository protocols over the ORM
  (:class:`mediakit_django.repositories.DjangoRepositories`);
- ``path("", include("mediakit_django.urls"))``: the full HTTP API (sync views for
  WSGI, async views for ASGI), with the same JSON, statuses and errors as the FastAPI
  adapter;
- admin pages with processing status, visibility actions and thumbnail previews;
- :func:`mediakit_django.asgi.get_asgi_application`: Django's ASGI handler, except that
  uploads stream to the views instead of being spooled first.

Nothing is imported here, so listing the app in ``INSTALLED_APPS`` stays cheap; use
:func:`mediakit_django.kit.get_kit` for the running :class:`~mediakit.service.MediaKit`.
"""
