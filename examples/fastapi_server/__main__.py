"""Start the reference server: ``python -m examples.fastapi_server``."""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI

app = FastAPI(title="mediakit reference server")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host=os.environ.get("MEDIAKIT_HOST", "127.0.0.1"),
        port=int(os.environ.get("MEDIAKIT_PORT", "8000")),
    )
