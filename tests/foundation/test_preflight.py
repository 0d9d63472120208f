"""Fail at start, not at first use (issue 12): a missing ffmpeg while audio pre-encoding is
on, a missing libmagic, and an embedded SQLite chosen implicitly next to S3 are said at
start-up (the reference servers, Django's checks) and by ``mediakit doctor``, naming the
setting. Real processes: the reference servers and the CLI run as subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mediakit.errors import ConfigurationError
from mediakit.preflight import enforce, preflight
from mediakit.settings import Settings
from tests import servers
from tests.conftest import s3_client
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

REPO_ROOT = Path(__file__).resolve().parents[2]
BAD_FFMPEG = "/nonexistent/bin/ffmpeg"


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIA", "DJANGO"))}
    return {
        **base,
        "MEDIAKIT_PORT": str(servers.free_port()),
        "MEDIAKIT_STORAGE_ROOT": str(tmp / "objects"),
        "MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp}/m.db",
        "DJANGO_SECRET_KEY": "preflight-test",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _exits(args: list[str], env: dict[str, str], cwd: Path = REPO_ROOT) -> tuple[int, str]:
    proc = _start(args, env, cwd)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            servers.stop_process(proc)  # type: ignore[arg-type]
    return proc.returncode, out


SERVERS = {
    "fastapi": ["-m", "examples.fastapi_server"],
    "django-asgi": ["-m", "examples.django_server"],
}


@pytest.mark.slow
@pytest.mark.parametrize("server", list(SERVERS))
def test_a_server_without_ffmpeg_refuses_to_start_naming_the_setting(
    tmp_path: Path, server: str
) -> None:
    """With MEDIA_FFMPEG_PATH pointing nowhere and pre-encoding on, the reference server
    exits 2 at once with a message naming MEDIA_FFMPEG_PATH and MEDIA_AUDIO_PRE_ENCODE;
    with pre-encoding off it starts."""
    code, out = _exits(SERVERS[server], _env(tmp_path, MEDIA_FFMPEG_PATH=BAD_FFMPEG))
    assert code == 2, out[-3000:]
    assert "MEDIA_FFMPEG_PATH" in out
    assert "MEDIA_AUDIO_PRE_ENCODE=false" in out
    env = _env(tmp_path, MEDIA_FFMPEG_PATH=BAD_FFMPEG, MEDIA_AUDIO_PRE_ENCODE="false")
    proc = _start(SERVERS[server], env, REPO_ROOT)
    try:
        _wait_healthy(proc, int(env["MEDIAKIT_PORT"]))
    finally:
        servers.stop_process(proc)  # type: ignore[arg-type]
        _close_output(proc)


def _close_output(proc: subprocess.Popen[str]) -> None:
    """Close the pipe ``_start`` opened for the server's output."""
    if proc.stdout is not None:
        proc.stdout.close()


def _wait_healthy(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_django_check_reports_a_missing_ffmpeg(tmp_path: Path) -> None:
    """``manage.py check`` fails with mediakit_django.E003 naming MEDIA_FFMPEG_PATH."""
    env = _env(
        tmp_path,
        MEDIA_FFMPEG_PATH=BAD_FFMPEG,
        DJANGO_SETTINGS_MODULE="examples.django_server.settings",
    )
    code, out = _exits(["-m", "django", "check"], env)
    assert code != 0
    assert "mediakit_django.E003" in out
    assert "MEDIA_FFMPEG_PATH" in out


def test_doctor_fails_the_ffmpeg_check_and_passes_the_others(tmp_path: Path) -> None:
    """``mediakit doctor`` on a filesystem store runs this machine's checks: ffmpeg
    fails (exit 1) naming the setting; libmagic and the database pass."""
    env = _env(tmp_path, MEDIA_FFMPEG_PATH=BAD_FFMPEG)
    code, out = _exits(["-m", "mediakit.cli", "doctor"], env)
    assert code == 1, out
    assert "FAIL  ffmpeg" in out
    assert "MEDIA_FFMPEG_PATH" in out
    assert "ok    libmagic" in out
    assert "ok    database" in out
    code, out = _exits(["-m", "mediakit.cli", "doctor"], _env(tmp_path))
    assert code == 0, out
    assert "ok    ffmpeg" in out


@pytest.fixture
def s3_bucket(moto_server: ServerHandle) -> dict[str, str]:
    """S3 settings on a fresh moto bucket."""
    name = f"mk-preflight-{os.getpid()}"
    client = s3_client(moto_server.url)
    client.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return {
        "MEDIAKIT_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT": moto_server.url,
        "MEDIA_ASSETS_BUCKET": name,
        "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }


@pytest.mark.s3
@pytest.mark.slow
def test_an_implicit_sqlite_next_to_s3_is_a_start_up_warning(
    tmp_path: Path, s3_bucket: dict[str, str]
) -> None:
    """On S3 without MEDIAKIT_DATABASE_URL the server starts, and says at start that the
    rows go to an embedded SQLite file, naming MEDIAKIT_DATABASE_URL; doctor warns too.
    With the variable set, no warning."""
    env = _env(tmp_path, **s3_bucket)
    del env["MEDIAKIT_DATABASE_URL"]
    proc = _start(SERVERS["fastapi"], env, tmp_path)
    try:
        _wait_healthy(proc, int(env["MEDIAKIT_PORT"]))
    finally:
        servers.stop_process(proc)  # type: ignore[arg-type]
    out = proc.stdout.read() if proc.stdout else ""
    _close_output(proc)
    assert "WARNING mediakit.preflight: MEDIAKIT_DATABASE_URL: not set" in out, out[-3000:]
    _, out = _exits(["-m", "mediakit.cli", "doctor"], env, cwd=tmp_path)
    assert "warn  database" in out, out
    assert "MEDIAKIT_DATABASE_URL" in out
    explicit = _env(tmp_path, **s3_bucket)
    _, out = _exits(["-m", "mediakit.cli", "doctor"], explicit, cwd=tmp_path)
    assert "ok    database" in out, out


def _libmagic_path() -> str | None:
    import magic

    magic.Magic(mime=True)
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "libmagic" in line:
            return line.split()[-1]
    return None


def _without_libmagic(args: list[str], env: dict[str, str], tmp: Path) -> tuple[int, str]:
    """Run ``python ARGS`` where libmagic cannot be loaded: the library file is hidden by
    a bind mount in a private mount namespace (``unshare``); where that is not allowed, a
    ``magic`` module raising python-magic's own ImportError stands in for it."""
    lib = _libmagic_path()
    unshare = shutil.which("unshare")
    if lib and unshare:
        probe = subprocess.run(
            [unshare, "-m", "--propagation", "private", "true"], capture_output=True
        )
        if probe.returncode == 0:
            script = f'mount --bind /dev/null "{lib}" && exec "$0" "$@"'
            cmd = [unshare, "-m", "--propagation", "private", "sh", "-c", script]
            r = subprocess.run(
                [*cmd, sys.executable, *args],
                env=env,
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            return r.returncode, r.stdout + r.stderr
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "magic.py").write_text(
        "raise ImportError('failed to find libmagic.  Check your installation')\n"
    )
    env = {**env, "PYTHONPATH": f"{shim}{os.pathsep}{env['PYTHONPATH']}"}
    return _exits(args, env)


def test_a_server_without_libmagic_refuses_to_start(tmp_path: Path) -> None:
    """No libmagic: the FastAPI reference server exits 2 saying how to install it, and
    doctor fails its libmagic check."""
    code, out = _without_libmagic(SERVERS["fastapi"], _env(tmp_path), tmp_path)
    assert code == 2, out[-3000:]
    assert "libmagic" in out
    assert "apt-get install libmagic1" in out
    code, out = _without_libmagic(["-m", "mediakit.cli", "doctor"], _env(tmp_path), tmp_path)
    assert code == 1, out
    assert "FAIL  libmagic" in out


def test_preflight_findings_and_enforce() -> None:
    """Unit view: the findings name their setting; ``enforce`` raises for errors only."""
    assert preflight(Settings(storage_backend="memory")) == []
    bad = preflight(Settings(storage_backend="memory", ffmpeg_path=BAD_FFMPEG))
    assert [(f.check, f.level, f.setting) for f in bad] == [
        ("ffmpeg", "error", "MEDIA_FFMPEG_PATH")
    ]
    assert preflight(Settings(ffmpeg_path=BAD_FFMPEG, audio_pre_encode=False)) == []
    assert preflight(Settings(ffmpeg_path=BAD_FFMPEG, job_runner="dramatiq")) == []
    s3 = Settings(storage_backend="s3")
    (db,) = preflight(s3)
    assert (db.check, db.level, db.setting) == ("database", "warning", "MEDIAKIT_DATABASE_URL")
    assert preflight(s3, uses_database_url=False) == []
    assert preflight(Settings(storage_backend="s3", database_url="sqlite:///x.db")) == []
    enforce([db])  # a warning: logged, no exception
    with pytest.raises(ConfigurationError, match="MEDIA_FFMPEG_PATH"):
        enforce(bad)
