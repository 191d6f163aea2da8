"""`?`: every key of the main screen, from the app's own bindings (so it can't drift from them)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from poolimport.tui.components import cells

# Keys that belong to widgets or screens rather than to the app's bindings.
OTHER_KEYS = (
    ("tab", "next pane (shift+tab: previous)"),
    ("↑↓ pgup", "move in a table; in the log, scrolling up pauses it"),
    ("end", "in the log: the newest line, following again"),
    ("enter", "on a router: its pools; on a pool: its addresses"),
    ("a f u s", "addresses of a pool: all, free, used, stale"),
    ("escape", "close this screen, a form or the filter; go back"),
    ("ctrl+p", "command palette: every action by name"),
)


def key_table(keys: list[tuple[str, Binding]]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1), expand=True)
    table.add_column("Key", no_wrap=True)
    table.add_column("Does", ratio=1)
    for key, binding in keys:
        if binding.description:
            table.add_row(cells.plain(key), cells.plain(binding.tooltip or binding.description, wrap=True))
    for key, does in OTHER_KEYS:
        table.add_row(cells.plain(key), cells.plain(does, wrap=True))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, keys: list[tuple[str, Binding]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "poolimport keys"
            body.border_subtitle = "↑↓ scroll · escape closes"
            yield Static(key_table(self.keys))
        yield Footer(compact=True)
