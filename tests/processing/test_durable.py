"""Durable processing: leases, the sweep for interrupted jobs, job temp directories."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from mediakit.models import ProcessingStatus
from mediakit.processing.jobs import InlineRunner, ThreadPoolRunner, requeue_interrupted
from mediakit.processing.tasks import (
    LeaseHeld,
    ProcessingContext,
    process_image,
    remove_stale_temp_dirs,
    stale_temp_dirs,
)
from tests.fixtures_media import jpeg_bytes
from tests.processing.conftest import add_image, make_settings


def _wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def tctx(ctx: ProcessingContext, tmp_path: Path) -> ProcessingContext:
    """``ctx`` with its own temp directory and a one-second lease."""
    (tmp_path / "jobs").mkdir()
    return attrs.evolve(
        ctx, tmp_dir=str(tmp_path / "jobs"), settings=make_settings(job_lease_seconds=1)
    )


def _status(ctx: ProcessingContext, image_id: str) -> ProcessingStatus:
    row = ctx.repos.images.get(image_id)
    assert row is not None
    return row.status


def test_a_live_lease_keeps_other_jobs_off_the_row(tctx: ProcessingContext) -> None:
    """While another owner's lease lives, process_image raises LeaseHeld and changes
    nothing; a runner's job skips the row instead of failing."""
    image = add_image(tctx, jpeg_bytes(300, 200))
    now = tctx.clock.now()
    assert tctx.repos.images.claim(image.id, owner="other", now=now, until=now + timedelta(hours=1))
    with pytest.raises(LeaseHeld):
        process_image(tctx, image.id)
    InlineRunner(tctx).submit("process_image", image_id=image.id)
    row = tctx.repos.images.get(image.id)
    assert row is not None
    assert (row.status, row.thumbnails) == (ProcessingStatus.PROCESSING, ())


def test_runner_jobs_leave_finished_rows_alone(tctx: ProcessingContext) -> None:
    """A job delivered again for a ``ready`` row does no work; a direct re-process does."""
    image = add_image(tctx, jpeg_bytes(300, 200))
    InlineRunner(tctx).submit("process_image", image_id=image.id)
    first = tctx.repos.images.get(image.id)
    assert first is not None
    assert first.status is ProcessingStatus.READY
    InlineRunner(tctx).submit("process_image", image_id=image.id)
    assert tctx.repos.images.get(image.id) == first
    process_image(tctx, image.id)
    again = tctx.repos.images.get(image.id)
    assert again is not None
    assert again.thumbnails != first.thumbnails  # a new revision


def test_the_lease_is_released_after_success_and_failure(tctx: ProcessingContext) -> None:
    """After a job, ready or failed, anybody can claim the row at once."""
    good = add_image(tctx, jpeg_bytes(300, 200))
    bad = add_image(tctx, b"\xff\xd8\xff\xe0 not really a jpeg")
    process_image(tctx, good.id)
    process_image(tctx, bad.id)
    assert _status(tctx, bad.id) is ProcessingStatus.FAILED
    now = tctx.clock.now()
    for item in (good, bad):
        assert tctx.repos.images.claim(item.id, owner="next", now=now, until=now) is not None


def test_the_thread_runner_takes_up_interrupted_jobs_by_itself(tctx: ProcessingContext) -> None:
    """A row left ``processing`` by a dead job (lease expired) and a ``pending`` row whose
    job was lost are processed by the runner's sweep, without anyone submitting them."""
    dead = add_image(tctx, jpeg_bytes(300, 200))
    lost = add_image(tctx, jpeg_bytes(300, 200))
    then = tctx.clock.now() - timedelta(minutes=5)
    assert tctx.repos.images.claim(dead.id, owner="dead", now=then, until=then)
    tctx.repos.images.update(lost.id, {"updated_at": then})
    runner = ThreadPoolRunner(tctx, workers=2, sweep_every=0.1)
    try:
        _wait_for(
            lambda: {_status(tctx, dead.id), _status(tctx, lost.id)} == {ProcessingStatus.READY}
        )
    finally:
        runner.shutdown()


def test_requeue_skips_live_jobs_and_what_is_queued_already(tctx: ProcessingContext) -> None:
    """A row under a live lease is not submitted; neither is one queued here already."""
    live = add_image(tctx, jpeg_bytes(300, 200))
    queued = add_image(tctx, jpeg_bytes(300, 200))
    then = tctx.clock.now() - timedelta(minutes=5)
    now = tctx.clock.now()
    tctx.repos.images.claim(live.id, owner="x", now=now, until=now + timedelta(hours=1))
    tctx.repos.images.update(queued.id, {"updated_at": then})
    submitted: list[dict[str, str]] = []

    @attrs.define
    class Recorder:
        def submit(self, task_name: str, **kwargs: str) -> None:
            submitted.append({"task": task_name, **kwargs})

        def shutdown(self, wait: bool = True) -> None:
            """Nothing to stop."""

    assert requeue_interrupted(tctx, Recorder(), skip={("process_image", queued.id)}) == 0
    assert requeue_interrupted(tctx, Recorder()) == 1
    assert submitted == [{"task": "process_image", "image_id": queued.id}]


def test_inline_recover_runs_interrupted_jobs_now(tctx: ProcessingContext) -> None:
    """``InlineRunner.recover`` processes what a crash left, in the caller's thread."""
    image = add_image(tctx, jpeg_bytes(300, 200))
    then = tctx.clock.now() - timedelta(minutes=5)
    tctx.repos.images.claim(image.id, owner="dead", now=then, until=then)
    assert InlineRunner(tctx).recover() == 1
    assert _status(tctx, image.id) is ProcessingStatus.READY


def test_job_temp_directories_are_removed_on_success_and_failure(
    tctx: ProcessingContext,
) -> None:
    """Nothing stays in the jobs' temp directory after a job, whichever way it ended."""
    assert tctx.tmp_dir is not None
    process_image(tctx, add_image(tctx, jpeg_bytes(300, 200)).id)
    process_image(tctx, add_image(tctx, b"\xff\xd8\xff garbage").id)
    assert list(Path(tctx.tmp_dir).iterdir()) == []


def _old(path: Path, seconds: float = 3600) -> Path:
    path.mkdir()
    (path / "original").write_bytes(b"x" * 10)
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def test_stale_temp_dirs_are_those_of_dead_processes_only(tmp_path: Path) -> None:
    """Found: an old job directory naming a process that is gone, or naming none and older
    than an hour. Left alone: a live process's, a young one, and anything without the job
    prefix."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    gone = _old(tmp_path / f"mediakit-audio-p{dead_pid}-abc")
    legacy = _old(tmp_path / "mediakit-img-xyz", seconds=7200)
    _old(tmp_path / "mediakit-img-recent", seconds=600)  # no pid: needs an hour
    _old(tmp_path / f"mediakit-audio-p{os.getpid()}-mine")
    _old(tmp_path / f"mediakit-img-p{os.getppid()}-parent")
    _old(tmp_path / "unrelated-dir")
    _old(tmp_path / f"mediakit-audio-p{dead_pid}-young", seconds=0)
    found = stale_temp_dirs(tmp_path, older_than=timedelta(minutes=5))
    assert found == sorted([gone, legacy])
    assert remove_stale_temp_dirs(tmp_path, older_than=timedelta(minutes=5)) == found
    assert not gone.exists()
    assert not legacy.exists()
    assert len(list(tmp_path.iterdir())) == 5


def test_a_queue_job_finding_the_lease_held_raises_so_the_queue_retries(
    tctx: ProcessingContext,
) -> None:
    """``run_task(busy="raise")`` (what the Dramatiq actor uses) lets LeaseHeld through, so
    Dramatiq retries the job later; the default (thread and inline runners) skips it."""
    from mediakit.processing.jobs import TASKS, run_task

    image = add_image(tctx, jpeg_bytes(300, 200))
    now = tctx.clock.now()
    tctx.repos.images.claim(image.id, owner="x", now=now, until=now + timedelta(hours=1))
    with pytest.raises(LeaseHeld):
        run_task(tctx, "process_image", {"image_id": image.id}, TASKS, busy="raise")
    run_task(tctx, "process_image", {"image_id": image.id}, TASKS)  # skipped quietly
    assert _status(tctx, image.id) is ProcessingStatus.PROCESSING
