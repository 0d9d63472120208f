"""The Django reference project: ``python -m examples.django_server``.

A minimal project around the ``mediakit_django`` app: SQLite by default, PostgreSQL
when ``MEDIAKIT_DATABASE_URL`` is a ``postgresql`` URL, the demo bearer tokens of the
FastAPI server, ``/healthz``, the Django admin at ``/admin/`` and the web page of
``examples/web/`` at ``/``. ``MEDIAKIT_DJANGO_SERVER`` picks the server: ``asgi``
(uvicorn, async views; the default) or ``wsgi`` (gunicorn threads, sync views).
"""
