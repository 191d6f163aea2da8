"""The footer: the keys that fit the terminal's width, none cut at the edge.

What matters most comes first: `?` (it lists the rest), then the focused widget's keys (the log's search
keys while the log has the focus), then the screen's, then the keys every screen has, then the palette.
Textual's footer shows every key and lets the width cut them; at 80 columns that cut the screen's own.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_ACTION = "help"
PALETTE_ACTION = "command_palette"
HELP_PLACE = 2.5  # shown after the screen's keys (rank 2), before every screen's (rank 3)
# A compact key's width beyond its key and description: the space between them, and one after.
KEY_SPACING = 2


class KeysFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True)
        self._fitted: dict[str, tuple[int, int]] = {}

    def _rank(self, node: object, binding: Binding) -> int:
        if binding.action == HELP_ACTION:
            return 0
        if binding.action == PALETTE_ACTION:
            return 4
        if node is self.app:
            return 3
        return 2 if node is self.screen else 1

    def fitting(self) -> dict[str, tuple[int, int]]:
        """The actions whose keys fit the width, each with its place: the most wanted first."""
        wanted: dict[str, tuple[int, int, int]] = {}  # action -> (rank, order, width)
        for order, (node, binding, _enabled, _tooltip) in enumerate(self.screen.active_bindings.values()):
            palette = binding.action == PALETTE_ACTION and self.show_command_palette
            if (binding.show or palette) and binding.action not in wanted:
                width = len(self.app.get_key_display(binding)) + len(binding.description) + KEY_SPACING
                wanted[binding.action] = (self._rank(node, binding), order, width)
        room, fitted = self.app.size.width, {}
        for action, (rank, order, width) in sorted(wanted.items(), key=lambda item: item[1]):
            if width <= room:
                fitted[action] = (rank, order)
                room -= width
        return fitted

    def compose(self) -> ComposeResult:
        self._fitted = self.fitting()
        keys = [
            widget
            for widget in super().compose()
            if not isinstance(widget, FooterKey) or widget.action in self._fitted
        ]
        self.styles.grid_size_columns = sum(not key.has_class("-command-palette") for key in keys)
        # The focused widget's keys lead, where the eye starts; `?` follows the screen's, before the keys
        # every screen has.
        yield from sorted(keys, key=lambda key: self._place(getattr(key, "action", "")))

    def _place(self, action: str) -> tuple[float, int]:
        rank, order = self._fitted.get(action, (5, 0))
        return (HELP_PLACE if action == HELP_ACTION else rank, order)

    def on_resize(self) -> None:
        if self.fitting() != self._fitted:
            self.call_later(self.recompose)
