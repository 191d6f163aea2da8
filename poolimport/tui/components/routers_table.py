"""The routers pane: one row per router with its last import, its schedule, the age of its data and
utilisation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from poolimport.core.durations import describe_interval, describe_span
from poolimport.core.jobs.schedule import ScheduleRow
from poolimport.core.models import utcnow
from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable, Row
from poolimport.tui.data import RouterView

# A router whose data is older than its schedule allows: the `!` reads without colour (NO_COLOR), the
# style adds to it, as for a stalled job.
OVERDUE_STYLE = "bold reverse red"
# Said in the pane of an installation with no router yet: `a` goes through adding a tenant when there is
# none.
NO_ROUTERS = "No routers yet: press a to add one"


def utilisation(used: int, total: int) -> Text:
    if not total:
        return Text("-", justify="right")
    return Text(f"{used / total:6.1%}", justify="right")


def every(schedule: ScheduleRow | None) -> str:
    return describe_interval(schedule.interval) if schedule else "-"


def until_next(schedule: ScheduleRow | None, now: datetime) -> float | None:
    """Seconds until the next scheduled import; None without a schedule."""
    return (schedule.next_run_at - now).total_seconds() if schedule else None


def since_success(router: RouterView, now: datetime) -> float | None:
    """Seconds since the router's last successful import; None if it never had one."""
    success = router["last_success_at"]
    return (now - success).total_seconds() if success else None


def next_run(schedule: ScheduleRow | None, wait: float | None) -> Text:
    """When the next scheduled import is due (`wait`: until_next); a schedule backing off adds, in bold,
    how many failed in a row (`in 4m x2`)."""
    if schedule is None or wait is None:
        return Text("-")
    when = "due" if wait <= 0 else f"in {describe_span(wait)}"
    if schedule.failures:
        return Text(f"{when} x{schedule.failures}", style="bold")
    return Text(when)


def age(schedule: ScheduleRow | None, seconds: float | None, now: datetime) -> Text:
    """Time since the last successful import (`seconds`: since_success), for every router; `!` when older
    than its schedule allows (a router without one has no interval to be late against)."""
    shown = "never" if seconds is None else describe_span(seconds)
    if schedule is not None and schedule.overdue(now):
        return Text(f"!{shown}", style=cells.readable(OVERDUE_STYLE))
    return Text(shown)


class RoutersTable(FilterTable):
    BORDER_TITLE = "Routers"
    COLUMNS = (
        ("name", "Router", 14),
        ("tenant", "Tenant", 10),
        ("host", "Host", 21),
        ("last", "Last import", 11),
        ("when", "When", 11),
        ("every", "Every", 5),
        ("next", "Next", 9),
        ("age", "Age", 6),
        ("pools", "Pools", 5),
        ("addresses", "Addresses", 9),
        ("used", "Used", 9),
        ("use", "Use", 6),
        ("error", "Last error", 80),
    )
    # At 80 columns the schedule and the data's age take the place of tenant, time and counts (the
    # filter still matches those); the error is also under the pane, for the selected router.
    NARROW_COLUMNS = ("name", "last", "every", "next", "age", "use", "error")
    empty_text = ""  # until the first read, and while there are routers: nothing

    def render_line(self, y: int) -> Strip:
        """An empty table says what to do first, on its first line under the header."""
        if self.row_count == 0 and self.empty_text and y == (self.header_height if self.show_header else 0):
            text = f" {self.empty_text}"[: self.size.width].ljust(self.size.width)
            return Strip([Segment(text, self.rich_style + Style(bold=True))], self.size.width)
        return super().render_line(y)

    def show(self, routers: list[RouterView]) -> None:
        """Redrawn from the routers read, also between reads: the schedule's columns age with time."""
        empty_text = "" if routers else NO_ROUTERS
        if empty_text != self.empty_text:
            self.empty_text = empty_text
            self.refresh()
        now = utcnow()
        rows: list[tuple[str, Row]] = []
        values: dict[str, Mapping[str, object]] = {}
        for router in routers:
            key, schedule = str(router["id"]), router["schedule"]
            wait, seconds = until_next(schedule, now), since_success(router, now)
            lasting = self.built(key, router, partial(router_cells, router))
            timely = {"next": next_run(schedule, wait), "age": age(schedule, seconds, now)}
            rows.append((key, {**lasting, **timely}))
            values[key] = {"next": wait, "age": seconds}
        self.show_rows(rows, values)


def router_cells(r: RouterView) -> Row:
    """The cells that change only when the router is read again."""
    return {
        "name": cells.plain(r["name"], "bold"),
        "tenant": cells.plain(r["tenant"]),
        "host": cells.plain(f"{r['host']}:{r['port']}"),
        "last": cells.status(r["last_job_status"]),
        "when": cells.clock(r["last_job_at"], seconds=False),
        "every": every(r["schedule"]),
        "pools": cells.number(r["pools"]),
        "addresses": cells.number(r["addresses"]),
        "used": cells.number(r["used"]),
        "use": utilisation(r["used"], r["addresses"]),
        "error": cells.error(r["last_error"] or ""),
    }
