"""The routers pane: one row per router with its last import and utilisation."""

from __future__ import annotations

from rich.text import Text

from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.data import RouterView


def utilisation(used: int, total: int) -> Text:
    if not total:
        return Text("-", justify="right")
    return Text(f"{used / total:6.1%}", justify="right")


class RoutersTable(FilterTable):
    BORDER_TITLE = "Routers"
    COLUMNS = (
        ("name", "Router", 14),
        ("tenant", "Tenant", 10),
        ("host", "Host", 21),
        ("last", "Last import", 11),
        ("when", "When", 11),
        ("pools", "Pools", 5),
        ("addresses", "Addresses", 9),
        ("used", "Used", 9),
        ("use", "Use", 6),
        ("error", "Last error", 80),
    )
    NARROW_COLUMNS = ("name", "tenant", "last", "when", "addresses", "use", "error")

    def show(self, routers: list[RouterView]) -> None:
        self.show_rows(
            [
                (
                    str(r["id"]),
                    {
                        "name": cells.plain(r["name"], "bold"),
                        "tenant": cells.plain(r["tenant"]),
                        "host": cells.plain(f"{r['host']}:{r['port']}"),
                        "last": cells.status(r["last_job_status"]),
                        "when": cells.clock(r["last_job_at"], seconds=False),
                        "pools": cells.number(r["pools"]),
                        "addresses": cells.number(r["addresses"]),
                        "used": cells.number(r["used"]),
                        "use": utilisation(r["used"], r["addresses"]),
                        "error": cells.plain(r["last_error"] or "", "red"),
                    },
                )
                for r in routers
            ]
        )
