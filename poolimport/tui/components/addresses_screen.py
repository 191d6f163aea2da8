"""One pool's addresses, a page at a time, filterable by status (a: all, f: free, u: used, s: stale)."""

from __future__ import annotations

from functools import partial

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header

from poolimport.core.queries import AddressRow
from poolimport.tui.components import cells
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.loading_screen import LoadingScreen
from poolimport.tui.components.tui_app import tui_app

PAGE = 500


class AddressesTable(FilterTable):
    COLUMNS = (
        ("address", "Address", 24),
        ("status", "Status", 6),
        ("owner", "Owner", 24),
        ("info", "Info", 60),
    )


class AddressesScreen(LoadingScreen):
    SOURCE = "addresses"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="addresses.back"),
        Binding("a", "status(None)", "All", id="addresses.all"),
        Binding("f", "status('free')", "Free", id="addresses.free"),
        Binding("u", "status('used')", "Used", id="addresses.used"),
        Binding("s", "status('stale')", "Stale", id="addresses.stale"),
        Binding("m", "more", "More", id="addresses.more"),
        Binding("slash", "app.filter", "Filter", id="addresses.filter"),
    ]

    def __init__(self, pool_id: int, pool_name: str) -> None:
        super().__init__()
        self.pool_id, self.pool_name = pool_id, pool_name
        self.status: str | None = None
        self.rows: list[AddressRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield AddressesTable(id="addresses")
        yield FilterBox()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_status(None)

    def action_status(self, status: str | None) -> None:
        self.status, self.rows = status, []
        self.load(0)

    def action_more(self) -> None:
        self.load(len(self.rows))

    def load(self, offset: int) -> None:
        data, pool_id, status = tui_app(self).data, self.pool_id, self.status
        self.fetch(lambda: data.addresses(pool_id, status, offset, PAGE), partial(self._show, status, offset))

    def _show(self, status: str | None, offset: int, page: list[AddressRow]) -> None:
        if status != self.status:
            return  # another status was chosen meanwhile
        self.rows = self.rows[:offset] + page
        table = self.query_one(AddressesTable)
        table.border_title = cells.plain(
            f"{self.pool_name}: {self.status or 'all'} addresses, {len(self.rows):,} shown"
            + (" (m: more)" if len(page) == PAGE else "")
        )
        table.show_rows(
            [
                (
                    row["address"],
                    {
                        "address": cells.plain(row["address"]),
                        "status": cells.plain(row["status"]),
                        "owner": cells.plain(row["owner"] or ""),
                        "info": cells.plain(row["info"] or ""),
                    },
                )
                for row in self.rows
            ]
        )
