"""``pip install "mediakit[django]"``: a minimal project passes ``check``, migrates, and
answers requests with S3 storage (the server named by ``MEDIA_S3_ENDPOINT``) under WSGI
(Django's test client) and under ASGI (the project's ``asgi.application`` through httpx).

Run as ``django_smoke.py PROJECT_DIR``: ``check``, ``migrate`` and the WSGI requests run in
this process, then it runs itself again as ``... asgi`` (settings are read once per process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from _common import check_outside_the_source_tree, check_typed_packages, multipart, png

PROJECT = Path(sys.argv[1]).resolve()
OPS = {"Authorization": "Bearer ops-token"}
FAN = {"Authorization": "Bearer fan-token"}


def fetch(url: str) -> bytes:
    """GET a presigned URL straight from the S3 server."""
    assert url.startswith(os.environ["MEDIA_S3_ENDPOINT"]), url
    with urllib.request.urlopen(url, timeout=30) as r:
        return bytes(r.read())


def wsgi() -> None:
    """Sync views under WSGI, the sync S3 store (boto3)."""
    from django.test import Client

    client = Client()
    r = client.post(
        "/media/api/v1/admin/music-sets",
        {"title": "WSGI set", "visible": True},
        content_type="application/json",
        headers=OPS,
    )
    assert r.status_code == 201, r.content
    body, content_type = multipart([("wsgi.png", "image/png", png())], {"visible": "true"})
    r = client.generic(
        "POST", "/media/api/v1/admin/images/upload", body, content_type=content_type, headers=OPS
    )
    assert r.status_code == 201, r.content
    image = r.json()["items"][0]
    seen = client.get(f"/media/api/v1/user/images/{image['id']}", headers=FAN).json()
    assert fetch(seen["url"]) == png()
    titles = client.get("/catalogue/").json()["titles"]
    assert "WSGI set" in titles, titles
    assert client.get("/media/api/v1/user/music-sets").status_code == 401
    print("django under WSGI with S3: ok")


async def _asgi() -> None:
    import httpx
    from shop.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post(
            "/media/api/v1/admin/music-sets",
            json={"title": "ASGI set", "visible": True},
            headers=OPS,
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            "/media/api/v1/admin/images/upload",
            headers=OPS,
            files=[("files", ("asgi.png", png(), "image/png"))],
            data={"visible": "true"},
        )
        assert r.status_code == 201, r.text
        image = r.json()["items"][0]
        r = await client.get(f"/media/api/v1/user/images/{image['id']}", headers=FAN)
        assert r.status_code == 200, r.text
        assert fetch(r.json()["url"]) == png()
        r = await client.get("/media/api/v1/user/music-sets", headers=FAN)
        assert {"WSGI set", "ASGI set"} <= {s["title"] for s in r.json()["items"]}, r.text
        from mediakit_django.kit import get_kit

        store = type(get_kit().astore).__name__
        assert store == "AsyncS3ObjectStore", store  # aioboto3, not a thread bridge
        await get_kit().aclose()
    print("django under ASGI with S3: ok")


def main() -> None:
    """``check`` and ``migrate`` as ``manage.py`` runs them, WSGI here, ASGI in a new process."""
    check_outside_the_source_tree()
    check_typed_packages()
    import boto3

    boto3.client(
        "s3",
        endpoint_url=os.environ["MEDIA_S3_ENDPOINT"],
        aws_access_key_id=os.environ["MEDIA_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["MEDIA_S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).create_bucket(Bucket=os.environ["MEDIA_ASSETS_BUCKET"])
    from manage import main as manage

    for command in (["check", "--fail-level", "WARNING"], ["migrate", "-v", "0"]):
        sys.argv = ["manage.py", *command]
        manage()
    wsgi()
    here = Path(__file__).resolve()
    subprocess.run([sys.executable, str(here), str(PROJECT), "asgi"], check=True, cwd=PROJECT)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    sys.path.insert(0, str(PROJECT))
    mode = sys.argv[2:]
    if mode == ["asgi"]:
        import asyncio

        os.environ["SHOP_ASYNC"] = "1"
        asyncio.run(_asgi())
    else:
        main()
