"""A thread in every consumer that does one thing every few seconds (the stalled-job sweep, the schedule).

A database outage is one warning when it starts and one line when it ends, with backoff between; a bug
is logged in full once and waited out, never the end of the consumer.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from poolimport.queue.outage import Backoff, Outage


class Periodic(threading.Thread):
    def __init__(
        self, name: str, interval: float, max_backoff: float, logger: logging.Logger, database: Outage
    ) -> None:
        """`database` is the consumer's one record of a database outage, shared by its threads: an
        outage is one line however many of them notice it."""
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.max_backoff = max_backoff
        self.logger = logger
        self.database = database
        self.backoff = Backoff(interval, max_backoff)
        self._stopping = threading.Event()

    def tick(self) -> None:
        """The one thing, once."""
        raise NotImplementedError

    def run(self) -> None:
        wait = 0.0  # a consumer started after a crash picks up the leftovers at once
        while not self._stopping.wait(wait):
            wait = self.once()

    def once(self) -> float:
        """One tick; returns how long to wait before the next."""
        try:
            self.tick()
        except SQLAlchemyError as exc:
            self.database.failed(exc)
            return self.backoff.next()
        except Exception:  # a bug, not an outage: say so in full, but not once per interval
            self.logger.exception("%s failed", self.name)
            return self.max_backoff
        self.database.answered()
        self.backoff.reset()
        return self.interval

    def stop(self) -> None:
        self._stopping.set()
