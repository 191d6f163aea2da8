"""`poolimport worker`: Huey's consumer with defaults that start an idle queue's next job quickly."""

from __future__ import annotations

import logging

from poolimport.core.config import Settings
from poolimport.queue.app import make_huey

# Huey backs off to 10 s between polls of an idle SQLite queue; half a second keeps pickup under 1 s.
SQLITE_POLLING = {"initial_delay": 0.05, "backoff": 1.1, "max_delay": 0.5}
# RedisHuey blocks on the list instead of polling; these only matter between blocking reads.
REDIS_POLLING = {"initial_delay": 0.05, "backoff": 1.1, "max_delay": 1.0}


def consumer_options(settings: Settings, workers: int) -> dict[str, object]:
    polling = REDIS_POLLING if settings.queue_url.startswith(("redis", "unix")) else SQLITE_POLLING
    return {
        "workers": workers,
        "worker_type": "thread",
        "periodic": False,
        "check_worker_health": True,
        **polling,
    }


def run_worker(settings: Settings, workers: int = 2) -> int:
    huey = make_huey(settings)
    huey.check_key()  # without it no message can be checked: the CLI says so in one line
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    consumer = huey.create_consumer(**consumer_options(settings, workers))
    consumer.run()
    return 0
