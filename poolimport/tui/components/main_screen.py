"""The main screen: the queue's figures, routers, jobs and the selected job's live log, and the keys that
act on them.

A poll every 0.4 s reads the jobs and the shown job's new events, every 3 s (and whenever a job starts or
ends) the routers too, and every 3 s the queue's figures. What to read is taken from the widgets here, on
the event loop; the reading runs in a worker (poll.py) and never touches a widget; one poll at a time, so
a slow database piles nothing up.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from poolimport.core.jobs.actions import Outcome
from poolimport.core.jobs.queries import JobRow
from poolimport.core.metrics import NO_CONSUMER, QueueStats
from poolimport.tui.components import cells
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.queue_line import QueueLine
from poolimport.tui.components.router_form import RouterForm, RouterFormResult
from poolimport.tui.components.routers_table import RoutersTable
from poolimport.tui.components.tenant_form import NO_TENANT_YET, TenantForm
from poolimport.tui.components.tui_app import tui_app
from poolimport.tui.data import JOBS_PAGE, ProbeResult, RouterView
from poolimport.tui.poll import PollRequest, PollResult, poll

JOBS_POLL = 0.4
ROUTERS_POLL = 3.0
STATS_POLL = 3.0
# The footer shows what fits, in this order: at 80 columns, the keys used most, then help and quit (the
# app's); the rest follow as declared.
FOOTER_FIRST = ("import", "retry", "cancel", "test", "add", "edit", "help", "quit")


class MainScreen(Screen[None]):
    # The ids name the keys in config.toml's [keymap] table (README, "Settings").
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "i",
            "import_router",
            "Import",
            tooltip="import the selected router; its new job is selected and tailed",
            id="import",
        ),
        Binding(
            "r",
            "retry",
            "Retry",
            tooltip="retry the selected failed, partial, stalled or cancelled job",
            id="retry",
        ),
        Binding(
            "c",
            "cancel_job",
            "Cancel",
            tooltip="cancel the selected job (a running one: at its next batch)",
            id="cancel",
        ),
        Binding("t", "test_router", "Test", tooltip="test the selected router's connection", id="test"),
        Binding("a", "add_router", "Add", tooltip="add a router", id="add"),
        Binding("e", "edit_router", "Edit", tooltip="edit the selected router", id="edit"),
        Binding(
            "I", "import_all", "Import all", tooltip="import every router", key_display="I", id="import_all"
        ),
        Binding(
            "R",
            "retry_all",
            "Retry all failed",
            tooltip="retry each router's newest failed or stalled job",
            key_display="R",
            id="retry_all",
        ),
        Binding(
            "p", "pools", "Pools", tooltip="the selected router's pools (also: enter on a router)", id="pools"
        ),
        Binding(
            "f",
            "toggle_follow",
            "Follow log",
            tooltip="follow the log, or pause it to scroll back",
            id="follow",
        ),
        Binding(
            "slash", "app.filter", "Filter", tooltip="filter the focused table", key_display="/", id="filter"
        ),
        Binding(
            "m", "older", "Older", tooltip="200 older jobs; with the log focused, older lines", id="older"
        ),
        Binding("enter", "detail", "Detail", show=False, tooltip="the selected job in full", id="detail"),
    ]
    # Keys that belong to widgets rather than to bindings, for the help.
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("tab", "next pane (shift+tab: previous)"),
        ("↑↓ pgup", "move in a table; in the log, scrolling up pauses it"),
        ("end", "in the log: the newest line, following again"),
        ("enter", "on a router: its pools; on a job: its detail; on a pool: its addresses"),
        ("a f u s", "addresses of a pool: all, free, used, stale"),
        ("escape", "close this screen, a form or the filter; go back"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.routers: dict[str, RouterView] = {}
        self.jobs: dict[str, JobRow] = {}
        self.jobs_limit = JOBS_PAGE
        self.select_job_next: int | None = None
        self._routers_due = 0.0
        self._stats_due = 0.0
        self._job_statuses: dict[int, str] = {}
        self._polling = False
        self._poll_again = False

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield QueueLine(id="queue-line")
        yield RoutersTable(id="routers")
        yield JobsTable(id="jobs")
        yield LogPane(id="log")
        yield FilterBox()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for table in (self.routers_table, self.jobs_table):
            table.border_title = table.BORDER_TITLE
        self.log_pane.border_title = "Log"
        self.routers_table.focus()
        self.refresh_data()
        self.set_interval(JOBS_POLL, self.refresh_data)

    @property
    def routers_table(self) -> RoutersTable:
        return self.query_one(RoutersTable)

    @property
    def jobs_table(self) -> JobsTable:
        return self.query_one(JobsTable)

    @property
    def log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """As Textual lists them (this screen's, then the app's), FOOTER_FIRST's first: the footer and the
        help read this order."""
        rank = {binding_id: n for n, binding_id in enumerate(FOOTER_FIRST)}
        return dict(
            sorted(
                super().active_bindings.items(),
                key=lambda item: rank.get(item[1].binding.id or "", len(rank)),
            )
        )

    # -- polling ---------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Start a poll unless one is running; then that one goes round once more."""
        if self._polling:
            self._poll_again = True
            return
        self._polling = True
        self._poll_again = False
        app = tui_app(self)
        request = self._poll_request()
        app.run_core(lambda: poll(app.data, request), self._polled, self._poll_ended, group="poll")

    def _poll_request(self) -> PollRequest:
        """What the next poll reads, from what the screen shows now."""
        wanted = self.log_pane.wanted()
        now = time.monotonic()
        routers = now >= self._routers_due
        if routers:
            self._routers_due = now + ROUTERS_POLL
        stats = now >= self._stats_due
        if stats:
            self._stats_due = now + STATS_POLL
        return PollRequest(
            jobs_limit=self.jobs_limit,
            log_job=wanted[0] if wanted else None,
            log_after=wanted[1] if wanted else None,
            routers=routers,
            stats=stats,
        )

    def _poll_ended(self) -> None:
        self._polling = False

    def _polled(self, result: PollResult) -> None:
        self._poll_ended()
        tui_app(self).set_problem("database", result.problem)
        if result.problem is not None:
            return
        self._show(result)
        if self._poll_again:
            self.refresh_data()

    def _show(self, result: PollResult) -> None:
        if result.stats is not None:
            self._show_stats(result.stats)
        if result.routers is not None:
            self.routers = {str(r["id"]): r for r in result.routers}
            self.routers_table.show(result.routers)
            self._describe_router()
        jobs = result.jobs
        statuses = {job["id"]: job["status"] for job in jobs}
        if statuses != self._job_statuses:
            self._routers_due = 0.0  # a job started or ended: the routers' last import changed
        self._job_statuses = statuses
        self.jobs = {str(job["id"]): job for job in jobs}
        table = self.jobs_table
        table.show(jobs)
        table.border_title = f"Jobs (newest {len(jobs)}" + (
            ", m: older)" if len(jobs) >= self.jobs_limit else ")"
        )
        if self.select_job_next is not None and str(self.select_job_next) in self.jobs:
            table.select_key(str(self.select_job_next))
            self.select_job_next = None
        log_pane = self.log_pane
        if log_pane.job_id is None and jobs:
            self._follow_job(table.selected_key)
        if result.log_job is not None and result.tail is not None:
            log_pane.show_tail(result.log_job, result.tail.events, result.tail.has_older)
        if result.log_job is not None and result.events is not None:
            log_pane.add_events(result.log_job, result.events)
        self._describe_job()

    def _show_stats(self, stats: QueueStats) -> None:
        self.query_one(QueueLine).show(stats)
        # The app's trouble, so that every screen's banner says it, and it goes when a consumer checks in.
        tui_app(self).set_problem("consumers", NO_CONSUMER if stats.stuck else None)

    def _follow_job(self, key: str | None) -> None:
        self.log_pane.watch_job(int(key) if key else None)

    def _describe_job(self) -> None:
        """The selected job's error under the jobs pane: at 80 columns the Error column is cut short."""
        table = self.jobs_table
        if table.filter_text:
            return  # the subtitle shows the filter
        job = self.jobs.get(table.selected_key or "")
        table.border_subtitle = cells.plain(job["error"], "bold") if job and job["error"] else ""

    def _describe_router(self) -> None:
        table = self.routers_table
        if table.filter_text:
            return
        router = self.routers.get(table.selected_key or "")
        error = router and router["last_error"]
        table.border_subtitle = cells.plain(error, "bold") if error else ""

    @on(DataTable.RowHighlighted, "#jobs")
    def _job_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._follow_job(event.row_key.value)
        self._describe_job()

    @on(DataTable.RowHighlighted, "#routers")
    def _router_highlighted(self) -> None:
        self._describe_router()

    @on(DataTable.RowSelected, "#routers")
    def _router_chosen(self) -> None:
        self.action_pools()

    @on(DataTable.RowSelected, "#jobs")
    def _job_chosen(self) -> None:
        self.action_detail()

    @on(LogPane.OlderWanted)
    def _older_log_wanted(self) -> None:
        self._older_log()

    # -- actions ---------------------------------------------------------------------------------

    def _selected_router(self) -> RouterView | None:
        router = self.routers.get(self.routers_table.selected_key or "")
        if router is None:
            tui_app(self).presenter.refused("no router selected")
        return router

    def _selected_job(self) -> int | None:
        key = self.jobs_table.selected_key
        if key is None:
            tui_app(self).presenter.refused("no job selected")
        return int(key) if key else None

    def _queued(self, outcome: Outcome) -> None:
        app = tui_app(self)
        for message in outcome.refused:
            app.presenter.refused(message)
            if "queue unreachable" in message:
                app.set_problem("queue", message.split("queue unreachable: ", 1)[-1])
        if outcome.created:
            app.set_problem("queue", None)
            newest = max(outcome.created)
            app.presenter.say(f"queued {', '.join(f'#{n}' for n in outcome.created)}")
            self.select_job_next = newest
            self.log_pane.watch_job(newest)
        self.refresh_data()

    def action_import_router(self) -> None:
        if router := self._selected_router():
            app, router_id = tui_app(self), router["id"]
            app.run_core(lambda: app.data.actions().import_routers([router_id]), self._queued)

    def action_import_all(self) -> None:
        app = tui_app(self)
        app.run_core(lambda: app.data.actions().import_all(), self._queued)

    def action_retry(self) -> None:
        if (job_id := self._selected_job()) is not None:
            app = tui_app(self)
            app.run_core(lambda: app.data.actions().retry([job_id]), self._queued)

    def action_retry_all(self) -> None:
        app = tui_app(self)

        def done(outcome: Outcome) -> None:
            if not outcome.created and not outcome.refused:
                app.presenter.say("no failed or stalled jobs to retry")
            self._queued(outcome)

        app.run_core(lambda: app.data.actions().retry_all_failed(), done)

    def action_cancel_job(self) -> None:
        if (job_id := self._selected_job()) is not None:
            app = tui_app(self)

            def said(outcome: str) -> None:
                app.presenter.say(f"job #{job_id} {outcome}")
                self.refresh_data()

            app.run_core(lambda: app.data.actions().cancel(job_id), said)

    def action_test_router(self) -> None:
        if router := self._selected_router():
            app, router_id = tui_app(self), router["id"]
            app.presenter.say(f"testing {router['name']}…", timeout=2)

            def said(result: ProbeResult) -> None:
                app.presenter.say(result.message, "information" if result.ok else "error", timeout=8)
                self._routers_due = 0.0

            app.run_core(lambda: app.data.test_router(router_id), said)

    def action_add_router(self) -> None:
        app = tui_app(self)

        def open_form(tenants: list[str]) -> None:
            if tenants:
                app.push_screen(RouterForm(tenants), self._save_router)
                return

            def tenant_added(name: str | None) -> None:  # then the router, in the tenant just added
                if name is not None:
                    app.push_screen(RouterForm([name]), self._save_router)

            app.push_screen(TenantForm(NO_TENANT_YET), tenant_added)

        app.run_core(app.data.tenants, open_form)

    def action_edit_router(self) -> None:
        if router := self._selected_router():
            app, router_id = tui_app(self), router["id"]

            def open_form(loaded: tuple[list[str], dict[str, Any]]) -> None:
                tenants, values = loaded
                app.push_screen(RouterForm(tenants, values, router_id), self._save_router)

            app.run_core(lambda: (app.data.tenants(), app.data.router_form_values(router_id)), open_form)

    def _save_router(self, result: RouterFormResult | None) -> None:
        """The form has saved it (and said any refusal itself)."""
        if result is None:
            return
        tui_app(self).presenter.say(f"router {result.fields.name} saved")
        self._routers_due = 0.0
        self.refresh_data()

    def action_pools(self) -> None:
        if router := self._selected_router():
            tui_app(self).push_screen(PoolsScreen(router["id"], router["name"]))

    def action_detail(self) -> None:
        if (job_id := self._selected_job()) is not None:
            tui_app(self).push_screen(JobDetailScreen(job_id))

    def action_toggle_follow(self) -> None:
        following = self.log_pane.toggle_follow()
        tui_app(self).presenter.say(
            "log follows the job" if following else "log paused: scroll freely", timeout=2
        )

    def action_older(self) -> None:
        """`m`: older log lines when the log has focus, else the next page of older jobs."""
        if isinstance(self.focused, LogPane):
            if self.focused.older_wanted() is None:
                tui_app(self).presenter.say("the log shows this job from its first line", timeout=3)
            self._older_log()
            return
        self.jobs_limit += JOBS_PAGE
        self.refresh_data()

    def _older_log(self) -> None:
        self.log_pane.load_older()
