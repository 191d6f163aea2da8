"""The main screen: the queue's figures, routers, jobs and the selected job's live log, and the keys that
act on them.

A poll every 0.4 s reads the change marks (core/changes.py), the live jobs shown and the shown job's new
events; the whole jobs list only when the marks moved, the routers when they moved (at most once a second,
and once a minute whatever they say), and the queue's figures every 3 s while jobs are live, every 15 s
when not. An idle console on a fleet's database so reads three values a poll and redraws nothing. What to
read is taken from the widgets here, on the event loop; the reading runs in a worker (poll.py) and never
touches a widget; one poll at a time, so a slow database piles nothing up.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Header

from poolimport.core.access.tenancy import NotFound
from poolimport.core.changes import ChangeMarks
from poolimport.core.jobs.actions import Dismissed, Outcome
from poolimport.core.jobs.queries import JobFilter, JobRow
from poolimport.core.metrics import NO_CONSUMER, QueueStats
from poolimport.core.statuses import UNFINISHED_JOB_STATUSES
from poolimport.tui import command
from poolimport.tui.command import Drill
from poolimport.tui.components import cells
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.command_line import CommandLine
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.jobs_table import JOB_VIEWS, JobsTable, view_help
from poolimport.tui.components.keys_footer import KeysFooter
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.queue_line import QueueLine
from poolimport.tui.components.router_form import RouterForm, RouterFormResult
from poolimport.tui.components.routers_table import RoutersTable
from poolimport.tui.components.tenant_form import NO_TENANT_YET, TenantForm
from poolimport.tui.components.tui_app import tui_app
from poolimport.tui.data import JOBS_PAGE, ProbeResult, RouterView
from poolimport.tui.poll import PollRequest, PollResult, poll

JOBS_POLL = 1.0
JOBS_WHOLE = 30.0  # the jobs read whole whatever the marks say: ids seen before their commit (core.changes)
ROUTERS_POLL = 60.0  # a safety net: the marks say when the routers changed
ROUTERS_GAP = 1.0  # at most one read of the routers a second, however often the marks move in a sweep
ROUTERS_CLOCK = 10.0  # redrawn from what was read, for "next" and "age", which move with time
STATS_POLL = 5.0  # while jobs are live
STATS_IDLE = 15.0
# A poll still waiting after this long: the database is not answering (a hung server or a dead route
# sends no error). Well above a slow read of a fleet (the routers: 52 ms on 1,000).
POLL_STUCK = 8.0
# The help lists these keys first: the keys used most, then help and quit (the app's); the rest follow as
# declared. The footer places keys by its own rule (components.keys_footer), the same within each rank.
HELP_FIRST = ("import", "retry", "cancel", "test", "add", "edit", "help", "quit")


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
            "I",
            "import_all",
            "Import all",
            tooltip="import every router shown (under :tenant or :router, theirs only)",
            key_display="I",
            id="import_all",
        ),
        Binding(
            "R",
            "retry_all",
            "Retry all failed",
            tooltip="retry each router whose newest job failed or stalled (and isn't dismissed)",
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
            "slash",
            "app.filter",
            "Filter",
            tooltip="jobs: search the database (router, status, error); routers: filter those shown",
            key_display="/",
            id="filter",
        ),
        *(
            Binding(
                key,
                f"jobs_view('{view}')",
                f"Jobs: {view}",
                show=False,
                tooltip=view_help(view),
                id=f"jobs.{view}",
            )
            for key, view in zip("01234", JOB_VIEWS, strict=True)
        ),
        Binding(
            "m", "older", "Older", tooltip="200 older jobs; with the log focused, older lines", id="older"
        ),
        Binding("enter", "detail", "Detail", show=False, tooltip="the selected job in full", id="detail"),
        Binding(
            "colon",
            "command",
            "Command",
            show=False,  # not in the footer: at 160 columns it would push Audit and Workers out; `?` lists it
            tooltip=":job ID, :router NAME, :tenant NAME, :failed, :all, :help (tab completes)",
            key_display=":",
            # Priority: it runs as the key arrives, so the keys typed right after it (quickly, or pasted)
            # already find the line focused instead of running the screen's bindings. A focused input
            # (the `/` filter) still takes a typed `:` as text: Textual lets it consume printable keys.
            priority=True,
            id="command",
        ),
        Binding(
            "escape",
            "drill_back",
            "Back",
            show=False,
            tooltip="back out of :router, then of the rest",
            id="back",
        ),
        Binding(
            "space", "toggle_mark", "Mark", show=False, tooltip="mark or unmark the selected job", id="mark"
        ),
        Binding(
            "x",
            "dismiss_jobs",
            "Dismiss",
            show=False,
            tooltip="dismiss the marked (or the selected) failed jobs: out of the failed views and R",
            id="dismiss",
        ),
    ]
    # Keys that belong to widgets rather than to bindings, for the help.
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("tab", "next pane (shift+tab: previous)"),
        ("↑↓ pgup", "move in a table; in the log, scrolling up pauses it"),
        ("end", "in the log: the newest line, following again"),
        ("enter", "on a router: its pools; on a job: its detail; on a pool: its addresses"),
        ("a f u s", "addresses of a pool: all, free, used, stale"),
        ("escape", "close this screen, a form or the filter; go back"),
        ("r, x", "with jobs marked (space): retry, dismiss every marked job"),
        *((f":{usage}", does) for usage, does in command.USAGE),
    )
    drill = Drill()  # what the `:` commands narrowed the panes to

    def __init__(self) -> None:
        super().__init__()
        self.routers: dict[str, RouterView] = {}
        self.tenants: set[str] = set()  # as read when the `:` line last opened: tenants with no router too
        self._jobs_read = False  # until the first read of the jobs: `m` can't tell that all are shown
        self.jobs: dict[str, JobRow] = {}
        self.jobs_limit = JOBS_PAGE
        self.jobs_view = "all"  # a key of JOB_VIEWS
        self.select_job_next: int | None = None
        self._routers_due = 0.0
        self._routers_read_at = 0.0
        self._routers_marks: ChangeMarks | None = None
        self._clock_due = 0.0
        self._stats_due = 0.0
        self._stats_at = 0.0  # when they were last asked for
        self._marks: ChangeMarks | None = None  # those of the last complete read of the jobs,
        self._marks_for: tuple[int, JobFilter] | None = None  # which was of this many, so filtered,
        self._marks_at = 0.0  # at this time
        self._polling = False
        self._poll_again = False
        self._poll_started = 0.0

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield QueueLine(id="queue-line")
        yield RoutersTable(id="routers")
        yield JobsTable(id="jobs")
        yield LogPane(id="log")
        yield FilterBox()
        yield CommandLine(self._router_names, self._tenant_names)
        yield KeysFooter()

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
        """As Textual lists them (this screen's, then the app's), HELP_FIRST's first: the help reads this
        order, and the footer within each of its ranks."""
        rank = {binding_id: n for n, binding_id in enumerate(HELP_FIRST)}
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
            waited = time.monotonic() - self._poll_started
            if waited >= POLL_STUCK:  # no error may ever come: the wait itself is what to say
                tui_app(self).set_problem("database", f"not answering for {waited:.0f} s")
            return
        self._polling = True
        self._poll_again = False
        self._poll_started = time.monotonic()
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
            self._stats_at = now
            live = self._marks is None or self._marks.live_jobs
            self._stats_due = now + (STATS_POLL if live else STATS_IDLE)
        read_for = (self.jobs_limit, self._jobs_where())
        return PollRequest(
            jobs_limit=read_for[0],
            jobs_where=read_for[1],
            marks=self._marks if self._marks_for == read_for and now < self._marks_at + JOBS_WHOLE else None,
            live_shown=tuple(j["id"] for j in self.jobs.values() if j["status"] in UNFINISHED_JOB_STATUSES),
            log_job=wanted[0] if wanted else None,
            log_after=wanted[1] if wanted else None,
            routers_marks=self._routers_marks,
            routers_if_changed=now >= self._routers_read_at + ROUTERS_GAP,
            routers=routers,
            stats=stats,
        )

    def _jobs_where(self) -> JobFilter:
        drill, view = self.drill, self.jobs_view
        # The failed view is of what needs someone: a dismissed failure is set aside.
        dismissed = view != "failed"
        return JobFilter(
            self.jobs_table.filter_text, JOB_VIEWS[view], drill.router_id, drill.tenant_id, dismissed
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
        now = time.monotonic()
        if result.routers is not None:
            self._routers_marks, self._routers_read_at = result.marks, now
            self.routers = {str(r["id"]): r for r in result.routers}
            self._redrill()
        if result.routers is not None or (now >= self._clock_due and self.routers):
            self._clock_due = now + ROUTERS_CLOCK
            self.routers_table.show(self._drilled(list(self.routers.values())))
            self._describe_router()
        if result.jobs_where == self._jobs_where():  # else read for a search or view since left
            if result.settled:
                fresh = {job["id"]: job for job in result.jobs}
                self._show_jobs([fresh.get(job["id"], job) for job in self.jobs.values()])
            else:  # jobs were queued, started or ended: the figures too, soon
                self._stats_due = min(self._stats_due, self._stats_at + STATS_POLL)
                self._marks, self._marks_at = result.marks, now
                self._marks_for = (result.jobs_limit, result.jobs_where)
                self._unselectable(result.marks, result.jobs)
                self._show_jobs(result.jobs)
        log_pane = self.log_pane
        if result.log_job is not None and result.tail is not None:
            log_pane.show_tail(result.log_job, result.tail.events, result.tail.has_older)
        if result.log_job is not None and result.events is not None:
            log_pane.add_events(result.log_job, result.events)
        self._describe_job()

    def _redrill(self) -> None:
        """The router drilled into, as read: renamed, the title follows; removed, every router's jobs."""
        drill = self.drill
        if drill.router_id is None:
            return
        router = self.routers.get(str(drill.router_id))
        if router is None:
            tui_app(self).presenter.say(f"router {drill.router} is gone: every router's jobs again")
            self._set_drill(replace(drill, router_id=None, router=None))
        elif router["name"] != drill.router:
            self.drill = replace(drill, router=router["name"])
            self.jobs_table.border_title = self._jobs_title(self.jobs_table.row_count)

    def _unselectable(self, marks: ChangeMarks | None, jobs: list[JobRow]) -> None:
        """A job just queued that this read should hold but doesn't: the search, view or drill hides it.
        Said, rather than left tailed in the log while the keys act on the selected row."""
        wanted = self.select_job_next
        if wanted is None or marks is None or marks.newest_job < wanted:
            return
        if not any(job["id"] == wanted for job in jobs):
            tui_app(self).presenter.say(
                f"job #{wanted} is not in this view of the jobs: `0` or `:all` shows it"
            )
            self.select_job_next = None

    def _show_jobs(self, jobs: list[JobRow]) -> None:
        self.jobs = {str(job["id"]): job for job in jobs}
        self._jobs_read = True
        table = self.jobs_table
        table.show(jobs)
        table.border_title = self._jobs_title(len(jobs))
        if self.select_job_next is not None and str(self.select_job_next) in self.jobs:
            table.select_key(str(self.select_job_next))
            self.select_job_next = None
        following = self.log_pane.job_id
        if (following is None or str(following) not in self.jobs) and self.select_job_next is None:
            # The log shows a job of the list: not one a drill hid, nor one gone with its router.
            self._follow_job(table.selected_key if jobs else None)

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
        schedule = router and router["schedule"]
        said = [f"backing off: {schedule.failures} failed in a row"] if schedule and schedule.failures else []
        said += [router["last_error"]] if router and router["last_error"] else []
        table.border_subtitle = cells.plain("; ".join(said), "bold") if said else ""

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

    @on(FilterTable.QueryChanged, "#jobs")
    def _jobs_query_changed(self) -> None:
        self.refresh_data()

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
        """Every router shown: of the tenant drilled into, or the one router."""
        app, drill = tui_app(self), self.drill
        if drill.router_id is not None:
            router_id = drill.router_id
            app.run_core(lambda: app.data.actions().import_routers([router_id]), self._queued)
            return
        app.run_core(lambda: app.data.actions().import_all(drill.tenant_id), self._queued)

    def action_retry(self) -> None:
        if self.jobs_table.marked:
            self._retry_marked()
            return
        if (job_id := self._selected_job()) is not None:
            app = tui_app(self)
            app.run_core(lambda: app.data.actions().retry([job_id]), self._queued)

    def action_retry_all(self) -> None:
        app = tui_app(self)

        def done(outcome: Outcome) -> None:
            if not outcome.created and not outcome.refused:
                app.presenter.say("no failed or stalled jobs to retry")
            self._queued(outcome)

        where = JobFilter(router_id=self.drill.router_id, tenant_id=self.drill.tenant_id)
        app.run_core(lambda: app.data.actions().retry_all_failed(where), done)

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

    def action_jobs_view(self, view: str) -> None:
        """`0`-`4`: every job, or only failed (and stalled), running, queued or finished ones."""
        self.jobs_view = view
        self.jobs_limit = JOBS_PAGE
        self.refresh_data()

    def action_older(self) -> None:
        """`m`: older log lines when the log has focus, else the next page of older jobs."""
        if isinstance(self.focused, LogPane):
            if self.focused.older_wanted() is None:
                tui_app(self).presenter.say("the log shows this job from its first line", timeout=3)
            self._older_log()
            return
        if self._jobs_read and len(self.jobs) < self.jobs_limit:  # the last read held fewer: that is all
            tui_app(self).presenter.say("every job is shown: there are no older ones", timeout=3)
            return
        self.jobs_limit += JOBS_PAGE
        self.refresh_data()

    def _older_log(self) -> None:
        self.log_pane.load_older()

    # -- `:` commands and marks -------------------------------------------------------------------

    def _jobs_title(self, count: int) -> Text:
        """Which jobs the pane holds: of what router or tenant, in what view, how many, in what order. The
        names are anyone's: shown as they are, never read as markup."""
        table, narrowed = self.jobs_table, " · ".join(self.drill.words())
        view = "" if self.jobs_view == "all" else f"{self.jobs_view}, "
        # A sort orders the jobs read, not all of them: the title says which.
        order = f" by {table.sort_label}" if table.sort_label else " reversed" if table.sort_reverse else ""
        return cells.plain(
            f"Jobs{f' · {narrowed}' if narrowed else ''} ({view}newest {count}{order}"
            + (", m: older" if count >= self.jobs_limit else "")
            + (", esc: all" if narrowed else "")
            + ")"
        )

    def _drilled(self, routers: list[RouterView]) -> list[RouterView]:
        """The routers pane under `:tenant`: all routers are loaded, the pane shows the tenant's."""
        tenant = self.drill.tenant
        return [router for router in routers if tenant is None or router["tenant"] == tenant]

    def _router_names(self) -> list[str]:
        return [router["name"] for router in self._drilled(list(self.routers.values()))]

    def _tenant_names(self) -> set[str]:
        return self.tenants | {router["tenant"] for router in self.routers.values()}

    def _set_drill(self, drill: Drill) -> None:
        self.drill = drill
        self.routers_table.show(self._drilled(list(self.routers.values())))
        if drill.router_id is not None:
            self.routers_table.select_key(str(drill.router_id))
        self.jobs_table.border_title = self._jobs_title(self.jobs_table.row_count)
        self.refresh_data()

    def action_command(self) -> None:
        self.query_one(CommandLine).open()
        app = tui_app(self)
        app.run_core(app.data.tenants, self._tenants_read)

    def _tenants_read(self, names: list[str]) -> None:
        self.tenants = set(names)

    @on(CommandLine.Entered)
    def _command_entered(self, event: CommandLine.Entered) -> None:
        self.run_command(command.parse(event.text))

    def run_command(self, said: command.Command | command.CommandError | None) -> None:
        app = tui_app(self)
        match said:
            case command.ShowJob(job_id):
                # Read first: a job that isn't there (or is another tenant's) is a notice, not a screen.
                app.run_core(
                    lambda: app.data.check_job(job_id), lambda _: app.push_screen(JobDetailScreen(job_id))
                )
            case command.ShowRouter(name):
                self._drill_router(name)
            case command.ShowTenant(name):
                self._drill_tenant(name)
            case command.ShowFailed():
                self.action_jobs_view("failed")
            case command.ShowAll():
                self.jobs_view = "all"
                self._set_drill(Drill())
            case command.ShowHelp():
                app.presenter.say(command.HELP, timeout=12)
            case command.CommandError(message):
                app.presenter.refused(message)

    def _drill_router(self, name: str | None) -> None:
        """A router by name (by id if no name matches), among those loaded: every router of the
        operator's tenants, and none other, so another tenant's router is "no router" as one that isn't.
        No name: every router's jobs again."""
        if name is None:
            self._set_drill(replace(self.drill, router_id=None, router=None))
            return
        if not self._routers_read_at:
            tui_app(self).presenter.say("the routers are still being read: try again in a moment")
            return
        named = [router for router in self.routers.values() if router["name"] == name]
        if len(named) > 1 and self.drill.tenant is not None:
            named = [router for router in named if router["tenant"] == self.drill.tenant]
        if not named and name in self.routers:
            named = [self.routers[name]]
        if len(named) != 1:
            tenants = ", ".join(sorted(router["tenant"] for router in named))
            said = (
                f"router {name!r} is in tenants {tenants}: `:tenant NAME` first"
                if named
                else f"no router {name!r}"
            )
            app = tui_app(self)
            app.run_core(lambda: app.data.refuse(":router", NotFound(said)), lambda _: None)
            return
        router = named[0]
        same_tenant = self.drill.tenant in (None, router["tenant"])
        drill = self.drill if same_tenant else replace(self.drill, tenant_id=None, tenant=None)
        self._set_drill(replace(drill, router_id=router["id"], router=router["name"]))

    def _drill_tenant(self, name: str | None) -> None:
        """The tenant is looked up (NotFound for one outside the operator's tenants, as for one that
        isn't); a router drilled into stays if it is the tenant's. No name: every tenant's again."""
        if name is None:
            self._set_drill(replace(self.drill, tenant_id=None, tenant=None))
            return
        app = tui_app(self)
        app.run_core(lambda: app.data.tenant_id(name), lambda tenant_id: self._tenant_found(tenant_id, name))

    def _tenant_found(self, tenant_id: int, name: str) -> None:
        router = self.routers.get(str(self.drill.router_id))
        keep_router = router is not None and router["tenant"] == name
        drill = self.drill if keep_router else replace(self.drill, router_id=None, router=None)
        self._set_drill(replace(drill, tenant_id=tenant_id, tenant=name))

    def action_drill_back(self) -> None:
        """escape: out of `:router` first (back to the tenant's or every router's jobs), then out of all."""
        if self.drill.router_id is not None:
            self._set_drill(replace(self.drill, router_id=None, router=None))
        elif self.drill != Drill():
            self._set_drill(Drill())

    def action_toggle_mark(self) -> None:
        if (job_id := self._selected_job()) is not None:
            self.jobs_table.toggle_mark(str(job_id))

    def _marked(self) -> list[int]:
        return sorted(int(key) for key in self.jobs_table.marked)

    def _bulk_said(self, done: str, ids: list[int], refused: list[str]) -> None:
        """One notice for a bulk action: what was done, then what was refused and why."""
        parts = [f"{done} {', '.join(f'#{n}' for n in ids)}"] if ids else []
        parts += [f"refused: {'; '.join(refused)}"] if refused else []
        severity: SeverityLevel = "warning" if refused else "information"
        tui_app(self).presenter.say("; ".join(parts), severity, timeout=8)
        self.jobs_table.clear_marks()
        self.refresh_data()

    def _retry_marked(self) -> None:
        app, ids = tui_app(self), self._marked()

        def done(outcome: Outcome) -> None:
            for message in outcome.refused:
                if "queue unreachable" in message:
                    app.set_problem("queue", message.split("queue unreachable: ", 1)[-1])
            self._bulk_said("queued", outcome.created, outcome.refused)

        app.run_core(lambda: app.data.actions().retry(ids), done)

    def action_dismiss_jobs(self) -> None:
        ids = self._marked()
        if not ids and (job_id := self._selected_job()) is not None:
            ids = [job_id]
        if ids:
            app = tui_app(self)

            def done(outcome: Dismissed) -> None:
                self._bulk_said("dismissed", outcome.dismissed, outcome.refused)

            app.run_core(lambda: app.data.actions().dismiss(ids), done)
