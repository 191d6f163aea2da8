"""A thread in every consumer that retries the jobs of consumers that died (core.jobs.auto_retry_stalled)."""

from __future__ import annotations

import logging

from poolimport.core.config import Settings
from poolimport.core.events import EventKind, event
from poolimport.core.jobs.lifecycle import Sender, auto_retry_stalled
from poolimport.core.jobs.log import job_logger, log_event
from poolimport.queue.outage import Outage
from poolimport.queue.periodic import Periodic

# Under "huey", which huey_consumer configures too: these lines show whichever command runs the consumer.
logger = logging.getLogger("huey.consumer.Sweeper")

MIN_INTERVAL = 0.5
MAX_BACKOFF = 5.0


class StalledJobSweeper(Periodic):
    """Sweeps once per heartbeat interval: a job reads as stalled after three silent intervals."""

    def __init__(self, settings: Settings, send: Sender, queue: Outage, database: Outage) -> None:
        interval = max(settings.heartbeat_interval, MIN_INTERVAL)
        super().__init__("stalled-job sweep", interval, MAX_BACKOFF, logger, database)
        self.settings = settings
        self.send = send
        self.queue = queue

    def tick(self) -> None:
        if self.queue.ongoing:
            return  # a retry now could not be queued: it would only use up the job's retry
        handled = auto_retry_stalled(self.settings, self.send)
        job_log = job_logger(self.settings.log_dir)
        for outcome in handled:
            logger.warning("job #%s stalled (%s)", outcome.job_id, outcome.note)
            log_event(job_log, outcome.job_id, event(EventKind.JOB_STALLED, note=outcome.note))
