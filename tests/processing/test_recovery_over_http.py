"""Durable processing, black box: SIGKILL a reference server mid-encode, start it again,
and the track becomes ``ready`` by itself, with no temp directory and no ffmpeg left over."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.fixtures_media import ffmpeg_exe, sine_audio
from tests.http_contract.conftest import SERVER_KINDS
from tests.http_contract.harness import ADMIN_TOKEN, start_server

pytestmark = [pytest.mark.slow, pytest.mark.ffmpeg]

MiB = 1024 * 1024


def _processes_using(path: Path) -> list[str]:
    """Command lines of live processes that name ``path`` (an orphaned ffmpeg would)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmd:
            found.append(cmd)
    return found


def _job_dirs(tmpdir: Path) -> list[Path]:
    return sorted(p for p in tmpdir.iterdir() if p.name.startswith("mediakit-"))


def _track(client: httpx.Client, set_id: str, track_id: str) -> dict[str, object]:
    r = client.get(f"/api/v1/admin/music-sets/{set_id}")
    assert r.status_code == 200, r.text
    (track,) = [t for t in r.json()["tracks"] if t["id"] == track_id]
    return dict(track)


@pytest.fixture(scope="module")
def long_flac(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A five-minute stereo FLAC, made with ffmpeg (several seconds to encode)."""
    exe = ffmpeg_exe()
    servers.need(exe is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    return sine_audio(tmp_path_factory.mktemp("flac"), "flac", seconds=300, ffmpeg=exe).read_bytes()


@pytest.mark.parametrize("kind", ["fastapi", "django-sqlite"])
def test_a_server_killed_mid_encode_finishes_the_track_after_restart(  # noqa: PLR0915  (one kill-and-restart scenario, step by step)
    tmp_path: Path, long_flac: bytes, kind: str
) -> None:
    """Upload a long FLAC, SIGKILL the server while the track is ``processing`` (its
    ffmpeg running), restart it on the same database: no ffmpeg outlives the server, the
    track ends ``ready`` without any request to re-process it, and the job temp
    directories (the killed one's included) are gone."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    env = {
        "TMPDIR": str(tmpdir),
        "MEDIAKIT_JOB_LEASE_SECONDS": "3",
        "MEDIA_MAX_FILE_SIZE": str(200 * MiB),
        "MEDIA_MAX_UPLOAD_SIZE_TOTAL": str(200 * MiB),
        "MEDIAKIT_DATABASE_URL": f"sqlite:///{data / 'mediakit.db'}",
        "MEDIAKIT_STORAGE_ROOT": str(data / "objects"),
    }
    proc, base_url, _, log_path = start_server(SERVER_KINDS[kind], kind, tmp_path / "one", env)
    try:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
        ) as admin:
            set_id = admin.post("/api/v1/admin/music-sets", json={"title": "Long"}).json()["id"]
            r = admin.post(
                f"/api/v1/admin/music-sets/{set_id}/tracks",
                files=[("files", ("long.flac", long_flac, "audio/flac"))],
            )
            assert r.status_code == 201, r.text
            track_id = r.json()["items"][0]["id"]
            deadline = time.monotonic() + 60
            while True:  # until an ffmpeg is seen encoding into the job's temp directory
                status = _track(admin, set_id, track_id)["status"]
                assert status in ("pending", "processing"), (status, log_path.read_text())
                dirs = _job_dirs(tmpdir)
                # the directory exists a moment before its ffmpeg starts (and between
                # the tiers' runs): wait until one is seen using it
                if (
                    status == "processing"
                    and dirs
                    and (dirs[0] / "tiers").exists()
                    and _processes_using(dirs[0])
                ):
                    break
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.05)
        (killed_dir,) = dirs
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        servers.stop_process(proc)

    deadline = time.monotonic() + 10
    while _processes_using(killed_dir):  # ffmpeg dies with the server that started it
        assert time.monotonic() < deadline, _processes_using(killed_dir)
        time.sleep(0.1)
    assert killed_dir.exists()  # left behind: nobody could remove it

    proc, base_url, _, log_path = start_server(SERVER_KINDS[kind], kind, tmp_path / "two", env)
    try:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
        ) as admin:
            deadline = time.monotonic() + 240
            while True:
                track = _track(admin, set_id, track_id)
                if track["status"] == "ready":
                    break
                assert track["status"] in ("pending", "processing"), (track, log_path.read_text())
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.25)
            assert track["duration_s"] == pytest.approx(300, abs=1)
        deadline = time.monotonic() + 15
        while _job_dirs(tmpdir):
            assert time.monotonic() < deadline, _job_dirs(tmpdir)
            time.sleep(0.1)
    finally:
        servers.stop_process(proc)
