"""What only one side of the upload use case does, kept by hand.

The async use case (``_async.py``) is written once and the sync one (``_sync.py``) is
generated from it by ``scripts/unasync.py``. Where the two really differ, the source
calls one of these; the script turns the call into the sync one:

- **A clean-up that must not hold the error response** (the store is unreachable or
  hung) runs in the background: an asyncio task on the async side (:func:`spawn_task`),
  a daemon thread on the sync side (:func:`spawn_thread`).
- **A clean-up that must finish** is shielded from cancellation (a client disconnect
  cancels the request's task) on the async side: ``await shielded(fn, *args)``
  becomes the plain call ``fn(*args)``.
- (Blocking steps, the repository and the image check, run in a worker thread on the
  async side: ``await anyio.to_thread.run_sync(fn, *args)`` becomes ``fn(*args)``.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec

import anyio

__all__ = ["shielded", "spawn_task", "spawn_thread"]

P = ParamSpec("P")

_BACKGROUND: set[object] = set()  # clean-ups still running (keeps asyncio tasks alive)


def spawn_task(
    fn: Callable[P, Coroutine[Any, Any, None]], *args: P.args, **kwargs: P.kwargs
) -> None:
    """Run ``fn(*args)`` as a task of the running event loop, not waited for."""
    task = asyncio.get_running_loop().create_task(fn(*args, **kwargs))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def spawn_thread(fn: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
    """Run ``fn(*args)`` in a daemon thread, not waited for."""
    threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True).start()


async def shielded(
    fn: Callable[P, Coroutine[Any, Any, None]], *args: P.args, **kwargs: P.kwargs
) -> None:
    """Await ``fn(*args)`` shielded from the cancellation of the calling task."""
    with anyio.CancelScope(shield=True):
        await fn(*args, **kwargs)
