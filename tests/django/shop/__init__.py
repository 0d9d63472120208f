"""A third-party-style Django project ("shop") that embeds mediakit the way an existing
project would: its own apps and models, its own principal resolver, mediakit's API under
``/media/``, the admin, and (``catalog``) a ``FileField`` on mediakit's storage backend.

Started as a real process by tests/django/test_shop.py: ``python -m tests.django.shop``
(``SHOP_SERVER=wsgi`` runs gunicorn, ``asgi`` uvicorn).
"""
