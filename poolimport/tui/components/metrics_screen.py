"""`M`: how the queue is doing (`poolimport stats`): depth, waits, throughput, the failure rate, and the
routers failing, each with its newest error; enter on one shows its jobs on the main screen.

Read again every few seconds while open, as the workers screen is; the figures are core's queue_stats,
for the operator's tenants, so they are the CLI's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from poolimport.core.durations import describe_span
from poolimport.core.metrics import QueueStats, RouterFailures
from poolimport.tui import command
from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.loading_screen import RefreshingScreen
from poolimport.tui.components.main_screen import MainScreen
from poolimport.tui.components.tui_app import tui_app

NO_FAILURES = "no router failed in the last day"


def _span(seconds: float | None) -> str:
    return "-" if seconds is None else describe_span(seconds)


def figures(stats: QueueStats) -> list[list[tuple[str, str]]]:
    """The figures as shown, a row of (label, value) pairs per line: depth, speed, the last hour."""
    rate = stats.failure_rate
    return [
        [
            ("queued", f"{stats.queued:,}"),
            ("running", f"{stats.running:,}"),
            ("stalled", f"{stats.stalled:,}"),
        ],
        [
            ("wait p50", _span(stats.wait_p50)),
            ("wait p95", _span(stats.wait_p95)),
            ("jobs/min", f"{stats.jobs_per_minute:g}"),
        ],
        [
            ("finished 1h", f"{stats.finished_hour:,}"),
            ("failed 1h", f"{stats.failed_hour:,}"),
            ("failure rate", "-" if rate is None else f"{rate:.0%}"),
        ],
        [
            ("oldest wait", _span(stats.oldest_queued_seconds)),
            ("consumers alive", f"{stats.consumers_alive:,}"),
        ],
    ]


class Figures(Static):
    """The queue's figures in a grid that fits 80 columns; `shown` is what it says, label -> value."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("…", **kwargs)  # type: ignore[arg-type]
        self.shown: dict[str, str] = {}

    def show(self, stats: QueueStats) -> None:
        rows = figures(stats)
        self.shown = {label: value for row in rows for label, value in row}
        grid = Table.grid(padding=(0, 1))
        for _ in range(3):
            grid.add_column(no_wrap=True)
            grid.add_column(justify="right", no_wrap=True, min_width=6)  # still while numbers grow
            grid.add_column(width=3)  # between pairs
        for row in rows:
            line: list[Text | str] = []
            for label, value in row:
                line += [cells.plain(label), cells.plain(value, "bold"), ""]
            grid.add_row(*line)
        self.update(grid)


def _failed_of(failed: int, finished: int, rate: float | None) -> str:
    return f"{failed}/{finished} {rate:.0%}" if rate is not None else "-"


class FailingTable(FilterTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "Jobs",
            tooltip="the router's jobs on the main screen (:router NAME)",
            id="metrics.router",
        )
    ]
    COLUMNS = (
        ("router", "Router", 14),
        ("tenant", "Tenant", 10),
        ("hour", "Failed 1h", 9),  # failed of finished, and the rate
        ("day", "Failed 1d", 9),
        ("error", "Newest error", 200),
    )

    def show(self, rows: list[RouterFailures]) -> None:
        self.show_rows(
            [
                (
                    str(row.router_id),
                    {
                        "router": cells.plain(row.router, "bold"),
                        "tenant": cells.plain(row.tenant),
                        "hour": _failed_of(row.failed_hour, row.jobs_hour, row.failure_rate_hour),
                        "day": _failed_of(row.failed_day, row.jobs_day, row.failure_rate_day),
                        "error": cells.error(row.newest_error) if row.newest_error else "-",
                    },
                )
                for row in rows
            ]
        )


class MetricsScreen(RefreshingScreen):
    SOURCE = "metrics"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", tooltip="back", id="metrics.back"),
        Binding("slash", "app.filter", "Filter", tooltip="filter the failing routers", id="metrics.filter"),
    ]
    DEFAULT_CSS = """
    MetricsScreen #figures {
        height: auto; border: round $primary 40%; border-title-color: $text; padding: 0 1;
    }
    MetricsScreen #failing {
        border: round $accent; height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, clock: Callable[[], datetime | None] = lambda: None) -> None:
        """`clock`: the moment the figures are of (None: now); pinned for the pictures in tests."""
        super().__init__()
        self.clock = clock
        self.failing: dict[str, RouterFailures] = {}

    def compose(self) -> ComposeResult:
        box = Figures(id="figures")
        box.border_title = "Queue: now, and the last hour"
        table = FailingTable(id="failing")
        table.border_title = "Failing routers: the last day, most failures first"
        yield from self.framed(box, table)

    def read(self) -> None:
        data, clock = tui_app(self).data, self.clock
        self.fetch(lambda: data.queue_stats(clock()), self._show)

    def _show(self, stats: QueueStats) -> None:
        self.query_one(Figures).show(stats)
        self.failing = {str(row.router_id): row for row in stats.failing_routers}
        table = self.query_one(FailingTable)
        table.show(stats.failing_routers)
        table.border_subtitle = "enter: its jobs" if self.failing else cells.plain(NO_FAILURES)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Back to the main screen, drilled into the router (as `:router NAME` there)."""
        row = self.failing.get(str(event.row_key.value))
        if row is None:
            return
        app = self.app
        while len(app.screen_stack) > 1:
            app.pop_screen()
        main = app.screen_stack[0]
        if isinstance(main, MainScreen):
            main.run_command(command.ShowRouter(row.router))
