"""Start the reference server: ``python -m examples.fastapi_server``.

Listens on MEDIAKIT_HOST (127.0.0.1) and MEDIAKIT_PORT (8000); every mediakit setting
comes from the environment (see docs/configuration.md). Ctrl-C shuts down cleanly.
"""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from examples.fastapi_server.app import create_app, demo_tokens
from mediakit.errors import ConfigurationError
from mediakit.settings import Settings
from mediakit.uvicorn import http_protocol


def main() -> int:
    """Build the app from the environment and serve it until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        host = os.environ.get("MEDIAKIT_HOST", "127.0.0.1")
        port_raw = os.environ.get("MEDIAKIT_PORT", "8000")
        if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
            raise ConfigurationError(
                "MEDIAKIT_PORT", f"must be a TCP port number; got {port_raw!r}"
            )
        tokens = demo_tokens()
        app = create_app(settings, tokens)
    except ConfigurationError as exc:
        print(f"mediakit: configuration error: {exc}", file=sys.stderr)
        return 2
    if tokens.generated:
        print(
            "mediakit demo tokens (set MEDIAKIT_DEMO_ADMIN_TOKEN / MEDIAKIT_DEMO_USER_TOKEN to fix them):\n"
            f"  admin: {tokens.admin}\n  user:  {tokens.user}",
            flush=True,
        )
    print(f"mediakit reference server on http://{host}:{port_raw}/", flush=True)
    # uvicorn's httptools protocol without its two copies of every body byte (uploads)
    uvicorn.run(app, host=host, port=int(port_raw), log_level="info", http=http_protocol())
    return 0


if __name__ == "__main__":
    sys.exit(main())
