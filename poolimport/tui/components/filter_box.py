"""The `/` filter: an input that narrows one table as you type; enter keeps the filter, escape clears it.
A table that pages through the database (addresses, jobs) is searched there, not just in what it shows."""

from __future__ import annotations

from textual import events, on
from textual.widgets import Input

from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable


class FilterBox(Input):
    def __init__(self) -> None:
        super().__init__(
            placeholder="filter: type to narrow, enter to keep, escape to clear", classes="filter-box"
        )
        self.target: FilterTable | None = None
        self.display = False

    def open(self, target: FilterTable) -> None:
        self.target = target
        self.placeholder = (
            "search the database: type to search, enter to keep, escape to clear"
            if target.SEARCHES_DATABASE
            else "filter: type to narrow, enter to keep, escape to clear"
        )
        self.value = target.filter_text
        self.display = True
        self.focus()

    def close(self, keep: bool) -> None:
        self.display = False
        if self.target is None:
            return
        if not keep:
            self.target.set_filter("")
        text = self.target.filter_text
        word = "search" if self.target.SEARCHES_DATABASE else "filter"
        self.target.border_subtitle = cells.plain(f"{word}: {text}") if text else ""
        self.target.focus()

    @on(Input.Changed)
    def _narrow(self, event: Input.Changed) -> None:
        if self.target is not None:
            self.target.set_filter(event.value)

    @on(Input.Submitted)
    def _keep(self) -> None:
        self.close(keep=True)

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            self.close(keep=False)
