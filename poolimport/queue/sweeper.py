"""A thread in every consumer that retries the jobs of consumers that died (core.jobs.auto_retry_stalled),
and on SQLite removes the progress files they left behind (core.jobs.progress)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from poolimport.core.config import Settings
from poolimport.core.db import get_read_engine, session_scope
from poolimport.core.events import EventKind, event
from poolimport.core.jobs.lifecycle import Sender, auto_retry_stalled
from poolimport.core.jobs.log import job_logger, log_event
from poolimport.core.jobs.progress import files_of, progress_folder, remove_leftovers
from poolimport.core.models import ImportJob
from poolimport.core.statuses import JobStatus
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
        # Not while the queue is away: a retry now could not be queued, it would only use up the job's retry.
        if not self.queue.ongoing:
            handled = auto_retry_stalled(self.settings, self.send)
            job_log = job_logger(self.settings.log_dir)
            for outcome in handled:
                logger.warning("job #%s stalled (%s)", outcome.job_id, outcome.note)
                log_event(job_log, outcome.job_id, event(EventKind.JOB_STALLED, note=outcome.note))
        self.remove_leftover_progress()

    def remove_leftover_progress(self) -> None:
        """After the retries, so a job just marked failed loses its file in the same sweep."""
        folder = progress_folder(self.settings.database_url)
        if folder is None:
            return
        jobs = files_of(folder)
        if not jobs:
            return
        # A file only appears once its job is claimed (running): a job not running now never writes again
        # but for a run frozen meanwhile, whose runner removes the file itself when it wakes and stops.
        with session_scope(get_read_engine(self.settings)) as session:
            running = set(
                session.scalars(
                    select(ImportJob.id).where(ImportJob.id.in_(jobs), ImportJob.status == JobStatus.RUNNING)
                )
            )
        remove_leftovers(folder, jobs - running)  # only those read: a job claimed since may have one now
