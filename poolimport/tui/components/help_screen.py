"""`?`: the keys of the screen it was opened from, as they are bound now (after the [keymap]), from the
bindings themselves so that it can't drift from them; then the keys that belong to widgets."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from poolimport.tui.components import cells
from poolimport.tui.keymap import BoundKey

# For screens that don't say which of their keys belong to widgets (HELP_KEYS).
WIDGET_KEYS = (
    ("↑↓ pgup", "move in the table"),
    ("escape", "close this screen or the filter; go back"),
)


def key_table(keys: Sequence[BoundKey], widget_keys: Sequence[tuple[str, str]]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1), expand=True)
    table.add_column("Key", no_wrap=True)
    table.add_column("Does", ratio=1)
    for key in keys:
        table.add_row(
            cells.plain(key.keys), cells.plain(key.binding.tooltip or key.binding.description, wrap=True)
        )
    for shown, does in widget_keys:
        table.add_row(cells.plain(shown), cells.plain(does, wrap=True))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(
        self, keys: Sequence[BoundKey], widget_keys: Sequence[tuple[str, str]] = WIDGET_KEYS
    ) -> None:
        super().__init__()
        self.keys = list(keys)
        self.widget_keys = widget_keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "poolimport keys"
            body.border_subtitle = "↑↓ scroll · escape closes"
            yield Static(key_table(self.keys, self.widget_keys))
        yield Footer(compact=True)
