"""The routers pane: one row per router with its last import and utilisation."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable


def utilisation(used: int, total: int) -> Text:
    if not total:
        return Text("-", justify="right")
    return Text(f"{used / total:6.1%}", justify="right")


class RoutersTable(FilterTable):
    BORDER_TITLE = "Routers"
    COLUMNS = (
        ("name", "Router"),
        ("tenant", "Tenant"),
        ("host", "Host"),
        ("last", "Last import"),
        ("when", "When"),
        ("pools", "Pools"),
        ("addresses", "Addresses"),
        ("use", "Used"),
        ("error", "Last error"),
    )

    def show(self, routers: list[dict[str, Any]]) -> None:
        self.show_rows(
            [
                (
                    str(r["id"]),
                    [
                        cells.plain(r["name"], "bold"),
                        cells.plain(r["tenant"]),
                        cells.plain(f"{r['host']}:{r['port']}"),
                        cells.status(r["last_job_status"]),
                        cells.clock(r["last_job_at"]),
                        cells.number(r["pools"]),
                        cells.number(r["addresses"]),
                        utilisation(r["used"], r["addresses"]),
                        cells.plain(r["last_error"] or "", "red"),
                    ],
                )
                for r in routers
            ]
        )
