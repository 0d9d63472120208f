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

Durability: a job claims its row's processing lease first (see
:mod:`mediakit.processing.tasks`), so a row is never processed by two jobs at once, and
jobs submitted through a runner leave rows that are already ``ready`` or ``failed`` alone.
What a crash interrupts is taken up again by itself:

- ``thread``: the runner sweeps at start and every half lease (``MEDIAKIT_JOB_LEASE_SECONDS``):
  rows left ``processing`` whose lease expired, and ``pending`` rows older than a lease
  with no job (an upload whose job was lost with its process), are queued again
  (:func:`requeue_interrupted`); temp directories of dead processes are removed. With
  several replicas, each sweeps; the lease makes sure one of them does the work.
- ``inline``: one sweep when the runner is built from settings, run in that thread.
- ``dramatiq``: the queue's own redelivery. Dramatiq acknowledges a message only after
  the actor returned ("acks late"); the messages of a worker that died are put back on
  the queue by the broker (Redis: once the worker's heartbeat is older than the broker's
  ``heartbeat_timeout``) and run again. A redelivered job finding the row's lease still
  held raises :class:`~mediakit.processing.tasks.LeaseHeld`, and Dramatiq retries it
  with backoff until the lease expired or the row is done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

from mediakit.errors import ConfigurationError
from mediakit.processing.tasks import (
    LeaseHeld,
    ProcessingContext,
    process_image,
    process_track,
    remove_stale_temp_dirs,
)

if TYPE_CHECKING:
    import dramatiq

__all__ = [
    "TASKS",
    "DramatiqRunner",
    "InlineRunner",
    "JobRunner",
    "Task",
    "ThreadPoolRunner",
    "requeue_interrupted",
    "run_task",
    "runner_from_settings",
]

log = logging.getLogger("mediakit.jobs")

Task = Callable[..., None]
"""A processing task: ``task(ctx, **kwargs)`` with string keyword arguments."""


def _finish_image(ctx: ProcessingContext, image_id: str) -> None:
    process_image(ctx, image_id, unfinished_only=True)


def _finish_track(ctx: ProcessingContext, track_id: str) -> None:
    process_track(ctx, track_id, unfinished_only=True)


TASKS: Mapping[str, Task] = {
    "process_image": _finish_image,
    "process_track": _finish_track,
}
"""Task name -> task function. Job messages carry the name, never a pickled callable.

The tasks bring a row to ``ready`` (or ``failed``): a row already there is left alone,
so a job delivered twice, or queued again by a sweep, does no work twice. To re-process
finished rows, call :func:`~mediakit.processing.tasks.process_image` /
``process_track`` directly (as ``mediakit reprocess`` does).
"""


def run_task(
    ctx: ProcessingContext,
    task_name: str,
    kwargs: Mapping[str, str],
    tasks: Mapping[str, Task],
    *,
    busy: Literal["skip", "raise"] = "skip",
) -> None:
    """Run one registered task; ``ValueError`` for an unknown name.

    ``busy``: what to do when another job holds the row's lease
    (:class:`~mediakit.processing.tasks.LeaseHeld`): ``skip`` (log it; a sweep takes
    the row up again should that job die) or ``raise`` (a queue retries later).
    """
    try:
        task = tasks[task_name]
    except KeyError:
        raise ValueError(f"unknown task {task_name!r}; known: {sorted(tasks)}") from None
    try:
        task(ctx, **kwargs)
    except LeaseHeld as exc:
        if busy == "raise":
            raise
        log.info("job %s(%s) skipped: %s", task_name, dict(kwargs), exc)


def _release_thread(ctx: ProcessingContext) -> None:
    """Release the worker thread's database connection (see ``Repositories.release_thread``);
    a failure to close it is logged, never raised over the job's outcome."""
    try:
        ctx.repos.release_thread()
    except Exception:
        log.warning("could not release the job thread's database connection", exc_info=True)


_SWEEP_LIMIT = 500


def requeue_interrupted(
    ctx: ProcessingContext, runner: JobRunner, *, skip: Collection[tuple[str, str]] = ()
) -> int:
    """Submit a job for every row a crash left unfinished; returns how many were submitted.

    Rows left ``processing`` whose lease expired, and ``pending`` rows untouched for a
    lease (their job was lost), as the repositories' ``list_interrupted`` finds them;
    ``skip`` holds ``(task name, id)`` pairs already queued here. The jobs claim the
    lease before working, so a row another replica took meanwhile is skipped there.
    """
    now = ctx.clock.now()
    before = now - timedelta(seconds=ctx.settings.job_lease_seconds)
    submitted = 0
    sources: tuple[tuple[str, str, Any], ...] = (
        ("process_image", "image_id", ctx.repos.images),
        ("process_track", "track_id", ctx.repos.tracks),
    )
    for task_name, arg, repo in sources:
        ids = repo.list_interrupted(now=now, pending_before=before, limit=_SWEEP_LIMIT)
        for item_id in ids:
            if (task_name, item_id) in skip:
                continue
            log.info("taking up interrupted job %s(%s=%s)", task_name, arg, item_id)
            runner.submit(task_name, **{arg: item_id})
            submitted += 1
    return submitted


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

    def recover(self) -> int:
        """Run every job a crash interrupted, now (see :func:`requeue_interrupted`).

        Errors of single jobs are logged, not raised; returns how many jobs ran.
        """
        remove_stale_temp_dirs(self.ctx.tmp_dir, older_than=_lease(self.ctx))
        return requeue_interrupted(self.ctx, _LoggingInline(self))

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop."""


def _lease(ctx: ProcessingContext) -> timedelta:
    return timedelta(seconds=ctx.settings.job_lease_seconds)


@attrs.define
class _LoggingInline:
    """An inline runner whose failures are logged (a recovery sweep goes on)."""

    inner: InlineRunner

    def submit(self, task_name: str, **kwargs: str) -> None:
        try:
            self.inner.submit(task_name, **kwargs)
        except Exception:
            log.exception("interrupted job %s(%s) failed again", task_name, kwargs)

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop."""


@attrs.define
class ThreadPoolRunner:
    """Runs jobs on a pool of background threads in this process.

    A job that raises is logged with its traceback on the ``mediakit.jobs`` logger and
    counted in :attr:`failures`; the task itself has already marked its row ``failed``.

    With ``sweep_every`` (seconds; :func:`runner_from_settings` uses half the lease), a
    daemon thread takes up interrupted jobs at start and then at that interval
    (:func:`requeue_interrupted`), and removes the temp directories of dead processes.
    """

    ctx: ProcessingContext
    workers: int = 2
    tasks: Mapping[str, Task] = TASKS
    sweep_every: float | None = None
    failures: int = attrs.field(default=0, init=False)
    _pool: ThreadPoolExecutor = attrs.field(init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    _queued: dict[tuple[str, str], int] = attrs.field(factory=dict, init=False)
    _stop: threading.Event = attrs.field(factory=threading.Event, init=False)
    _sweeper: threading.Thread | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if self.workers <= 0:
            raise ValueError("workers must be positive")
        if self.sweep_every is not None and self.sweep_every <= 0:
            raise ValueError("sweep_every must be positive")
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mediakit-job")
        if self.sweep_every is not None:
            self._sweeper = threading.Thread(
                target=self._sweep_loop, name="mediakit-job-sweep", daemon=True
            )
            self._sweeper.start()

    @staticmethod
    def _key(task_name: str, kwargs: Mapping[str, str]) -> tuple[str, str]:
        return (task_name, ",".join(v for _, v in sorted(kwargs.items())))

    def submit(self, task_name: str, **kwargs: str) -> None:
        """Queue the task on the pool."""
        _check(task_name, kwargs, self.tasks)
        key = self._key(task_name, kwargs)
        with self._lock:
            self._queued[key] = self._queued.get(key, 0) + 1
        try:
            future = self._pool.submit(self._run, task_name, dict(kwargs))
        except BaseException:
            self._unqueue(key)
            raise
        future.add_done_callback(lambda f: self._done(f, task_name, kwargs, key))

    def _run(self, task_name: str, kwargs: dict[str, str]) -> None:
        # on a worker thread: release its database connection before it goes idle
        try:
            run_task(self.ctx, task_name, kwargs, self.tasks)
        finally:
            _release_thread(self.ctx)

    def _unqueue(self, key: tuple[str, str]) -> None:
        with self._lock:
            left = self._queued.get(key, 1) - 1
            if left > 0:
                self._queued[key] = left
            else:
                self._queued.pop(key, None)

    def _done(
        self,
        future: Future[None],
        task_name: str,
        kwargs: Mapping[str, str],
        key: tuple[str, str],
    ) -> None:
        self._unqueue(key)
        exc = future.exception() if not future.cancelled() else None
        if exc is not None:
            with self._lock:
                self.failures += 1
            log.error("job %s(%s) failed", task_name, dict(kwargs), exc_info=exc)

    def sweep(self) -> int:
        """Queue every interrupted job not queued here yet; remove dead jobs' temp dirs."""
        with self._lock:
            queued = set(self._queued)
        remove_stale_temp_dirs(self.ctx.tmp_dir, older_than=_lease(self.ctx))
        return requeue_interrupted(self.ctx, self, skip=queued)

    def _sweep_loop(self) -> None:
        assert self.sweep_every is not None
        wait = 0.0
        while not self._stop.wait(wait):
            wait = self.sweep_every
            try:
                self.sweep()
            except RuntimeError:  # the pool was shut down meanwhile
                return
            except Exception:
                log.warning("the sweep for interrupted jobs failed; retrying", exc_info=True)
            finally:
                _release_thread(self.ctx)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the sweep and the pool; with ``wait``, finish the queued jobs first."""
        self._stop.set()
        if self._sweeper is not None and self._sweeper is not threading.current_thread():
            self._sweeper.join(timeout=30)
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
        ctx = lazy.get()
        try:
            run_task(ctx, task_name, kwargs, tasks, busy="raise")
        finally:
            _release_thread(ctx)

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

    ``inline`` runs the jobs a crash interrupted before returning; ``thread`` sweeps
    for them in the background (see the module docstring).

    For ``dramatiq`` a Redis broker on ``MEDIAKIT_REDIS_URL`` is built unless ``broker``
    is given; the returned runner can also serve as the worker's (it holds ``ctx``).
    """
    kind = ctx.settings.job_runner
    if kind == "inline":
        inline = InlineRunner(ctx)
        try:
            inline.recover()
        except Exception:  # a database that cannot be read yet: the jobs wait for the next start
            log.warning("could not look for interrupted jobs", exc_info=True)
        return inline
    if kind == "thread":
        return ThreadPoolRunner(
            ctx, workers=ctx.settings.job_workers, sweep_every=ctx.settings.job_lease_seconds / 2
        )
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
