"""An outage is a line, not a flood: one warning when a service (the queue, the database) stops answering,
one when it answers again, and backoff between attempts while it is away.

Huey's consumer logs a traceback for every failed poll; with Redis away, its workers and scheduler wrote
one every few hundredths of a second. Several threads share one Outage, so the process says it once.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from poolimport.core.text import one_line


def describe(exc: BaseException) -> str:
    """One line naming the error; for a database error, the driver's own first line (no SQL, no URL)."""
    if isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        exc = exc.orig  # type: ignore[attr-defined]
    lines = str(exc).strip().splitlines()
    text = one_line(lines[0]).rstrip(".") if lines else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


class Outage:
    def __init__(self, what: str, logger: logging.Logger) -> None:
        self.what = what
        self.logger = logger
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        self.logger.warning("%s unavailable: %s; retrying with backoff", self.what, describe(exc))

    def answered(self) -> None:
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._since is None:
                return
            seconds, self._since = time.monotonic() - self._since, None
        self.logger.warning("%s back after %.0f s", self.what, seconds)


class Backoff:
    """Waits that double from `initial` up to `maximum`, until reset."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = max(initial, maximum)
        self._next = initial

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial
