"""poolimport-tui: routers, jobs and a live log (components/main_screen.py), and the screens it opens.

The app wires them together on TuiApp (base.py: settings, data, the presenter, run_core): the main screen,
the keys that work on every screen, config.toml's [keymap] (keymap.py), and a check of the queue every
5 s, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from poolimport.core.access.gate import authenticate
from poolimport.core.access.tenancy import NotRegistered
from poolimport.core.config import Settings, load_settings
from poolimport.core.db import get_engine
from poolimport.core.errors import PoolimportError
from poolimport.core.schema import ensure_current
from poolimport.core.text import one_line
from poolimport.tui.base import TuiApp
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.audit_screen import AuditScreen
from poolimport.tui.components.events_screen import EventsScreen
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.help_screen import WIDGET_KEYS, HelpScreen, unfocused_log_keys
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.components.main_screen import MainScreen
from poolimport.tui.components.metrics_screen import FailingTable, MetricsScreen
from poolimport.tui.components.pools_screen import PoolsScreen, PoolsTable
from poolimport.tui.components.router_form import RouterForm
from poolimport.tui.components.tenant_form import TenantForm
from poolimport.tui.components.workers_screen import WorkersScreen
from poolimport.tui.keymap import binding_ids, bound_keys, taken_keys, unknown_ids
from poolimport.tui.presenter import ACCESS, first_line, unregistered

QUEUE_POLL = 5.0
# Whatever declares bindings: the ids a [keymap] entry may name.
KEYMAP_OWNERS = (
    MainScreen,
    FilterTable,
    PoolsScreen,
    PoolsTable,
    AddressesScreen,
    AuditScreen,
    WorkersScreen,
    MetricsScreen,
    FailingTable,
    HelpScreen,
    RouterForm,
    TenantForm,
    JobDetailScreen,
    LogPane,
    EventsScreen,
)


class PoolImportApp(TuiApp):
    TITLE = "poolimport"
    CSS_PATH = "poolimport.tcss"
    # The keys of every screen (a screen's own come first, and may take one: `q` is "back" on the pools
    # screen). The ids name the keys in config.toml's [keymap] table.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "question_mark", "help", "Help", tooltip="list this screen's keys", key_display="?", id="help"
        ),
        Binding("q", "quit", "Quit", tooltip="quit", id="quit"),
        Binding("A", "audit", "Audit", tooltip="every change and refusal", key_display="A", id="audit"),
        Binding(
            "W",
            "workers",
            "Workers",
            tooltip="the consumers: alive or gone, threads, what each runs",
            key_display="W",
            id="workers",
        ),
        Binding(
            "M",
            "metrics",
            "Metrics",
            show=False,  # as L: no room in the footer at 80 columns; `?` lists it
            tooltip="the queue's figures and the failing routers, as `poolimport stats`",
            key_display="M",
            id="metrics",
        ),
        Binding(
            "L",
            "events",
            "Events",
            show=False,  # the footer at 80 columns has no room left; `?` lists it
            tooltip="every job's events as they come; enter opens a line's job",
            key_display="L",
            id="events",
        ),
        Binding(
            "T",
            "add_tenant",
            "Add tenant",
            tooltip="add a tenant (administrators)",
            key_display="T",
            id="add_tenant",
        ),
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            show=False,
            priority=True,
            tooltip="command palette: every action by name",
            id="palette",
        ),
    ]

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or load_settings()
        # The jobs started here say they came from the TUI (and, over SSH, with which key).
        super().__init__(replace(settings, identity=replace(settings.identity, client="TUI")))
        self.main_screen = MainScreen()
        self._checking_queue = False

    def get_default_screen(self) -> MainScreen:
        return self.main_screen

    def on_mount(self) -> None:
        backend = make_url(self.settings.database_url).get_backend_name()
        self.sub_title = one_line(f"{self.settings.operator} @ {backend}")
        self._apply_keymap()
        self.check_queue()
        self.set_interval(QUEUE_POLL, self.check_queue)
        self.set_interval(QUEUE_POLL, self.check_access)

    def check_queue(self) -> None:
        if self._checking_queue:
            return
        self._checking_queue = True

        def checked() -> None:
            self._checking_queue = False

        def done(problem: str | None) -> None:
            checked()
            self.set_problem("queue", problem)

        self.run_core(self.data.queue_problem, done, checked, group="queue")

    def check_access(self) -> None:
        """While the banner says the operator isn't registered: whether an administrator has since
        registered them (a refusal again keeps the banner, through the presenter)."""
        if ACCESS in self.problems:
            self.run_core(
                self.data.check_registered, lambda _: self.set_problem(ACCESS, None), group="access"
            )

    # -- keys --------------------------------------------------------------------------------------

    def _apply_keymap(self) -> None:
        """config.toml's [keymap]; what can't be applied as written is said in one notice each."""
        keymap = dict(self.settings.keymap)
        owners = (type(self), *KEYMAP_OWNERS)
        where = f"[keymap] in {self.settings.home / 'config.toml'}"
        if unknown := unknown_ids(keymap, binding_ids(owners)):
            self.presenter.refused(
                f"{where}: no key has the id {', '.join(unknown)} (README, Settings, lists the ids);"
                " the others apply"
            )
        keymap = {binding_id: keys for binding_id, keys in keymap.items() if binding_id not in unknown}
        if taken := taken_keys(keymap, type(self), KEYMAP_OWNERS):
            self.presenter.refused(f"{where} takes keys other bindings had: {', '.join(taken)}")
        self.set_keymap(keymap)

    def action_help(self) -> None:
        """`?`: the keys of the screen it is pressed on."""
        screen = self.screen
        keys = bound_keys(self, screen) + unfocused_log_keys(self, screen, dict(self.settings.keymap))
        self.push_screen(HelpScreen(keys, getattr(screen, "HELP_KEYS", WIDGET_KEYS)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in bound_keys(self, screen):
            if key.binding.id not in ("quit", "palette"):  # Textual lists quit; the palette is open
                yield SystemCommand(
                    f"{key.binding.description} ({key.keys})",
                    key.binding.tooltip or key.binding.description,
                    partial(self.run_action, key.binding.action, key.node),
                )

    def action_add_tenant(self) -> None:
        """`T`: anyone but an administrator is refused before being asked for a name."""
        self.run_core(self.data.check_may_add_tenant, lambda _: self.push_screen(TenantForm()))

    def action_audit(self) -> None:
        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen())

    def action_events(self) -> None:
        if not isinstance(self.screen, EventsScreen):
            self.push_screen(EventsScreen())

    def action_workers(self) -> None:
        if not isinstance(self.screen, WorkersScreen):
            self.push_screen(WorkersScreen())

    def action_metrics(self) -> None:
        if not isinstance(self.screen, MetricsScreen):
            self.push_screen(MetricsScreen())

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
    except NotRegistered as exc:
        raise SystemExit(f"error: {unregistered(exc)}") from None
    except PoolimportError as exc:
        raise SystemExit(f"error: {exc}") from None
    except SQLAlchemyError as exc:
        raise SystemExit(f"error: database unavailable: {first_line(exc)}") from None
    app = PoolImportApp(settings)
    app.run()
    raise SystemExit(app.return_code or 0)  # not 0 after a crash


if __name__ == "__main__":
    main()
