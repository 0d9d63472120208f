"""Job runners: where processing tasks run.

A task is a function ``task(ctx: ProcessingContext, **kwargs: str) -> None`` registered by
name in :data:`TASKS`. Callers only say *what* to run::

    runner.submit("process_image", image_id=image.id)

and a :class:`JobRunner` decides *where*:

- :class:`InlineRunner`: right now, in the caller's thread (tests, scripts);
- :class:`ThreadPoolRunner`: a background thread pool in this process (the reference
  server's default); a crashed job is logged, never lost silently;
- :class:`DramatiqRunner`: a message on a `Dramatiq <https://dramatiq.io>`_ queue (Redis or
  RabbitMQ broker), run by ``dramatiq`` worker processes on any machine. Dramatiq was chosen
  over Celery for its small surface, typed API, and at-least-once delivery with retries
  built in; every task here is idempotent, so a redelivered message is harmless.

Pick one from settings with :func:`runner_from_settings` (``MEDIAKIT_JOB_RUNNER``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from mediakit.errors import ConfigurationError
from mediakit.processing.tasks import ProcessingContext, process_image, process_track

if TYPE_CHECKING:
    import dramatiq

__all__ = [
    "TASKS",
    "DramatiqRunner",
    "InlineRunner",
    "JobRunner",
    "Task",
    "ThreadPoolRunner",
    "run_task",
    "runner_from_settings",
]

log = logging.getLogger("mediakit.jobs")

Task = Callable[..., None]
"""A processing task: ``task(ctx, **kwargs)`` with string keyword arguments."""

TASKS: Mapping[str, Task] = {
    "process_image": process_image,
    "process_track": process_track,
}
"""Task name -> task function. Job messages carry the name, never a pickled callable."""


def run_task(
    ctx: ProcessingContext, task_name: str, kwargs: Mapping[str, str], tasks: Mapping[str, Task]
) -> None:
    """Run one registered task; ``ValueError`` for an unknown name."""
    try:
        task = tasks[task_name]
    except KeyError:
        raise ValueError(f"unknown task {task_name!r}; known: {sorted(tasks)}") from None
    task(ctx, **kwargs)


def _check(task_name: str, kwargs: Mapping[str, object], tasks: Mapping[str, Task]) -> None:
    if task_name not in tasks:
        raise ValueError(f"unknown task {task_name!r}; known: {sorted(tasks)}")
    bad = [k for k, v in kwargs.items() if not isinstance(v, str)]
    if bad:
        raise TypeError(f"task arguments must be strings; not: {bad}")


@runtime_checkable
class JobRunner(Protocol):
    """Runs processing tasks by name somewhere."""

    def submit(self, task_name: str, **kwargs: str) -> None:
        """Queue (or run) ``task_name`` with ``kwargs``; unknown names raise ``ValueError``."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting jobs; with ``wait``, return once queued local jobs finished."""
        ...


@attrs.define
class InlineRunner:
    """Runs each job immediately in the caller's thread; exceptions propagate (tests)."""

    ctx: ProcessingContext
    tasks: Mapping[str, Task] = TASKS

    def submit(self, task_name: str, **kwargs: str) -> None:
        """Run the task now."""
        _check(task_name, kwargs, self.tasks)
        run_task(self.ctx, task_name, kwargs, self.tasks)

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop."""


@attrs.define
class ThreadPoolRunner:
    """Runs jobs on a pool of background threads in this process.

    A job that raises is logged with its traceback on the ``mediakit.jobs`` logger and
    counted in :attr:`failures`; the task itself has already marked its row ``failed``.
    """

    ctx: ProcessingContext
    workers: int = 2
    tasks: Mapping[str, Task] = TASKS
    failures: int = attrs.field(default=0, init=False)
    _pool: ThreadPoolExecutor = attrs.field(init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def __attrs_post_init__(self) -> None:
        if self.workers <= 0:
            raise ValueError("workers must be positive")
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mediakit-job")

    def submit(self, task_name: str, **kwargs: str) -> None:
        """Queue the task on the pool."""
        _check(task_name, kwargs, self.tasks)
        future = self._pool.submit(run_task, self.ctx, task_name, dict(kwargs), self.tasks)
        future.add_done_callback(lambda f: self._done(f, task_name, kwargs))

    def _done(self, future: Future[None], task_name: str, kwargs: Mapping[str, str]) -> None:
        exc = future.exception() if not future.cancelled() else None
        if exc is not None:
            with self._lock:
                self.failures += 1
            log.error("job %s(%s) failed", task_name, dict(kwargs), exc_info=exc)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the pool; with ``wait``, finish the queued jobs first."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


@attrs.define
class _LazyContext:
    """Builds a worker's context on its first job, once."""

    factory: Callable[[], ProcessingContext]
    _ctx: ProcessingContext | None = None
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def get(self) -> ProcessingContext:
        with self._lock:
            if self._ctx is None:
                self._ctx = self.factory()
            return self._ctx


# (broker id, actor name) -> the worker context its jobs run with. Dramatiq allows one
# actor per name and broker, so producer and worker runners in one process share it.
_WORKER_CONTEXTS: dict[tuple[int, str], _LazyContext] = {}


def _declare_actor(
    broker: dramatiq.Broker,
    actor_name: str,
    queue_name: str,
    max_retries: int,
    tasks: Mapping[str, Task],
) -> Any:
    import dramatiq

    if actor_name in broker.actors:
        return broker.get_actor(actor_name)
    key = (id(broker), actor_name)

    def run(task_name: str, kwargs: dict[str, str]) -> None:
        lazy = _WORKER_CONTEXTS.get(key)
        if lazy is None:
            raise ConfigurationError(
                "MEDIAKIT_JOB_RUNNER",
                "this Dramatiq worker has no context_factory; build its DramatiqRunner "
                "with one so it can reach the store and the database",
            )
        run_task(lazy.get(), task_name, kwargs, tasks)

    return dramatiq.actor(
        broker=broker, actor_name=actor_name, queue_name=queue_name, max_retries=max_retries
    )(run)


@attrs.define
class DramatiqRunner:
    """Sends jobs to a Dramatiq queue; a Dramatiq worker runs them (``pip install 'mediakit[queue]'``).

    Build one in the web process with just the broker, and one in the worker module with
    ``context_factory`` too (both declare the same actor, ``mediakit_process``)::

        # myapp/worker.py, run with:  dramatiq myapp.worker
        broker = RedisBroker(url=settings.redis_url)
        dramatiq.set_broker(broker)
        runner = DramatiqRunner(broker, context_factory=build_processing_context)

    The context is built once per worker process, on the first job. Jobs that raise are
    retried by Dramatiq (``max_retries``, exponential backoff); tasks are idempotent.
    The first runner declared on a broker fixes the actor's queue, retries and tasks.
    """

    broker: dramatiq.Broker
    context_factory: Callable[[], ProcessingContext] | None = None
    queue_name: str = "mediakit"
    actor_name: str = "mediakit_process"
    max_retries: int = 3
    tasks: Mapping[str, Task] = TASKS
    _actor: Any = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._actor = _declare_actor(
            self.broker, self.actor_name, self.queue_name, self.max_retries, self.tasks
        )
        if self.context_factory is not None:
            _WORKER_CONTEXTS[(id(self.broker), self.actor_name)] = _LazyContext(
                self.context_factory
            )

    @property
    def actor(self) -> dramatiq.Actor[Any, None]:
        """The Dramatiq actor that runs every task."""
        return self._actor  # type: ignore[no-any-return]

    def submit(self, task_name: str, **kwargs: str) -> None:
        """Enqueue the task (the message holds the task name and its string arguments)."""
        _check(task_name, kwargs, self.tasks)
        self._actor.send(task_name, dict(kwargs))

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop here: the broker belongs to the caller, the queue to Redis."""


def runner_from_settings(
    ctx: ProcessingContext, *, broker: dramatiq.Broker | None = None
) -> JobRunner:
    """The runner ``MEDIAKIT_JOB_RUNNER`` names: ``inline``, ``thread`` or ``dramatiq``.

    For ``dramatiq`` a Redis broker on ``MEDIAKIT_REDIS_URL`` is built unless ``broker``
    is given; the returned runner can also serve as the worker's (it holds ``ctx``).
    """
    kind = ctx.settings.job_runner
    if kind == "inline":
        return InlineRunner(ctx)
    if kind == "thread":
        return ThreadPoolRunner(ctx, workers=ctx.settings.job_workers)
    if broker is None:
        if not ctx.settings.redis_url:
            raise ConfigurationError(
                "MEDIAKIT_REDIS_URL", "the dramatiq job runner needs a Redis URL for its broker"
            )
        try:
            from dramatiq.brokers.redis import RedisBroker
        except ImportError as exc:
            raise ConfigurationError(
                "MEDIAKIT_JOB_RUNNER",
                f"dramatiq is not installed (pip install 'mediakit[queue]'): {exc}",
            ) from None
        broker = RedisBroker(url=ctx.settings.redis_url)  # type: ignore[no-untyped-call]
    return DramatiqRunner(broker, context_factory=lambda: ctx)
