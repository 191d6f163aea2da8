"""A thread in every consumer that enqueues the routers whose schedule is due (core.schedule).

Every consumer ticks; only the one holding the scheduler lease enqueues, so a due router gets one job
however many consumers run. If that consumer dies, another takes the lease once it expires.
"""

from __future__ import annotations

import logging

from poolimport.core.config import Settings
from poolimport.core.db import get_engine
from poolimport.core.jobs.lifecycle import Sender
from poolimport.core.jobs.schedule import enqueue_due, hold_lease
from poolimport.queue.outage import Outage
from poolimport.queue.periodic import Periodic

logger = logging.getLogger("huey.consumer.Scheduler")

TICK = 1.0  # a due router starts within a tick or two of its time
LEASE_SECONDS = 10.0  # how long the schedule waits when the consumer holding the lease dies
MAX_BACKOFF = 5.0


class ScheduleEnqueuer(Periodic):
    def __init__(
        self, settings: Settings, send: Sender, queue: Outage, database: Outage, holder: str
    ) -> None:
        super().__init__("schedule", TICK, MAX_BACKOFF, logger, database)
        self.settings = settings
        self.send = send
        self.queue = queue
        self.holder = holder

    def tick(self) -> None:
        if self.queue.ongoing:
            return  # nothing could be sent: the schedules stay due until the queue is back
        engine = get_engine(self.settings)
        if hold_lease(engine, self.holder, LEASE_SECONDS):
            for job_id in enqueue_due(engine, self.settings, self.send):
                logger.info("job #%s queued by the schedule", job_id)
