"""A router's pools (total, used, free, stale); enter opens the pool's addresses."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from poolimport.core.queries import PoolRow
from poolimport.tui.components import cells
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.loading_screen import LoadingScreen
from poolimport.tui.components.tui_app import tui_app


class PoolsTable(FilterTable):
    BINDINGS = [
        Binding("enter", "select_cursor", "Addresses", tooltip="the pool's addresses", id="pools.addresses")
    ]
    COLUMNS = (
        ("name", "Pool", 18),
        ("family", "IP", 2),
        ("ranges", "Ranges", 34),
        ("total", "Total", 9),
        ("used", "Used", 9),
        ("free", "Free", 9),
        ("stale", "Stale", 7),
        ("status", "Status", 11),
        ("comment", "Comment", 60),
    )
    NARROW_COLUMNS = ("name", "family", "total", "used", "free", "stale", "status")

    def show(self, pools: list[PoolRow]) -> None:
        self.show_rows(
            [
                (
                    str(p["id"]),
                    {
                        "name": cells.plain(p["name"], "bold"),
                        "family": f"v{p['family']}",
                        "ranges": cells.plain(
                            p["ranges"] + (f" /{p['prefix_length']}" if p["prefix_length"] else "")
                        ),
                        "total": cells.number(p["total"]),
                        "used": cells.number(p["used"]),
                        "free": cells.number(p["free"]),
                        "stale": cells.number(p["stale"]),
                        "status": cells.plain(p["status"] if p["expanded"] else "ranges only"),
                        "comment": cells.plain(p["comment"] or ""),
                    },
                )
                for p in pools
            ]
        )


class PoolsScreen(LoadingScreen):
    SOURCE = "pools"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="pools.back"),
        Binding("slash", "app.filter", "Filter", id="pools.filter"),
    ]

    def __init__(self, router_id: int, router_name: str) -> None:
        super().__init__()
        self.router_id, self.router_name = router_id, router_name
        self.pools: dict[str, PoolRow] = {}

    def compose(self) -> ComposeResult:
        table = PoolsTable(id="pools")
        table.border_title = cells.plain(f"Pools of {self.router_name}")
        yield from self.framed(table)

    def on_mount(self) -> None:
        data, router_id = tui_app(self).data, self.router_id
        self.fetch(lambda: data.pools(router_id), self._show)

    def _show(self, pools: list[PoolRow]) -> None:
        self.pools = {str(p["id"]): p for p in pools}
        self.query_one(PoolsTable).show(pools)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        pool = self.pools.get(str(event.row_key.value))
        if pool is not None:
            self.app.push_screen(AddressesScreen(pool["id"], pool["name"]))
