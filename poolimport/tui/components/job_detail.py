"""One job in full (enter on a job): its status, whole error, origin, timings, pools, retries and log.

The same read as `poolimport job show` (core's job_detail); a live job is read again every second.
"""

from __future__ import annotations

import time

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Header, Static

from poolimport.core.jobs.queries import JobDetail, attempt_text, pool_line_text
from poolimport.core.statuses import LIVE_JOB_STATUSES
from poolimport.tui.components import cells
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.jobs_table import origin
from poolimport.tui.components.keys_footer import KeysFooter
from poolimport.tui.components.loading_screen import LoadingScreen
from poolimport.tui.components.log_pane import TAIL_EVENTS, LogPane
from poolimport.tui.components.tui_app import tui_app
from poolimport.tui.data import DetailPage

LIVE_POLL = 1.0
FINISHED_POLL = 5.0  # a finished job's retries and dismissal come from elsewhere


def _field(table: Table, name: str, value: RenderableType) -> None:
    table.add_row(Text(name, style="dim"), value)


def describe(detail: JobDetail) -> Table:
    """The job as name/value lines; a value wraps under itself, so a long error is shown whole."""
    job = detail["job"]
    table = Table.grid(padding=(0, 1))
    table.add_column(width=9, no_wrap=True)
    table.add_column(ratio=1)
    _field(table, "status", cells.status(job["status"]))
    _field(table, "router", cells.plain(job["router"], "bold"))
    if job["error"]:
        _field(table, "error", cells.error(job["error"], wrap=True))
    _field(table, "kind", cells.plain(f"{job['kind']} from {origin(job)}"))
    how = f" via {job['asked_via']}" if job["asked_via"] else ""
    _field(table, "asked by", cells.plain(f"{job['requested_by']}{how}, attempt {job['attempt']}", wrap=True))
    if job["dismissed_at"]:
        _field(table, "dismissed", cells.plain(f"{job['dismissed_at']}: out of the failed views"))
    _field(table, "worker", cells.plain(job["worker"] or "-"))
    _field(
        table,
        "times",
        cells.plain(
            f"queued {cells.clock(job['queued_at'])}, waited {cells.duration(detail['waited'])},"
            f" ran {cells.duration(detail['ran'] if job['finished_at'] else job['elapsed'])}",
            wrap=True,
        ),
    )
    _field(
        table,
        "done",
        cells.plain(
            f"{job['pools_done']}/{job['pools_total']} pools,"
            f" {job['addresses_done']:,}/{job['addresses_total']:,} addresses"
        ),
    )
    for n, line in enumerate(detail["pools"]):
        style = cells.ERROR_STYLE if line["error"] is not None else ""
        _field(table, "pools" if n == 0 else "", cells.plain(pool_line_text(line), style, wrap=True))
    if len(detail["attempts"]) > 1:
        for n, attempt in enumerate(detail["attempts"]):
            this = attempt["id"] == job["id"]
            said = (
                f"{'*' if this else ' '} {attempt_text(attempt)}, queued {cells.clock(attempt['queued_at'])}"
            )
            text = cells.plain(said, "bold" if this else "", wrap=True)
            _field(table, "retries" if n == 0 else "", text)
    return table


class JobDetailScreen(LoadingScreen):
    SOURCE = "job"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="detail.back"),
        Binding("m", "older", "Older lines", tooltip="the log's older lines", id="detail.older"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id
        self.detail: JobDetail | None = None
        self._read_at = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        body = VerticalScroll(Static(id="detail-text"), id="detail")
        body.border_title = f"Job #{self.job_id}"
        yield body
        yield LogPane(id="log")
        yield KeysFooter()

    @property
    def log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    def on_mount(self) -> None:
        self.log_pane.watch_job(self.job_id)
        self.query_one("#detail").focus()
        self._read()
        self.set_interval(LIVE_POLL, self._read_if_live)

    def _read(self) -> None:
        self._read_at = time.monotonic()
        data, job_id, log_pane = tui_app(self).data, self.job_id, self.log_pane
        after = log_pane.last_event_id if log_pane.loaded else None
        self.fetch(lambda: data.job_detail(job_id, TAIL_EVENTS, after), self._show)

    def _read_if_live(self) -> None:
        """A live job's new lines; any job's tail again once its log is sent back to the end (`end` after
        a search or `m` moved the window back); a finished job now and then, for its retries and its
        dismissal, which happen elsewhere."""
        if self.detail is not None and (
            self.detail["job"]["status"] in LIVE_JOB_STATUSES
            or not self.log_pane.loaded
            or time.monotonic() >= self._read_at + FINISHED_POLL
        ):
            self._read()

    def _show(self, page: DetailPage) -> None:
        self.detail = page.detail
        self.query_one("#detail-text", Static).update(describe(page.detail))
        log_pane = self.log_pane
        if log_pane.loaded:
            log_pane.add_events(self.job_id, page.events.events)
        else:
            log_pane.show_tail(self.job_id, page.events.events, page.events.has_older)

    @on(LogPane.OlderWanted)
    def action_older(self) -> None:
        self.log_pane.load_older()
