"""The deployment guide's worker module really works: the ``not-run`` snippet of
docs/howto/deployment.md, saved as ``myapp/worker.py`` and started with the ``dramatiq``
command it names, processes an image uploaded by a web-side kit through a real Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mediakit.models import Principal, ProcessingStatus
from mediakit.service import build_service
from mediakit.settings import Settings
from mediakit.storage import ensure_bucket
from tests import servers
from tests.docs.test_examples import ROOT, blocks
from tests.fixtures_media import jpeg_bytes
from tests.servers import ServerHandle
from tests.service.kit import multipart


def _worker_snippet() -> str:
    page = ROOT / "docs" / "howto" / "deployment.md"
    (block,) = [b for b in blocks(page.read_text(), "deployment.md") if "myapp/worker.py" in b.code]
    assert block.not_run  # needs Redis, so the generic example runner skips it; tested here
    return block.code


@pytest.mark.redis
@pytest.mark.slow
def test_the_documented_worker_module_processes_uploads(
    redis_server: ServerHandle, tmp_path: Path
) -> None:
    dramatiq_cli = shutil.which("dramatiq", path=str(Path(sys.executable).parent))
    servers.need(dramatiq_cli is not None, "the dramatiq command (pip install 'mediakit[queue]')")
    assert dramatiq_cli is not None
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "worker.py").write_text(_worker_snippet())
    env = {
        "MEDIAKIT_JOB_RUNNER": "dramatiq",
        "MEDIAKIT_REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/7",  # a database of its own
        "MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp_path}/mediakit.db",
        "MEDIAKIT_STORAGE": "filesystem",
        "MEDIAKIT_STORAGE_ROOT": str(tmp_path / "objects"),
        "MEDIAKIT_SIGNING_SECRET": "s" * 32,
    }
    settings = Settings.from_env(env)
    kit = build_service(settings)  # the web side: jobs go to Redis
    ensure_bucket(kit.store)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [dramatiq_cli, "myapp.worker", "--processes", "1", "--threads", "1"],
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("MEDIA")},
            **env,
            "PYTHONPATH": str(tmp_path),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body, ct = multipart([("a.jpg", jpeg_bytes(300, 200))])
        admin = Principal("ops", is_admin=True)
        image_id = kit.service.upload_images(admin, body=[body], content_type=ct)["items"][0]["id"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            row = kit.repos.images.get(image_id)
            if row is not None and row.status is ProcessingStatus.READY:
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail("not processed in time:\n" + (tmp_path / "worker.log").read_text())
        assert row is not None
        assert [t.name for t in row.thumbnails] == ["w320", "w640", "w1280"]
    finally:
        servers.stop_process(worker)
        log.close()
        broker = getattr(kit.runner, "broker", None)
        kit.close()
        if broker is not None:
            broker.close()
