"""Job runners: inline, thread pool (errors logged), Dramatiq over a real Redis broker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import attrs
import pytest

from mediakit.errors import ConfigurationError
from mediakit.models import ProcessingStatus
from mediakit.processing.jobs import (
    DramatiqRunner,
    InlineRunner,
    JobRunner,
    ThreadPoolRunner,
    runner_from_settings,
)
from mediakit.processing.tasks import ProcessingContext
from tests.fixtures_media import jpeg_bytes
from tests.processing.conftest import add_image, make_settings
from tests.servers import ServerHandle


def _wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _status(ctx: ProcessingContext, image_id: str) -> ProcessingStatus | None:
    row = ctx.repos.images.get(image_id)
    return row.status if row else None


def test_inline_runner_runs_the_task_now(ctx: ProcessingContext) -> None:
    """InlineRunner.submit returns after the task ran."""
    image = add_image(ctx, jpeg_bytes(300, 200))
    runner: JobRunner = InlineRunner(ctx)
    runner.submit("process_image", image_id=image.id)
    assert _status(ctx, image.id) is ProcessingStatus.READY
    runner.shutdown(wait=True)


def test_unknown_task_or_non_string_argument_is_refused(ctx: ProcessingContext) -> None:
    """Submitting an unregistered task name or a non-string argument fails at once."""
    runner = InlineRunner(ctx)
    with pytest.raises(ValueError, match="unknown task"):
        runner.submit("rm_rf", path="/")
    with pytest.raises(TypeError, match="strings"):
        runner.submit("process_image", image_id=42)  # type: ignore[arg-type]


def test_thread_pool_runs_jobs_in_the_background(ctx: ProcessingContext) -> None:
    """ThreadPoolRunner runs submitted jobs on its threads; shutdown(wait) drains them."""
    images = [add_image(ctx, jpeg_bytes(300, 200)) for _ in range(3)]
    runner = ThreadPoolRunner(ctx, workers=2)
    for image in images:
        runner.submit("process_image", image_id=image.id)
    runner.shutdown(wait=True)
    assert [_status(ctx, i.id) for i in images] == [ProcessingStatus.READY] * 3
    assert runner.failures == 0


def test_thread_pool_logs_a_crashed_job(
    ctx: ProcessingContext, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that raises is logged with its traceback and counted, never lost silently."""

    def boom(ctx: ProcessingContext, **kwargs: str) -> None:
        raise RuntimeError("kaboom " + kwargs["x"])

    runner = ThreadPoolRunner(ctx, workers=1, tasks={"boom": boom})
    with caplog.at_level(logging.ERROR, logger="mediakit.jobs"):
        runner.submit("boom", x="1")
        runner.shutdown(wait=True)
    assert runner.failures == 1
    (record,) = [r for r in caplog.records if r.name == "mediakit.jobs"]
    assert "boom" in record.getMessage()
    assert record.exc_info is not None
    assert "kaboom 1" in str(record.exc_info[1])


def test_runner_from_settings_picks_the_configured_runner(ctx: ProcessingContext) -> None:
    """MEDIAKIT_JOB_RUNNER chooses inline or thread; dramatiq without Redis is a config error."""
    inline = attrs.evolve(ctx, settings=make_settings(job_runner="inline"))
    assert isinstance(runner_from_settings(inline), InlineRunner)
    pool = runner_from_settings(attrs.evolve(ctx, settings=make_settings(job_workers=3)))
    assert isinstance(pool, ThreadPoolRunner)
    assert pool.workers == 3
    pool.shutdown()
    with pytest.raises(ConfigurationError, match="MEDIAKIT_REDIS_URL"):
        runner_from_settings(attrs.evolve(ctx, settings=make_settings(job_runner="dramatiq")))


@pytest.fixture
def redis_broker(redis_server: ServerHandle) -> Iterator[object]:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=redis_server.url, namespace=f"mk-test-{time.monotonic_ns()}"
    )
    try:
        yield broker
    finally:
        broker.close()


@pytest.mark.redis
def test_dramatiq_runner_runs_jobs_in_a_worker(
    ctx: ProcessingContext, redis_broker: object
) -> None:
    """A job sent through Redis is run by a Dramatiq worker, and its effect is visible."""
    import dramatiq

    assert isinstance(redis_broker, dramatiq.Broker)
    producer = DramatiqRunner(redis_broker)
    worker_side = DramatiqRunner(redis_broker, context_factory=lambda: ctx)
    image = add_image(ctx, jpeg_bytes(300, 200))
    producer.submit("process_image", image_id=image.id)
    assert _status(ctx, image.id) is ProcessingStatus.PENDING  # queued, not run inline
    worker = dramatiq.Worker(redis_broker, worker_threads=1)
    worker.start()
    try:
        _wait_for(lambda: _status(ctx, image.id) is ProcessingStatus.READY)
    finally:
        worker.stop()
    assert worker_side.actor.actor_name == "mediakit_process"
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert [t.name for t in row.thumbnails] == ["w320", "w640", "w1280"]
    producer.shutdown(wait=True)


@pytest.mark.redis
def test_dramatiq_job_payload_is_the_task_name_and_strings(
    ctx: ProcessingContext, redis_broker: object
) -> None:
    """The queued message carries the task name and string arguments, no pickled objects."""
    import dramatiq

    assert isinstance(redis_broker, dramatiq.Broker)
    runner = DramatiqRunner(redis_broker, queue_name="mk-payload")
    runner.submit("process_image", image_id="abc")
    message = redis_broker.client.hvals(f"{redis_broker.namespace}:mk-payload.msgs")  # type: ignore[attr-defined]
    assert len(message) == 1
    assert b'"process_image"' in message[0]
    assert b'"image_id":"abc"' in message[0].replace(b" ", b"")
