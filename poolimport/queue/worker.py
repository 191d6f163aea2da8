"""`poolimport worker`: Huey's consumer with defaults that start an idle queue's next job quickly."""

from __future__ import annotations

import logging

from poolimport.core.config import Settings
from poolimport.queue.app import make_huey
from poolimport.queue.polling import polling


def consumer_options(settings: Settings, workers: int) -> dict[str, object]:
    return {
        "workers": workers,
        "worker_type": "thread",
        "periodic": False,
        "check_worker_health": True,
        **polling(blocking=settings.queue_url.startswith(("redis", "unix"))),
    }


def run_worker(settings: Settings, workers: int = 2) -> int:
    huey = make_huey(settings)
    huey.check_key()  # without it no message can be checked: the CLI says so in one line
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    consumer = huey.create_consumer(**consumer_options(settings, workers))
    consumer.run()
    return 0
