"""An app with its own model (a SQLAlchemy ``documents`` table) that uses mediakit's parts
alone: ``checked_uploads`` on its upload endpoint, ``range_response`` to serve its keys,
and the cached presigner for URLs. No mediakit router, no mediakit tables.

:func:`factory` builds it from the environment for ``uvicorn --factory``: S3 from the
``MEDIAKIT_*`` / ``MEDIA_*`` settings, the table in ``PARTS_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Request
from starlette.responses import Response

from mediakit.http import content_disposition
from mediakit.presign import CachedSigner, build_signer
from mediakit.settings import Settings
from mediakit.storage import AsyncObjectStore, build_async_object_store
from mediakit.uploads import IMAGE_TYPES, UploadLimits
from mediakit_fastapi import UploadedFile, checked_uploads, range_response

__all__ = ["LIMITS", "create_app", "factory"]

LIMITS = UploadLimits(max_file_size=64 * 1024, max_upload_size_total=160 * 1024)
"""The app's own caps: 64 KiB per file, 160 KiB per request."""

metadata = sa.MetaData()
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
)


def create_app(store: AsyncObjectStore, signer: CachedSigner, engine: sa.Engine) -> FastAPI:
    """The app over ``store``, ``signer`` and the ``documents`` table in ``engine``."""
    metadata.create_all(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        aclose = getattr(store, "aclose", None)
        if aclose is not None:
            await aclose()

    app = FastAPI(lifespan=lifespan)

    def row(doc_id: str) -> Any:
        with engine.connect() as conn:
            found = conn.execute(sa.select(documents).where(documents.c.id == doc_id)).first()
        if found is None:
            raise HTTPException(404, "No such document.")
        return found

    @app.post("/documents", status_code=201)
    async def upload(request: Request) -> dict[str, Any]:
        """Store each image of the request under the app's own key, then record it."""
        created = []
        async for item in checked_uploads(
            request, allowed=IMAGE_TYPES, limits=LIMITS, kind="image"
        ):
            if not isinstance(item, UploadedFile):
                continue
            doc_id = str(uuid.uuid4())
            key = f"documents/{doc_id}"
            info = await store.put_stream(key, item.chunks(), content_type=item.content_type)
            values = {
                "id": doc_id,
                "key": key,
                "filename": item.filename,
                "content_type": item.content_type,
                "size": info.size,
            }
            with engine.begin() as conn:
                conn.execute(documents.insert().values(**values))
            created.append(values)
        if not created:
            raise HTTPException(400, "Send at least one file.")
        return {"items": created}

    @app.api_route("/documents/{doc_id}/content", methods=["GET", "HEAD"])
    async def content(doc_id: str, request: Request) -> Response:
        """The document's bytes, with Range and conditional requests."""
        doc = row(doc_id)
        return await range_response(
            store,
            doc.key,
            request,
            content_type=doc.content_type,
            disposition=content_disposition(doc.filename, attachment=False),
        )

    @app.get("/documents/{doc_id}/url")
    async def url(doc_id: str) -> dict[str, str]:
        """A presigned URL of the document: stable within the signing window, cached."""
        doc = row(doc_id)
        signed = signer.sign(doc.key, content_type=doc.content_type)
        return {"url": signed.url, "expires_at": signed.expires_at.isoformat()}

    @app.get("/raw/{key:path}")
    async def raw(key: str, request: Request) -> Response:
        """Any key of the bucket, no row needed (a missing key is the helper's 404)."""
        return await range_response(store, key, request)

    return app


def factory() -> FastAPI:
    """The app from the environment (``uvicorn --factory``)."""
    settings = Settings.from_env()
    return create_app(
        build_async_object_store(settings),
        build_signer(settings),
        sa.create_engine(os.environ["PARTS_DATABASE_URL"]),
    )
