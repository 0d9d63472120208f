"""Injectable clocks: the system clock, and a manual one for tests (shipped as API)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol

import attrs

__all__ = ["Clock", "ManualClock", "SystemClock", "system_clock"]


class Clock(Protocol):
    """Anything that tells the current time."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Seconds since the Unix epoch, from :func:`time.time`."""
        return time.time()

    def now(self) -> datetime:
        """The current aware UTC datetime."""
        return datetime.now(UTC)


system_clock: Clock = SystemClock()


@attrs.define
class ManualClock:
    """A clock that only moves when told to; use it to test expiry.

    >>> c = ManualClock(1_700_000_000.0)
    >>> c.advance(60)
    >>> c.time()
    1700000060.0
    """

    _t: float = 1_700_000_000.0
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def time(self) -> float:
        """The clock's current reading."""
        with self._lock:
            return self._t

    def now(self) -> datetime:
        """The clock's current reading as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        with self._lock:
            self._t += seconds

    def set(self, t: float) -> None:
        """Set the clock to ``t`` seconds since the epoch."""
        with self._lock:
            self._t = t
