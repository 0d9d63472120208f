"""Start the shop: migrate, create the admin user, serve with gunicorn or uvicorn.

Environment: SHOP_PORT, SHOP_DATABASE_URL, SHOP_SERVER (wsgi|asgi), SHOP_ADMIN_PASSWORD,
plus mediakit's MEDIA_* / MEDIAKIT_* variables.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _gunicorn(port: int) -> None:
    from gunicorn.app.base import BaseApplication

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": 8,
                "timeout": 120,
                "graceful_timeout": 3,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from django.core.wsgi import get_wsgi_application

            return get_wsgi_application()

    App().run()


def _uvicorn(port: int) -> None:
    import uvicorn

    from mediakit_django.asgi import get_asgi_application

    uvicorn.run(
        get_asgi_application(), host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )


def main() -> int:
    """Migrate, create the admin user, serve."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.shop.settings")
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", password=os.environ["SHOP_ADMIN_PASSWORD"])
    connections.close_all()
    port = int(os.environ["SHOP_PORT"])
    if os.environ.get("SHOP_SERVER", "wsgi") == "asgi":
        _uvicorn(port)
    else:
        _gunicorn(port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
