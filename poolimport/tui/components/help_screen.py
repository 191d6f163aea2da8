"""`?`: every key of the main screen, from the app's own bindings (so it can't drift from them)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from poolimport.tui.components import cells


def _key_table(bindings: list[BindingType]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("Key")
    table.add_column("Does")
    keys: list[tuple[str, str]] = []
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            keys.append((binding.key_display or binding.key, binding.tooltip or binding.description))
    keys += [
        ("tab / shift+tab", "move between panes"),
        ("enter", "on a router: its pools; on a pool: its addresses"),
        ("escape", "close this screen, a form or the filter"),
        ("ctrl+p", "command palette: every action by name"),
    ]
    for key, does in keys:
        table.add_row(cells.plain(key), cells.plain(does, wrap=True))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: list[BindingType]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "poolimport keys"
            yield Static(_key_table(self.bindings))
