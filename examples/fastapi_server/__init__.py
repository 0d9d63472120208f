"""The FastAPI reference server: ``python -m examples.fastapi_server``.

:func:`create_app` builds the app from settings (embedded defaults: SQLite and the
filesystem store under ``./mediakit-data``; S3 and PostgreSQL when configured by the
environment), with demo bearer tokens, ``/healthz`` and the web page of
``examples/web/`` at ``/``.
"""

from examples.fastapi_server.app import DemoTokens, create_app, demo_tokens

__all__ = ["DemoTokens", "create_app", "demo_tokens"]
