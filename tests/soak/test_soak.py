"""Soak test: each reference server on S3 under a steady mixed load, loopback only.

For ``MEDIAKIT_SOAK_SECONDS`` (default 20; ``nox -s soak`` runs 300) a handful of client
threads upload images and tracks, list, seek through the Range proxy and delete, against
the FastAPI server and the Django server (ASGI), each on S3 (moto server) with its own
SQLite database. Afterwards:

- no response outside the expected statuses (200, 201, 204, 206, and 429 when an admin's
  concurrent-upload limit is reached);
- the server's RSS and open file descriptors flat: growth from the middle of the run to
  its end reported, and bounded;
- every image and track ``ready``; no object that no row references; no open multipart
  upload (``mediakit gc --min-age 0`` finds nothing, boto3 lists no upload).

The figures are printed (``pytest -s``) and written to ``$MEDIAKIT_SOAK_REPORT`` if set.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tests import servers
from tests.conftest import s3_client
from tests.fixtures_media import ffmpeg_exe, jpeg_bytes, sine_audio
from tests.http_contract.conftest import SERVER_KINDS
from tests.http_contract.harness import ADMIN_TOKEN, USER_TOKEN, start_server
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

pytestmark = [pytest.mark.slow, pytest.mark.s3, pytest.mark.ffmpeg]

SECONDS = float(os.environ.get("MEDIAKIT_SOAK_SECONDS", "20"))
REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {200, 201, 204, 206, 429}
MiB = 1024 * 1024

KINDS = {
    "fastapi": ("fastapi", {}),
    "django": ("django-sqlite", {}),
}


@attrs.define
class Tally:
    """Responses by (operation, status), and the unexpected ones."""

    counts: Counter[tuple[str, int]] = attrs.field(factory=Counter)
    unexpected: list[str] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def add(self, op: str, r: httpx.Response, *, gone: bool = False) -> httpx.Response:
        """Count ``r``; a 404 is expected only for an item deleted meanwhile (``gone``)."""
        with self.lock:
            self.counts[(op, r.status_code)] += 1
            ok = r.status_code in EXPECTED or (gone and r.status_code == 404)
            if not ok and len(self.unexpected) < 20:
                self.unexpected.append(f"{op}: {r.status_code} {r.text[:300]}")
        return r


def _sample(pid: int) -> tuple[int, int]:
    """RSS (bytes) and open file descriptors of ``pid``."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture(scope="module")
def flac(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A three-second FLAC."""
    exe = ffmpeg_exe()
    servers.need(exe is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    return sine_audio(tmp_path_factory.mktemp("soak"), "flac", seconds=3, ffmpeg=exe).read_bytes()


@pytest.fixture(params=list(KINDS))
def server(
    request: pytest.FixtureRequest, moto_server: ServerHandle, tmp_path: Path
) -> Iterator[tuple[str, str, int, dict[str, str], str]]:
    """A reference server on S3: (kind, base URL, pid, env, bucket)."""
    name: str = request.param
    kind, env = KINDS[name]
    bucket = f"mk-soak-{name}-{os.getpid()}"
    s3_client(moto_server.url).create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    extra = {
        **env,
        "MEDIAKIT_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT": moto_server.url,
        "MEDIA_ASSETS_BUCKET": bucket,
        "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "MEDIA_MAX_CONCURRENT_UPLOADS": "2",
        "MEDIA_MAX_FILE_SIZE": str(8 * MiB),
        "MEDIA_MAX_UPLOAD_SIZE_TOTAL": str(16 * MiB),
        "TMPDIR": str(tmp_path),
    }
    proc, base_url, env_, _ = start_server(SERVER_KINDS[kind], name, tmp_path / "srv", extra)
    try:
        yield name, base_url, proc.pid, env_, bucket
    finally:
        servers.stop_process(proc)


def _loop(until: float, step: Callable[[random.Random], None], seed: int) -> Callable[[], None]:
    def run() -> None:
        rnd = random.Random(seed)
        while time.monotonic() < until:
            step(rnd)

    return run


def test_soak(  # noqa: C901, PLR0915  (a soak scenario: phases sharing one server and its counters, read top to bottom)
    server: tuple[str, str, int, dict[str, str], str],
    flac: bytes,
    moto_server: ServerHandle,
    request: pytest.FixtureRequest,
) -> None:
    """Mixed concurrent load for MEDIAKIT_SOAK_SECONDS; then no unexpected status, flat
    RSS and descriptors, everything ready, no orphan object, no open multipart upload."""
    name, base, pid, env, bucket = server
    tally = Tally()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    admin = httpx.Client(base_url=base, headers=auth, timeout=60)
    user = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {USER_TOKEN}"}, timeout=60
    )
    request.addfinalizer(admin.close)  # their pooled sockets, even if an assertion fails
    request.addfinalizer(user.close)
    set_id = admin.post("/api/v1/admin/music-sets", json={"title": "soak", "visible": True})
    set_id = set_id.json()["id"]
    mine: dict[str, list[str]] = {"images": [], "tracks": []}
    deleted: set[str] = set()
    ready_media: list[str] = []
    lock = threading.Lock()
    pictures = [jpeg_bytes(640 + 32 * i, 480, gps=False) for i in range(4)]

    def upload_image(rnd: random.Random) -> None:
        files = [("files", (f"p{rnd.randrange(1000)}.jpg", rnd.choice(pictures), "image/jpeg"))]
        r = tally.add(
            "upload-image",
            admin.post("/api/v1/admin/images/upload", files=files, data={"visible": "true"}),
        )
        if r.status_code == 201:
            with lock:
                mine["images"].extend(i["id"] for i in r.json()["items"])
        else:
            time.sleep(0.2)

    def upload_track(rnd: random.Random) -> None:
        files = [("files", ("t.flac", flac, "audio/flac"))]
        r = tally.add(
            "upload-track", admin.post(f"/api/v1/admin/music-sets/{set_id}/tracks", files=files)
        )
        if r.status_code == 201:
            with lock:
                mine["tracks"].extend(t["id"] for t in r.json()["items"])
        time.sleep(1.0)  # ffmpeg is the expensive part: a track a second at most

    def browse(rnd: random.Random) -> None:
        r = tally.add("list-images", user.get("/api/v1/user/images", params={"limit": 20}))
        items = r.json().get("items", []) if r.status_code == 200 else []
        tally.add("list-sets", user.get("/api/v1/user/music-sets"))
        s = tally.add("get-set", user.get(f"/api/v1/user/music-sets/{set_id}"))
        tracks = [t for t in s.json().get("tracks", []) if t["status"] == "ready"]
        candidates = [t["id"] for t in tracks] + [i["id"] for i in items if i["status"] == "ready"]
        with lock:
            ready_media[:] = candidates[-50:]
        if tracks:
            t = rnd.choice(tracks)
            r = user.get(f"/api/v1/user/music-sets/{set_id}/stream/{t['id']}")
            tally.add("stream-url", r, gone=t["id"] in deleted)

    def seek(rnd: random.Random) -> None:
        with lock:
            ids = list(ready_media)
        if not ids:
            time.sleep(0.2)
            return
        media_id = rnd.choice(ids)
        start = rnd.randrange(0, 4096)
        r = user.get(
            f"/api/v1/user/media/{media_id}/stream",
            headers={"Range": f"bytes={start}-{start + rnd.randrange(1, 65536)}"},
        )
        tally.add("seek", r, gone=media_id in deleted)

    def delete(rnd: random.Random) -> None:
        # keeps the library at a steady size (the newest 20 images, 6 tracks), so that a
        # growing RSS would mean a leak, not more data
        time.sleep(0.2)
        with lock:
            victims = mine["images"][:-20][:5]
            track = mine["tracks"].pop(0) if len(mine["tracks"]) > 6 else None
            for victim in [*victims, track]:
                if victim:
                    deleted.add(victim)
                    if victim in ready_media:
                        ready_media.remove(victim)
            for victim in victims:
                mine["images"].remove(victim)
        for victim in victims:
            tally.add("delete-image", admin.delete(f"/api/v1/admin/images/{victim}"))
        if track:
            tally.add(
                "delete-track", admin.delete(f"/api/v1/admin/music-sets/{set_id}/tracks/{track}")
            )

    samples: list[tuple[float, int, int]] = []
    t0 = time.monotonic()
    until = t0 + SECONDS
    steps = [upload_image, upload_image, upload_track, browse, seek, seek, delete, delete]
    threads = [
        threading.Thread(target=_loop(until, s, n), daemon=True) for n, s in enumerate(steps)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        samples.append((time.monotonic() - t0, *_sample(pid)))
        time.sleep(0.5)
    for t in threads:
        t.join()

    # everything settles: every image and track ends ready
    deadline = time.monotonic() + 120
    while True:
        images = _walk(admin, "/api/v1/admin/images")
        tracks = admin.get(f"/api/v1/admin/music-sets/{set_id}").json()["tracks"]
        statuses = Counter(i["status"] for i in images) + Counter(t["status"] for t in tracks)
        if set(statuses) <= {"ready"}:
            break
        assert "failed" not in statuses, [x for x in images + tracks if x["status"] == "failed"]
        assert time.monotonic() < deadline, statuses
        time.sleep(0.5)
    settled = _sample(pid)

    gc = _gc(name, env)
    uploads = s3_client(moto_server.url).list_multipart_uploads(Bucket=bucket)  # type: ignore[attr-defined]

    mid = [s for s in samples if SECONDS * 0.4 <= s[0] <= SECONDS * 0.6] or samples[:1]
    end = [s for s in samples if s[0] >= SECONDS * 0.8] or samples[-1:]
    rss_mid = statistics.median(s[1] for s in mid)
    rss_end = statistics.median(s[1] for s in end)
    fd_mid = statistics.median(s[2] for s in mid)
    fd_end = statistics.median(s[2] for s in end)
    report = {
        "server": name,
        "seconds": SECONDS,
        "requests": sum(tally.counts.values()),
        "by_status": {f"{op} {st}": n for (op, st), n in sorted(tally.counts.items())},
        "images": len(images),
        "tracks": len(tracks),
        "rss_mib": {
            "start": round(samples[0][1] / MiB, 1),
            "mid": round(rss_mid / MiB, 1),
            "end": round(rss_end / MiB, 1),
            "settled": round(settled[0] / MiB, 1),
        },
        "fds": {"start": samples[0][2], "mid": fd_mid, "end": fd_end, "settled": settled[1]},
        "orphans": len(gc["orphan_objects"]),
        "open_multipart_uploads": len(uploads.get("Uploads", [])),
    }
    print(json.dumps(report, indent=2))
    if os.environ.get("MEDIAKIT_SOAK_REPORT"):
        with open(os.environ["MEDIAKIT_SOAK_REPORT"], "a") as out:
            out.write(json.dumps(report) + "\n")

    assert tally.unexpected == [], tally.unexpected
    assert sum(n for (op, st), n in tally.counts.items() if st in (200, 201, 206)) > 0
    assert gc["orphan_objects"] == [], gc
    assert gc["stale_multipart_uploads"] == []
    assert uploads.get("Uploads", []) == []
    assert set(statuses) == {"ready"}
    # flat: from the middle of the run to its end, bounded growth
    assert rss_end - rss_mid < 64 * MiB, report["rss_mib"]
    assert fd_end - fd_mid <= 16, report["fds"]
    assert settled[1] <= fd_mid + 16, report["fds"]


def _walk(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        body = client.get(path, params=params).json()
        items.extend(body["items"])
        if not body.get("next_cursor"):
            return items
        params = {"limit": 100, "cursor": body["next_cursor"]}


def _gc(kind: str, env: dict[str, str]) -> dict[str, Any]:
    """``mediakit gc --min-age 0 --json`` on the server's database and bucket (the
    ``manage.py mediakit`` form for Django)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIA", "DJANGO"))}
    run_env = {**base, **env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    if kind == "django":
        args = ["-m", "django", "mediakit", "gc", "--min-age", "0", "--json"]
        run_env["DJANGO_SETTINGS_MODULE"] = "examples.django_server.settings"
        run_env.setdefault("DJANGO_SECRET_KEY", "soak")
    else:
        args = ["-m", "mediakit.cli", "gc", "--min-age", "0", "--json"]
    r = subprocess.run(
        [sys.executable, *args],
        env=run_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    return out
