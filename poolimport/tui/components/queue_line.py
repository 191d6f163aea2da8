"""One line under the header: how the queue is doing (core's queue_stats, as `poolimport stats` says it)."""

from __future__ import annotations

from textual.widgets import Static

from poolimport.core.durations import describe_span
from poolimport.core.metrics import QueueStats
from poolimport.tui.components import cells


def summary(stats: QueueStats) -> str:
    wait = "-" if stats.wait_p95 is None else describe_span(stats.wait_p95)
    return (
        # Short words: at 80 columns two-digit figures still fit.
        f"queued {stats.queued} · running {stats.running}"
        + (f" · stalled {stats.stalled}" if stats.stalled else "")  # rare: said only when there is one
        + f" · consumers {stats.consumers_alive}"
        f" · wait p95 {wait} · {stats.jobs_per_minute:g}/min · failed 1h {stats.failed_hour}"
    )


class QueueLine(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("queue: …", **kwargs)  # type: ignore[arg-type]

    def show(self, stats: QueueStats) -> None:
        self.update(cells.plain(summary(stats), "bold" if stats.stuck else ""))
