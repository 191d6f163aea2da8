"""A thread in every consumer that tells the database it is alive (core.consumers), and says goodbye."""

from __future__ import annotations

import logging
import os
import socket

from poolimport.core.config import Settings
from poolimport.core.consumers import check_in, check_out
from poolimport.core.db import get_engine
from poolimport.core.models import utcnow
from poolimport.queue.outage import Outage
from poolimport.queue.periodic import Periodic

logger = logging.getLogger("huey.consumer.CheckIn")
MAX_BACKOFF = 5.0


class CheckIn(Periodic):
    def __init__(self, settings: Settings, database: Outage, name: str, threads: int) -> None:
        super().__init__("check-in", settings.heartbeat_interval, MAX_BACKOFF, logger, database)
        self.settings = settings
        self.name_in_database = name
        self.threads = threads
        self.started_at = utcnow()

    def tick(self) -> None:
        engine = get_engine(self.settings)
        check_in(
            engine, self.name_in_database, socket.gethostname(), os.getpid(), self.threads, self.started_at
        )

    def stop(self) -> None:
        super().stop()
        try:
            check_out(get_engine(self.settings), self.name_in_database)
        except Exception:  # leaving: the database may be the reason; three intervals tell the rest
            logger.debug("check-out failed", exc_info=True)
