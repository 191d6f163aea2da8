"""poolimport-tui: routers, jobs and a live log in one screen; every action is a call into core.

The app wires widgets to data: a poll every 0.4 s (jobs and the selected job's new events) and every
3 s (routers), each in a thread worker, so the UI never waits on the database, the queue or a router.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from poolimport.core.config import ConfigError, Settings, load_settings
from poolimport.core.db import DatabaseError, get_engine
from poolimport.core.job_actions import Outcome
from poolimport.core.jobs import JobRefused
from poolimport.core.routers import InvalidInput
from poolimport.core.schema import SchemaNotReady, ensure_current
from poolimport.core.secrets import SecretError
from poolimport.core.tenancy import AccessDenied, NotFound
from poolimport.core.text import one_line
from poolimport.tui.components.banner import DATABASE_ERRORS, Banner, first_line
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.router_form import RouterForm, RouterFormResult
from poolimport.tui.components.routers_table import RoutersTable
from poolimport.tui.data import JOBS_PAGE, Data

JOBS_POLL = 0.4
W = TypeVar("W")
ROUTERS_POLL = 3.0
QUEUE_POLL = 5.0
REFUSALS = (JobRefused, AccessDenied, NotFound, InvalidInput, SecretError, ConfigError)


class PoolImportApp(App[None]):
    TITLE = "poolimport"
    CSS_PATH = "poolimport.tcss"
    # Footer order: what fits in 80 columns comes first; `?` lists them all.
    BINDINGS = [
        Binding(
            "i",
            "import_router",
            "Import",
            tooltip="queue an import of the selected router; the new job is selected and its log tailed",
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
            tooltip="cancel the selected job (a running one stops at its next batch)",
            id="cancel",
        ),
        Binding(
            "t",
            "test_router",
            "Test",
            tooltip="connect to the selected router: identity, RouterOS version, round-trip time",
            id="test",
        ),
        Binding("a", "add_router", "Add", tooltip="add a router", id="add"),
        Binding("e", "edit_router", "Edit", tooltip="edit the selected router", id="edit"),
        Binding("question_mark", "help", "Help", tooltip="this screen", key_display="?", id="help"),
        Binding("q", "quit", "Quit", tooltip="quit", id="quit"),
        Binding(
            "I",
            "import_all",
            "Import all",
            tooltip="queue an import of every router",
            key_display="I",
            id="import_all",
        ),
        Binding(
            "R",
            "retry_all",
            "Retry all failed",
            tooltip="retry the newest failed or stalled job of every router",
            key_display="R",
            id="retry_all",
        ),
        Binding(
            "p", "pools", "Pools", tooltip="the selected router's pools (also enter on a router)", id="pools"
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
        Binding("m", "older_jobs", "Older jobs", tooltip="load the next 200 older jobs", id="older_jobs"),
    ]

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        self.data = Data(self.settings)
        self.routers: dict[str, dict[str, Any]] = {}
        self.jobs_limit = JOBS_PAGE
        self.select_job_next: int | None = None
        self._routers_due = 0.0
        self._queue_due = 0.0
        self._job_statuses: dict[int, str] = {}
        self.problems: dict[str, str] = {}  # the app's own trouble, shown on every screen's banner

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
        for widget_id in ("routers", "jobs", "log"):
            widget = self.query_one(f"#{widget_id}")
            widget.border_title = widget.BORDER_TITLE  # type: ignore[attr-defined]
        self.main_widget(RoutersTable).focus()
        self.poll()
        self.set_interval(JOBS_POLL, self.poll)

    def main_widget(self, kind: type[W], selector: str | None = None) -> W:
        """A widget of the main screen, whichever screen is on top (pools, help, a form)."""
        return self.screen_stack[0].query_one(selector or kind, kind)  # type: ignore[arg-type]

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "quit":
                yield SystemCommand(
                    f"{binding.description} ({binding.key_display or binding.key})",
                    f"poolimport: {binding.description.lower()}",
                    partial(self.run_action, binding.action),
                )

    # -- polling ---------------------------------------------------------------------------

    # exit_on_error=False: a poll racing the app's shutdown must not turn a clean quit into a crash.
    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def poll(self) -> None:
        now = time.monotonic()
        if not self.screen_stack:
            return  # the app is shutting down
        log = self.main_widget(LogPane)
        try:
            jobs = self.data.jobs(limit=self.jobs_limit)
            events = self.data.events(log.job_id, log.last_event_id) if log.job_id else []
            routers = None
            if now >= self._routers_due:
                self._routers_due = now + ROUTERS_POLL
                routers = self.data.routers()
        except DATABASE_ERRORS as exc:
            self.call_from_thread(self._problem, "database", first_line(exc))
            return
        self.call_from_thread(self._problem, "database", None)
        self.call_from_thread(self._show, jobs, events, log.job_id, routers)
        if now >= self._queue_due:
            self._queue_due = now + QUEUE_POLL
            self.call_from_thread(self._problem, "queue", self.data.queue_ok())

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
        events: list[dict[str, Any]],
        events_job: int | None,
        routers: list[dict[str, Any]] | None,
    ) -> None:
        if routers is not None:
            self.routers = {str(r["id"]): r for r in routers}
            self.main_widget(RoutersTable).show(routers)
        table = self.main_widget(JobsTable)
        statuses = {job["id"]: job["status"] for job in jobs}
        if statuses != self._job_statuses:
            self._routers_due = 0.0  # a job started or ended: the routers' last import changed
        self._job_statuses = statuses
        table.show(jobs)
        table.border_title = f"Jobs (newest {len(jobs)}" + (
            ", m: older)" if len(jobs) >= self.jobs_limit else ")"
        )
        if self.select_job_next is not None and any(job["id"] == self.select_job_next for job in jobs):
            table.select_key(str(self.select_job_next))
            self.select_job_next = None
        log = self.main_widget(LogPane)
        if log.job_id is None and jobs:
            self._follow_job(table.selected_key)
        if events_job is not None:
            log.add_events(events_job, events)

    def _follow_job(self, key: str | None) -> None:
        self.main_widget(LogPane).watch_job(int(key) if key else None)

    @on(DataTable.RowHighlighted, "#jobs")
    def _job_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._follow_job(event.row_key.value)

    @on(DataTable.RowSelected, "#routers")
    def _router_chosen(self) -> None:
        self.action_pools()

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

    @work(thread=True, group="actions")
    def _act(self, action: Callable[[], Outcome | str | None], done: Callable[[Any], None]) -> None:
        """Run an action off the event loop; refusals become notifications, not crashes."""
        try:
            result = action()
        except REFUSALS as exc:
            self.call_from_thread(self._tell, exc, severity="warning")
            return
        except DATABASE_ERRORS as exc:
            self.call_from_thread(self._problem, "database", first_line(exc))
            self.call_from_thread(self._tell, f"database error: {first_line(exc)}", severity="error")
            return
        self.call_from_thread(done, result)

    def _queued(self, outcome: Outcome) -> None:
        for message in outcome.refused:
            self._tell(message, severity="warning", timeout=8)
            if "queue unreachable" in message:
                self._problem("queue", message.split("queue unreachable: ", 1)[-1])
        if outcome.created:
            self._problem("queue", None)
            newest = max(outcome.created)
            self._tell(f"queued {', '.join(f'#{n}' for n in outcome.created)}")
            self.select_job_next = newest
            self.main_widget(LogPane).watch_job(newest)
            self.poll()

    def action_import_router(self) -> None:
        if router := self._selected_router():
            self._act(lambda: self.data.actions().import_routers([router["id"]]), self._queued)

    def action_import_all(self) -> None:
        self._act(lambda: self.data.actions().import_all(), self._queued)

    def action_retry(self) -> None:
        if (job_id := self._selected_job()) is not None:
            self._act(lambda: self.data.actions().retry([job_id]), self._queued)

    def action_retry_all(self) -> None:
        self._act(lambda: self.data.actions().retry_all_failed(), self._queued)

    def action_cancel_job(self) -> None:
        if (job_id := self._selected_job()) is not None:

            def said(outcome: str) -> None:
                self._tell(f"job #{job_id} {outcome}")
                self.poll()

            self._act(lambda: self.data.actions().cancel(job_id), said)

    def action_test_router(self) -> None:
        if router := self._selected_router():
            self._tell(f"testing {router['name']}…", timeout=2)

            def said(result: tuple[str, bool]) -> None:
                message, ok = result
                self._tell(message, severity="information" if ok else "error", timeout=8)
                self._routers_due = 0.0

            self._act(lambda: self.data.test_router(router["id"]), said)

    def action_add_router(self) -> None:
        self._act(self.data.tenants, lambda tenants: self.push_screen(RouterForm(tenants), self._save_router))

    def action_edit_router(self) -> None:
        if router := self._selected_router():

            def load() -> tuple[list[str], dict[str, Any]]:
                return self.data.tenants(), self.data.router_form_values(router["id"])

            def open_form(loaded: tuple[list[str], dict[str, Any]]) -> None:
                self.push_screen(RouterForm(loaded[0], loaded[1], router["id"]), self._save_router)

            self._act(load, open_form)

    def _save_router(self, result: RouterFormResult | None) -> None:
        if result is None:
            return

        def saved(router_id: int) -> None:
            self._tell(f"router {result.fields.name} saved")
            self._routers_due = 0.0
            self.poll()

        self._act(
            lambda: self.data.save_router(result.router_id, result.tenant, result.fields, result.password),
            saved,
        )

    def action_pools(self) -> None:
        if router := self._selected_router():
            self.push_screen(PoolsScreen(router["id"], router["name"]))

    def action_toggle_follow(self) -> None:
        following = self.main_widget(LogPane).toggle_follow()
        self._tell("log follows the job" if following else "log paused: scroll freely", timeout=2)

    def action_older_jobs(self) -> None:
        self.jobs_limit += JOBS_PAGE
        self.poll()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(list(self.BINDINGS)))

    # -- filter ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        """`/` on any screen: narrow its focused table (or its first one)."""
        screen = self.screen
        table = screen.focused if isinstance(screen.focused, FilterTable) else None
        table = table or next(iter(screen.query(FilterTable)), None)
        boxes = list(screen.query(FilterBox))
        if table is not None and boxes:
            boxes[0].open(table)


def main() -> None:
    try:
        settings = load_settings()
        ensure_current(get_engine(settings))
    except (ConfigError, SchemaNotReady, DatabaseError) as exc:
        raise SystemExit(f"error: {exc}") from None
    except SQLAlchemyError as exc:
        raise SystemExit(f"error: database unavailable: {first_line(exc)}") from None
    PoolImportApp(settings).run()


if __name__ == "__main__":
    main()
