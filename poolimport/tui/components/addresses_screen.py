"""One pool's addresses, a page at a time, filterable by status (a: all, f: free, u: used, s: stale).

A pool can hold a /8 or more, so everything is the database's: `/` searches the address, owner and info
of the whole pool (with the status filter), and `o`/`O` order the query (address, status, owner, info);
`m` reads the next page in that same order."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding

from poolimport.core.queries import ADDRESS_ORDERS, AddressRow
from poolimport.tui.components import cells
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
    SEARCHES_DATABASE = True
    SORTS_DATABASE = ADDRESS_ORDERS
    NATURAL_SORT = "address"


@dataclass(frozen=True)
class AddressQuery:
    """What the shown rows were read with: a page read for another query is dropped."""

    status: str | None = None
    search: str = ""
    order: str = "address"
    descending: bool = False


class AddressesScreen(LoadingScreen):
    SOURCE = "addresses"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="addresses.back"),
        Binding("a", "status(None)", "All", id="addresses.all"),
        Binding("f", "status('free')", "Free", id="addresses.free"),
        Binding("u", "status('used')", "Used", id="addresses.used"),
        Binding("s", "status('stale')", "Stale", id="addresses.stale"),
        Binding("m", "more", "More", id="addresses.more"),
        Binding(
            "slash",
            "app.filter",
            "Filter",
            tooltip="search the whole pool: address, owner, info",
            id="addresses.filter",
        ),
    ]

    def __init__(self, pool_id: int, pool_name: str) -> None:
        super().__init__()
        self.pool_id, self.pool_name = pool_id, pool_name
        self.query_now = AddressQuery()
        self.rows: list[AddressRow] = []

    @property
    def status(self) -> str | None:
        return self.query_now.status

    def compose(self) -> ComposeResult:
        yield from self.framed(AddressesTable(id="addresses"))

    def on_mount(self) -> None:
        self.action_status(None)

    def action_status(self, status: str | None) -> None:
        self._read(status)

    @on(FilterTable.QueryChanged)
    def _query_changed(self) -> None:
        self._read(self.status)

    def _read(self, status: str | None) -> None:
        table = self.query_one(AddressesTable)
        self.query_now = AddressQuery(
            status, table.filter_text, table.sort_column or "address", table.sort_reverse
        )
        self.rows = []
        self.load(0)

    def action_more(self) -> None:
        self.load(len(self.rows))

    def load(self, offset: int) -> None:
        data, pool_id, query = tui_app(self).data, self.pool_id, self.query_now

        def read() -> list[AddressRow]:
            return data.addresses(
                pool_id,
                query.status,
                offset,
                PAGE,
                search=query.search,
                order=query.order,
                descending=query.descending,
            )

        self.fetch(read, partial(self._show, query, offset))

    def _show(self, query: AddressQuery, offset: int, page: list[AddressRow]) -> None:
        if query != self.query_now:
            return  # another status, search or order was chosen meanwhile
        self.rows = self.rows[:offset] + page
        table = self.query_one(AddressesTable)
        found = f", matching {query.search!r}" if query.search else ""
        table.border_title = cells.plain(
            f"{self.pool_name}: {query.status or 'all'} addresses{found}, {len(self.rows):,} shown"
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
