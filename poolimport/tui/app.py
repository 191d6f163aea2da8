"""poolimport-tui: routers, jobs and a live log in one screen; every action is a call into core.

The app wires widgets to data. A poll every 0.4 s reads jobs and the selected job's new events, every 3 s
(and whenever a job starts or ends) the routers; the queue is checked every 5 s. Each runs in a thread
worker, so the UI never waits on the database, the queue or a router, and never more than one of each
at a time, so a slow database doesn't pile up threads.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header

from poolimport.core.access import authenticate
from poolimport.core.config import Settings, load_settings
from poolimport.core.db import get_engine
from poolimport.core.errors import PoolimportError
from poolimport.core.job_actions import Outcome
from poolimport.core.schema import ensure_current
from poolimport.core.text import one_line
from poolimport.tui.components import cells
from poolimport.tui.components.audit_screen import AuditScreen
from poolimport.tui.components.banner import DATABASE_ERRORS, Banner, first_line
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.log_pane import OLDER_EVENTS, TAIL_EVENTS, LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.router_form import RouterForm, RouterFormResult
from poolimport.tui.components.routers_table import RoutersTable
from poolimport.tui.data import JOBS_PAGE, Data

JOBS_POLL = 0.4
ROUTERS_POLL = 3.0
QUEUE_POLL = 5.0
W = TypeVar("W", bound=Widget)
# What an operator may be told "no" for: a notification that says why, never a crash.

KEYMAP_FILE = "tui-keys.toml"
# Actions about the main screen's selection: off (and out of the Footer) while another screen is on top.
MAIN_ONLY = {
    "import_router",
    "import_all",
    "retry",
    "retry_all",
    "cancel_job",
    "test_router",
    "add_router",
    "edit_router",
    "pools",
    "toggle_follow",
    "older",
}

log = logging.getLogger(__name__)


class PoolImportApp(App[None]):
    TITLE = "poolimport"
    CSS_PATH = "poolimport.tcss"
    # Footer order: what fits in 80 columns comes first; `?` lists them all. The ids name the keys in
    # $POOLIMPORT_HOME/tui-keys.toml (e.g. `import = "i,ctrl+i"`).
    BINDINGS = [
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
        Binding("question_mark", "help", "Help", tooltip="list every key", key_display="?", id="help"),
        Binding("q", "quit", "Quit", tooltip="quit", id="quit"),
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
            "slash", "filter", "Filter", tooltip="filter the focused table", key_display="/", id="filter"
        ),
        Binding(
            "m", "older", "Older", tooltip="200 older jobs; with the log focused, older lines", id="older"
        ),
        Binding("A", "audit", "Audit", tooltip="every change and refusal", key_display="A", id="audit"),
    ]

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        self.data = Data(self.settings)
        self.routers: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.jobs_limit = JOBS_PAGE
        self.select_job_next: int | None = None
        self._routers_due = 0.0
        self._queue_due = 0.0
        self._job_statuses: dict[int, str] = {}
        self.problems: dict[str, str] = {}  # the app's own trouble, shown on every screen's banner
        self._polling = False
        self._poll_again = False
        self._checking_queue = False

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield RoutersTable(id="routers")
        yield JobsTable(id="jobs")
        yield LogPane(id="log")
        yield FilterBox()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        backend = make_url(self.settings.database_url).get_backend_name()
        self.sub_title = one_line(f"{self.settings.operator} @ {backend}")
        for widget_id in ("routers", "jobs"):
            widget = self.query_one(f"#{widget_id}")
            widget.border_title = widget.BORDER_TITLE
        self.main_widget(LogPane).border_title = "Log"
        self._load_keymap()
        self.main_widget(RoutersTable).focus()
        self.refresh_data()
        self.set_interval(JOBS_POLL, self.refresh_data)

    def _load_keymap(self) -> None:
        path = self.settings.home / KEYMAP_FILE
        if not path.is_file():
            return
        try:
            with path.open("rb") as handle:
                keymap = {str(k): str(v) for k, v in tomllib.load(handle).items()}
        except (OSError, tomllib.TOMLDecodeError) as exc:
            self._tell(f"{path}: {exc}", severity="warning")
            return
        self.set_keymap(keymap)

    def main_widget(self, kind: type[W], selector: str | None = None) -> W:
        """A widget of the main screen, whichever screen is on top (pools, help, a form)."""
        main = self.screen_stack[0]
        return main.query_one(selector, kind) if selector else main.query_one(kind)

    def _main_active(self) -> bool:
        return self.screen is self.screen_stack[0] or isinstance(self.screen, CommandPalette)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in MAIN_ONLY and self.screen_stack and not self._main_active())

    def key_for(self, binding: Binding) -> str:
        """The key that runs `binding`, after the keymap."""
        keys = self._keymap.get(binding.id, "") if binding.id else ""
        if keys:
            return ", ".join(self.get_key_display(Binding(key.strip(), "")) for key in keys.split(","))
        return binding.key_display or self.get_key_display(binding)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.screen_stack[0]:
            return
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "quit":
                yield SystemCommand(
                    f"{binding.description} ({self.key_for(binding)})",
                    binding.tooltip or binding.description,
                    partial(self.run_action, binding.action),
                )

    # -- polling ---------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Start a poll unless one is running; then that one goes round once more."""
        if self._polling:
            self._poll_again = True
            return
        self._polling = True
        self._poll()
        if time.monotonic() >= self._queue_due and not self._checking_queue:
            self._queue_due = time.monotonic() + QUEUE_POLL
            self._checking_queue = True
            self._check_queue()

    # exit_on_error=False: a poll racing the app's shutdown must not turn a clean quit into a crash.
    @work(thread=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        try:
            while True:
                self._poll_again = False
                if not self._poll_once():
                    return
                if not self._poll_again:
                    return
        finally:
            self._polling = False

    def _poll_once(self) -> bool:
        if not self.screen_stack:
            return False  # the app is shutting down
        now = time.monotonic()
        wanted = self.main_widget(LogPane).wanted()  # read once: the selection may change meanwhile
        try:
            jobs = self.data.jobs(limit=self.jobs_limit)
            tail: tuple[int, list[Any], bool] | None = None
            events: tuple[int, list[Any]] | None = None
            if wanted is not None and wanted[1] is None:
                rows, has_older = self.data.event_tail(wanted[0], TAIL_EVENTS)
                tail = (wanted[0], rows, has_older)
            elif wanted is not None and wanted[1] is not None:
                events = (wanted[0], self.data.events(wanted[0], wanted[1]))
            routers = None
            if now >= self._routers_due:
                self._routers_due = now + ROUTERS_POLL
                routers = self.data.routers()
        except DATABASE_ERRORS as exc:
            self.call_from_thread(self._problem, "database", first_line(exc))
            return False
        self.call_from_thread(self._problem, "database", None)
        self.call_from_thread(self._show, jobs, tail, events, routers)
        return True

    @work(thread=True, group="queue", exit_on_error=False)
    def _check_queue(self) -> None:
        try:
            problem = self.data.queue_ok()
            if self.screen_stack:
                self.call_from_thread(self._problem, "queue", problem)
        finally:
            self._checking_queue = False

    def _problem(self, source: str, message: str | None) -> None:
        if message is None:
            self.problems.pop(source, None)
        else:
            self.problems[source] = message
        for screen in self.screen_stack:
            for banner in screen.query(Banner):
                banner.set_problem(source, message)

    def _tell(
        self, message: object, severity: SeverityLevel = "information", timeout: float | None = None
    ) -> None:
        """A notification whose text may come from a router, an operator or the database: shown literally."""
        self.notify(one_line(message), severity=severity, timeout=timeout, markup=False)

    def _show(
        self,
        jobs: list[dict[str, Any]],
        tail: tuple[int, list[dict[str, Any]], bool] | None,
        events: tuple[int, list[dict[str, Any]]] | None,
        routers: list[dict[str, Any]] | None,
    ) -> None:
        if routers is not None:
            self.routers = {str(r["id"]): r for r in routers}
            self.main_widget(RoutersTable).show(routers)
            self._describe_router()
        table = self.main_widget(JobsTable)
        statuses = {job["id"]: job["status"] for job in jobs}
        if statuses != self._job_statuses:
            self._routers_due = 0.0  # a job started or ended: the routers' last import changed
        self._job_statuses = statuses
        self.jobs = {str(job["id"]): job for job in jobs}
        table.show(jobs)
        table.border_title = f"Jobs (newest {len(jobs)}" + (
            ", m: older)" if len(jobs) >= self.jobs_limit else ")"
        )
        if self.select_job_next is not None and str(self.select_job_next) in self.jobs:
            table.select_key(str(self.select_job_next))
            self.select_job_next = None
        log_pane = self.main_widget(LogPane)
        if log_pane.job_id is None and jobs:
            self._follow_job(table.selected_key)
        if tail is not None:
            log_pane.show_tail(*tail)
        if events is not None:
            log_pane.add_events(*events)
        self._describe_job()

    def _follow_job(self, key: str | None) -> None:
        self.main_widget(LogPane).watch_job(int(key) if key else None)

    def _describe_job(self) -> None:
        """The selected job's error under the jobs pane: at 80 columns the Error column is cut short."""
        table = self.main_widget(JobsTable)
        if table.filter_text:
            return  # the subtitle shows the filter
        job = self.jobs.get(table.selected_key or "")
        table.border_subtitle = cells.plain(job["error"], "bold") if job and job["error"] else ""

    def _describe_router(self) -> None:
        table = self.main_widget(RoutersTable)
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

    @on(LogPane.OlderWanted)
    def _older_log_wanted(self) -> None:
        self._older_log()

    # -- running core calls off the event loop ---------------------------------------------------

    @work(thread=True, group="actions", exit_on_error=False)
    def run_core(
        self,
        action: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[], None] | None = None,
    ) -> None:
        """Run `action` in a thread, then `done(result)` on the event loop. Refusals and trouble become
        notifications (and banners), never a crash; `failed()` runs when there was no result."""
        try:
            result = action()
        except Exception as exc:  # a refusal, trouble or a bug must not end an operator's session
            if self.is_running:
                self.call_from_thread(self.report_failure, exc, failed)
            return
        if self.is_running:
            self.call_from_thread(done, result)

    def report_failure(self, exc: Exception, failed: Callable[[], None] | None = None) -> None:
        """Tell the operator why a core call gave no result: a refusal says why, database trouble is also
        on the banner, a bug is logged and said. Then `failed()`."""
        if isinstance(exc, PoolimportError):
            self._tell(exc, severity="warning", timeout=8)
        elif isinstance(exc, DATABASE_ERRORS):
            self._problem("database", first_line(exc))
            self._tell(f"database error: {first_line(exc)}", severity="error", timeout=8)
        else:
            log.error("TUI action failed", exc_info=exc)
            self._tell(f"unexpected error: {exc.__class__.__name__}: {exc}", severity="error", timeout=8)
        if failed is not None:
            failed()

    # -- actions ---------------------------------------------------------------------------

    def _selected_router(self) -> dict[str, Any] | None:
        router = self.routers.get(self.main_widget(RoutersTable).selected_key or "")
        if router is None:
            self._tell("no router selected", severity="warning")
        return router

    def _selected_job(self) -> int | None:
        key = self.main_widget(JobsTable).selected_key
        if key is None:
            self._tell("no job selected", severity="warning")
        return int(key) if key else None

    def _queued(self, outcome: Outcome) -> None:
        for message in outcome.refused:
            self._tell(message, severity="warning", timeout=8)
            if "queue unreachable" in message:
                self._problem("queue", one_line(message.split("queue unreachable: ", 1)[-1]))
        if outcome.created:
            self._problem("queue", None)
            newest = max(outcome.created)
            self._tell(f"queued {', '.join(f'#{n}' for n in outcome.created)}")
            self.select_job_next = newest
            self.main_widget(LogPane).watch_job(newest)
        self.refresh_data()

    def action_import_router(self) -> None:
        if router := self._selected_router():
            self.run_core(lambda: self.data.actions().import_routers([router["id"]]), self._queued)

    def action_import_all(self) -> None:
        self.run_core(lambda: self.data.actions().import_all(), self._queued)

    def action_retry(self) -> None:
        if (job_id := self._selected_job()) is not None:
            self.run_core(lambda: self.data.actions().retry([job_id]), self._queued)

    def action_retry_all(self) -> None:
        def done(outcome: Outcome) -> None:
            if not outcome.created and not outcome.refused:
                self._tell("no failed or stalled jobs to retry")
            self._queued(outcome)

        self.run_core(lambda: self.data.actions().retry_all_failed(), done)

    def action_cancel_job(self) -> None:
        if (job_id := self._selected_job()) is not None:

            def said(outcome: str) -> None:
                self._tell(f"job #{job_id} {outcome}")
                self.refresh_data()

            self.run_core(lambda: self.data.actions().cancel(job_id), said)

    def action_test_router(self) -> None:
        if router := self._selected_router():
            self._tell(f"testing {router['name']}…", timeout=2)

            def said(result: tuple[str, bool]) -> None:
                message, ok = result
                self._tell(message, severity="information" if ok else "error", timeout=8)
                self._routers_due = 0.0

            self.run_core(lambda: self.data.test_router(router["id"]), said)

    def action_add_router(self) -> None:
        def open_form(tenants: list[str]) -> None:
            if not tenants:
                self._tell("no tenants yet: add one with `poolimport tenant add NAME`", severity="warning")
                return
            self.push_screen(RouterForm(tenants), self._save_router)

        self.run_core(self.data.tenants, open_form)

    def action_edit_router(self) -> None:
        if router := self._selected_router():

            def load() -> tuple[list[str], dict[str, Any]]:
                return self.data.tenants(), self.data.router_form_values(router["id"])

            def open_form(loaded: tuple[list[str], dict[str, Any]]) -> None:
                self.push_screen(RouterForm(loaded[0], loaded[1], router["id"]), self._save_router)

            self.run_core(load, open_form)

    def _save_router(self, result: RouterFormResult | None) -> None:
        if result is None:
            return

        def saved(router_id: int) -> None:
            self._tell(f"router {result.fields.name} saved")
            self._routers_due = 0.0
            self.refresh_data()

        self.run_core(
            lambda: self.data.save_router(result.router_id, result.tenant, result.fields, result.password),
            saved,
        )

    def action_audit(self) -> None:
        self.push_screen(AuditScreen())

    def action_pools(self) -> None:
        if router := self._selected_router():
            self.push_screen(PoolsScreen(router["id"], router["name"]))

    def action_toggle_follow(self) -> None:
        following = self.main_widget(LogPane).toggle_follow()
        self._tell("log follows the job" if following else "log paused: scroll freely", timeout=2)

    def action_older(self) -> None:
        """`m`: older log lines when the log has focus, else the next page of older jobs."""
        if isinstance(self.focused, LogPane):
            if self.focused.older_wanted() is None:
                self._tell("the log shows this job from its first line", timeout=3)
            self._older_log()
            return
        self.jobs_limit += JOBS_PAGE
        self.refresh_data()

    def _older_log(self) -> None:
        log_pane = self.main_widget(LogPane)
        wanted = log_pane.older_wanted()
        if wanted is None:
            log_pane.older_done()
            return
        job_id, before = wanted
        self.run_core(
            lambda: self.data.event_tail(job_id, OLDER_EVENTS, before),
            lambda page: log_pane.prepend(job_id, *page),
            log_pane.older_done,
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen([(self.key_for(b), b) for b in self.BINDINGS if isinstance(b, Binding)]))

    # -- filter ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        """`/` on any screen: narrow its focused table (or its first one)."""
        screen = self.screen
        table = screen.focused if isinstance(screen.focused, FilterTable) else None
        table = table or next(iter(screen.query(FilterTable)), None)
        boxes = list(screen.query(FilterBox))
        if table is not None and boxes:
            boxes[0].open(table)


def main(settings: Settings | None = None) -> None:
    """`poolimport-tui` as the account running it; an SSH session passes its own settings and operator."""
    try:
        settings = settings or load_settings()
        engine = get_engine(settings)
        ensure_current(engine)
        authenticate(engine, settings.identity)
    except PoolimportError as exc:
        raise SystemExit(f"error: {exc}") from None
    except SQLAlchemyError as exc:
        raise SystemExit(f"error: database unavailable: {first_line(exc)}") from None
    PoolImportApp(settings).run()


if __name__ == "__main__":
    main()
