"""`?`: the keys of the screen it was opened from, as they are bound now (after the [keymap]), from the
bindings themselves so that it can't drift from them; then the keys that belong to widgets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from poolimport.tui.components import cells
from poolimport.tui.components.keys_footer import KeysFooter
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.keymap import BoundKey

# For screens that don't say which of their keys belong to widgets (HELP_KEYS).
WIDGET_KEYS = (
    ("↑↓ pgup", "move in the table"),
    ("escape", "close this screen or the filter; go back"),
)


def unfocused_log_keys(app: App[Any], screen: Screen[Any], keymap: Mapping[str, str]) -> list[BoundKey]:
    """The keys of a log on `screen` that isn't focused (they act once it is): listed all the same, so that
    `?` on the routers says how to search the log."""
    panes = [pane for pane in screen.query(LogPane) if not pane.has_focus]
    if not panes:
        return []
    found = []
    for binding in LogPane.BINDINGS:
        if not isinstance(binding, Binding) or binding.id is None:
            continue
        keys = keymap.get(binding.id, binding.key)
        display = binding.key_display if binding.id not in keymap else None
        shown = [display or app.get_key_display(Binding(key, "")) for key in keys.split(",")]
        found.append(BoundKey(", ".join(shown), binding, panes[0]))
    return found


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
        yield KeysFooter()
