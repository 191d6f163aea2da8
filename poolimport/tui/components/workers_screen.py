"""`W`: the consumers, alive first (`poolimport workers`): threads, since when, last seen, what each runs.

Read again every few seconds while open, so a consumer checking in or going away shows without a key."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from poolimport.core.consumers import ConsumerRow
from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.loading_screen import RefreshingScreen
from poolimport.tui.components.tui_app import tui_app

EMPTY = "no consumer has checked in: start one with `poolimport worker`"


class WorkersTable(FilterTable):
    COLUMNS = (
        ("name", "Consumer", 24),
        ("state", "State", 5),
        ("threads", "Threads", 7),
        ("since", "Since", 14),
        ("seen", "Last seen", 14),
        ("running", "Running jobs", 60),
    )
    NARROW_COLUMNS = ("name", "state", "seen", "running")  # at 80 columns: what each runs, not its start

    def show(self, rows: list[ConsumerRow]) -> None:
        self.show_rows(
            [
                (
                    row.name,
                    {
                        "name": cells.plain(row.name, "bold"),
                        # A word first: it reads without colour.
                        "state": cells.plain("alive") if row.alive else cells.plain("gone", "bold reverse"),
                        "threads": cells.number(row.threads),
                        "since": cells.clock(row.started_at),
                        "seen": cells.clock(row.seen_at),
                        "running": cells.plain(", ".join(f"#{job}" for job in row.running) or "-"),
                    },
                )
                for row in rows
            ]
        )


class WorkersScreen(RefreshingScreen):
    SOURCE = "workers"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="workers.back"),
        Binding("slash", "app.filter", "Filter", id="workers.filter"),
    ]

    def compose(self) -> ComposeResult:
        table = WorkersTable(id="workers")
        table.border_title = "Consumers: alive first"
        yield from self.framed(table)

    def read(self) -> None:
        self.fetch(tui_app(self).data.consumers, self._show)

    def _show(self, rows: list[ConsumerRow]) -> None:
        table = self.query_one(WorkersTable)
        table.show(rows)
        table.border_subtitle = "" if rows else cells.plain(EMPTY)
