"""``pip install "mediakit[fastapi]"``: a user's app mounting the router answers through
FastAPI's TestClient (its own routes, auth and mediakit's routes side by side), and so does
the README's Quickstart app (run in an empty directory, on its embedded defaults)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from _common import check_outside_the_source_tree, check_typed_packages, png, readme_block

sys.path.insert(0, str(Path(sys.argv[1])))  # the typed app's folder
README = Path(sys.argv[2])


def main() -> None:
    check_outside_the_source_tree()
    check_typed_packages()
    from fastapi.testclient import TestClient
    from media_app import app, track_titles

    alice, bob = {"X-Session": "alice-session"}, {"X-Session": "bob-session"}
    with TestClient(app) as client:
        assert client.get("/").json() == {"hello": "world"}
        r = client.post(
            "/api/v1/admin/music-sets", json={"title": "Harbour", "visible": True}, headers=alice
        )
        assert r.status_code == 201, r.text
        assert track_titles(r.json()) == []
        assert client.get("/catalogue", headers=bob).json() == {"titles": ["Harbour"]}

        r = client.post(
            "/api/v1/admin/images/upload",
            headers=alice,
            files=[("files", ("teal.png", png(), "image/png"))],
            data={"title": "Teal", "visible": "true"},
        )
        assert r.status_code == 201, r.text
        image = r.json()["items"][0]
        assert image["status"] == "ready", image
        seen = client.get(f"/api/v1/user/images/{image['id']}", headers=bob).json()
        original = client.get(seen["url"])
        assert original.status_code == 200, original.text
        assert original.content == png()
        part = client.get(seen["url"], headers={"Range": "bytes=0-3"})
        assert part.status_code == 206
        assert part.content == b"\x89PNG"

        r = client.get("/api/v1/user/images", headers={"X-Session": "nobody"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
    print("fastapi app through TestClient: ok")

    with tempfile.TemporaryDirectory() as empty:
        os.chdir(empty)
        quickstart: dict[str, object] = {}
        exec(
            compile(readme_block(README, "Quickstart"), "README.md: Quickstart", "exec"), quickstart
        )
        with TestClient(quickstart["app"]) as client:
            r = client.get("/api/v1/user/images", headers={"Authorization": "Bearer user-token"})
            assert r.status_code == 200, r.text
            assert r.json() == {"items": [], "next_cursor": None}
            assert client.get("/api/v1/user/images").status_code == 401
        assert Path(empty, "mediakit-data").is_dir()
    print("README quickstart app: ok")


main()
