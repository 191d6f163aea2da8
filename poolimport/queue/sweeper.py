"""A thread in every consumer that retries the jobs of consumers that died (core.jobs.auto_retry_stalled)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from poolimport.core.config import Settings
from poolimport.core.events import EventKind, event
from poolimport.core.joblog import job_logger, log_event
from poolimport.core.jobs import Sender, auto_retry_stalled
from poolimport.queue.outage import Backoff, Outage

# Under "huey", which huey_consumer configures too: these lines show whichever command runs the consumer.
logger = logging.getLogger("huey.consumer.Sweeper")

MIN_INTERVAL = 0.5
MAX_BACKOFF = 5.0


class StalledJobSweeper(threading.Thread):
    """Sweeps once per heartbeat interval: a job reads as stalled after three silent intervals."""

    def __init__(self, settings: Settings, send: Sender, queue: Outage) -> None:
        super().__init__(name="stalled-job-sweeper", daemon=True)
        self.settings = settings
        self.send = send
        self.queue = queue
        self.interval = max(settings.heartbeat_interval, MIN_INTERVAL)
        self.database = Outage("database", logger)
        self.backoff = Backoff(self.interval, MAX_BACKOFF)
        self._stopping = threading.Event()

    def run(self) -> None:
        wait = 0.0  # a consumer started after a crash picks up the leftovers at once
        while not self._stopping.wait(wait):
            wait = self.sweep()

    def sweep(self) -> float:
        """One pass; returns how long to wait before the next."""
        if self.queue.ongoing:
            return self.interval  # a retry now could not be queued: it would only use up the job's retry
        try:
            handled = auto_retry_stalled(self.settings, self.send)
        except SQLAlchemyError as exc:
            self.database.failed(exc)
            return self.backoff.next()
        except Exception:  # a bug, not an outage: say so in full, but not once per interval
            logger.exception("stalled-job sweep failed")
            return MAX_BACKOFF
        self.database.answered()
        self.backoff.reset()
        job_log = job_logger(self.settings.log_dir)
        for outcome in handled:
            logger.warning("job #%s stalled (%s)", outcome.job_id, outcome.note)
            log_event(job_log, outcome.job_id, event(EventKind.JOB_STALLED, note=outcome.note))
        return self.interval

    def stop(self) -> None:
        self._stopping.set()
