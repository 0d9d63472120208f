"""The reference server as a real process: embedded defaults, generated tokens, web page,
clean shutdown on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import servers

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
"""The repository first, then the caller's path (a worktree's src/ and adapters/)."""


def test_server_starts_on_embedded_defaults_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    """With no configuration: SQLite + files under ./mediakit-data, printed tokens, /healthz,
    the web page at /, and exit status 0 after SIGINT."""
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAKIT_", "MEDIA_"))}
    env.update(
        MEDIAKIT_PORT=str(port),
        PYTHONPATH=PYTHONPATH,
        PYTHONUNBUFFERED="1",
        MEDIAKIT_JOB_RUNNER="thread",
    )
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "examples.fastapi_server"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        text = log_path.read_text()
        admin = re.search(r"admin: (\S+)", text)
        assert admin, text
        r = httpx.get(
            f"{base}/api/v1/admin/images", headers={"Authorization": f"Bearer {admin[1]}"}
        )
        assert r.json() == {"items": [], "next_cursor": None}
        assert (tmp_path / "mediakit-data" / "mediakit.db").exists()
        assert (tmp_path / "mediakit-data" / "objects").is_dir()
        if (REPO_ROOT / "examples" / "web" / "index.html").exists():
            page = httpx.get(f"{base}/")
            assert page.status_code == 200
            assert "text/html" in page.headers["content-type"]
        r = httpx.get(f"{base}/api/v1/no-such-route")
        assert r.json()["error"]["code"] == "not_found"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log_path.read_text()
        assert "Application shutdown complete" in log_path.read_text()
    finally:
        if proc.poll() is None:
            servers.stop_process(proc)


def test_bad_configuration_exits_with_a_message_naming_the_variable(tmp_path: Path) -> None:
    """A bad setting stops the server at start-up with status 2 and the variable's name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAKIT_", "MEDIA_"))}
    env.update(PYTHONPATH=PYTHONPATH, MEDIA_MAX_FILE_SIZE="lots")
    done = subprocess.run(
        [sys.executable, "-m", "examples.fastapi_server"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "MEDIA_MAX_FILE_SIZE" in done.stderr
