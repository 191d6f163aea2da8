"""Huey's consumer, adjusted for poolimport. `poolimport worker` and `huey_consumer poolimport.queue.huey`
both get it, since both ask the Huey instance for its consumer:

- a queue that stops answering is one warning, one line when it is back, and backoff in between (outage.py);
- a stalled-job sweeper runs beside the workers (sweeper.py);
- SIGHUP: Huey reads it as "restart", which a supervisor relies on; a worker started from a terminal stops
  instead when the terminal closes, rather than living on as an orphan.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from huey import Huey
from huey.api import Task
from huey.consumer import Consumer, Worker

from poolimport.core.config import load_settings
from poolimport.queue.outage import Backoff, Outage
from poolimport.queue.sweeper import StalledJobSweeper

logger = logging.getLogger("huey.consumer")

QUEUE_BACKOFF = (0.5, 5.0)


def attached_to_terminal() -> bool:
    """Whether this process has a controlling terminal: a shell started it. Supervisors give none."""
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError:
        return False
    return True


class PoolimportHuey(Huey):
    """Reads from the queue report to one Outage instead of raising: the caller sees an empty queue."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue_outage = Outage("queue", logger)

    def create_consumer(self, **options: Any) -> Consumer:
        return PoolimportConsumer(self, **options)

    def dequeue(self) -> Task | None:
        try:
            task = super().dequeue()
        except Exception as exc:  # any storage error: the workers back off (BackoffWorker)
            self.queue_outage.failed(exc)
            return None
        self.queue_outage.answered()
        return task

    def read_schedule(self, timestamp: Any = None) -> list[Task]:
        try:
            tasks = super().read_schedule(timestamp)
        except Exception as exc:  # the scheduler polls every second anyway
            self.queue_outage.failed(exc)
            return []
        self.queue_outage.answered()
        return tasks

    def execute(self, task: Task, timestamp: Any = None) -> Any:
        # A task's own errors are handled inside; what escapes is the queue failing around it
        # (the revoked check before, clearing the revoke flag after). The job's state is in the database.
        try:
            return super().execute(task, timestamp)
        except Exception as exc:
            self.queue_outage.failed(exc)
            return None


class BackoffWorker(Worker):
    """Huey's worker, waiting longer and longer between reads while the queue is away."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage_backoff = Backoff(*QUEUE_BACKOFF)

    def loop(self, now: Any = None) -> None:
        if self.huey.queue_outage.ongoing:
            self.stop_flag.wait(self.outage_backoff.next())
        else:
            self.outage_backoff.reset()
        super().loop(now)


class PoolimportConsumer(Consumer):
    worker_class = BackoffWorker

    def __init__(self, huey: PoolimportHuey, **options: Any) -> None:
        super().__init__(huey, **options)
        if hasattr(signal, "SIGHUP") and attached_to_terminal():
            # Closing the terminal stops the worker the way SIGTERM does.
            self._signal_actions[signal.SIGHUP] = self._signal_actions[self._interrupt_sig]
        self.sweeper: StalledJobSweeper | None = None

    def start(self) -> None:
        from poolimport.queue.app import send_import  # app builds the Huey instance from this module

        super().start()
        self.sweeper = StalledJobSweeper(load_settings(), send_import, self.huey.queue_outage)
        self.sweeper.start()

    def stop(self, graceful: bool = False) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
        super().stop(graceful)
