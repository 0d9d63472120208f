"""The thread :class:`~mediakit_django.asgi.MediakitASGIHandler` lent to the current request.

A module of its own so that :mod:`mediakit_django.repositories` can find the request's
thread without importing the ASGI handler (and Django's request handling with it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from contextvars import ContextVar
from typing import Any, NamedTuple, Protocol, TypeVar

__all__ = ["Lendable", "Lent", "lent"]

_T = TypeVar("_T")


class Lendable(Protocol):
    """What :class:`~mediakit_django.asgi.LentThread` offers here."""

    @property
    def idle(self) -> bool:
        """Whether no call is running or waiting on the thread."""
        ...

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn`` on the thread."""
        ...

    def hop(self, fn: Callable[[], _T]) -> asyncio.Future[_T]:
        """Run ``fn`` on the thread; its outcome in a future of the running loop."""
        ...


class Lent(NamedTuple):
    """A request's thread and the event loop that serves the request."""

    executor: Lendable
    loop: asyncio.AbstractEventLoop


lent: ContextVar[Lent | None] = ContextVar("mediakit_django_lent_thread", default=None)
"""Set by the handler for the request's task (and what it awaits); ``None`` elsewhere."""
