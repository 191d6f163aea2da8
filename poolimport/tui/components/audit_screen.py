"""The audit: every change and refusal in the operator's tenants, newest first (`poolimport audit`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding

from poolimport.core.access.audit import AuditRow
from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.loading_screen import LoadingScreen
from poolimport.tui.components.tui_app import tui_app

OUTCOME_STYLE = {"ok": "", "refused": "bold yellow", "failed": "bold red"}


class AuditTable(FilterTable):
    COLUMNS = (
        ("at", "When", 14),
        ("who", "Who", 20),
        ("origin", "From", 16),
        ("action", "Action", 12),
        ("outcome", "Outcome", 8),
        ("subject", "On", 16),
        ("job", "Job", 6),
        ("detail", "Detail", 80),
    )
    NARROW_COLUMNS = ("at", "who", "action", "outcome", "subject", "detail")

    def show(self, rows: list[AuditRow]) -> None:
        self.show_rows(
            [
                (
                    str(row["id"]),
                    {
                        "at": cells.clock(row["at"]),
                        "who": cells.plain(
                            f"{row['actor']} as {row['acting_as']}" if row["acting_as"] else row["actor"]
                        ),
                        "origin": cells.plain(row["origin"]),
                        "action": cells.plain(row["action"]),
                        "outcome": cells.plain(row["outcome"], OUTCOME_STYLE.get(row["outcome"], "")),
                        "subject": cells.plain(row["subject"] or ""),
                        "job": f"#{row['job_id']}" if row["job_id"] else "",
                        "detail": cells.plain(row["detail"] or ""),
                    },
                )
                for row in rows
            ]
        )


class AuditScreen(LoadingScreen):
    SOURCE = "audit"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="audit.back"),
        Binding("slash", "app.filter", "Filter", id="audit.filter"),
    ]

    def compose(self) -> ComposeResult:
        table = AuditTable(id="audit")
        table.border_title = "Audit: every change and refusal, newest first"
        yield from self.framed(table)

    def on_mount(self) -> None:
        self.fetch(tui_app(self).data.audit, self.query_one(AuditTable).show)
