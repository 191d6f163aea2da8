"""How long an idle consumer leaves the queue unread, and so how soon a job sent to it is taken: never as
long as `import --wait` lets a queued job wait before it suspects a dropped message, whether the consumer
is `poolimport worker` or Huey's own `huey_consumer` with its defaults (10 s between reads at the most)."""

from __future__ import annotations

from typing import Any

import pytest
from huey.consumer import Consumer
from huey.consumer_options import ConsumerConfig

from poolimport.core.config import Settings
from poolimport.queue.app import make_huey
from poolimport.queue.polling import QUEUED_HINT_AFTER
from poolimport.queue.worker import consumer_options

EMPTY_READS = 200  # far more than Huey's backoff needs to reach its longest wait


class Waits:
    """A stop flag that records each wait instead of waiting: what the worker would have slept."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def wait(self, timeout: float) -> bool:
        self.seconds.append(timeout)
        return False

    def is_set(self) -> bool:
        return False


def longest_idle_wait(consumer: Consumer) -> float:
    """Each worker reads the empty queue EMPTY_READS times, as its loop does; the longest wait between."""
    longest = 0.0
    for worker, _thread in consumer.worker_threads:
        waits = Waits()
        worker.stop_flag = waits
        for _ in range(EMPTY_READS):
            worker.loop()
        assert len(waits.seconds) == EMPTY_READS  # the queue (SQLite) is polled: a wait after each read
        longest = max(longest, *waits.seconds)
    return longest


@pytest.mark.parametrize(
    "started_by",
    [
        pytest.param(lambda settings: consumer_options(settings, 2), id="poolimport worker"),
        pytest.param(lambda settings: ConsumerConfig(workers=2).values, id="huey_consumer"),
    ],
)
def test_an_idle_consumer_reads_the_queue_before_import_wait_suspects_a_dropped_message(
    settings: Settings, started_by: Any
) -> None:
    consumer = make_huey(settings).create_consumer(**started_by(settings))
    longest = longest_idle_wait(consumer)
    assert longest <= 1.0  # a job sent to an idle consumer is taken within a second
    assert 3 * longest <= QUEUED_HINT_AFTER  # what `import --wait` waits before it asks why
