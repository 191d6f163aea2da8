"""The `:` prompt at the bottom of the main screen: one line, tab completes, enter runs it, escape drops it.

What the line means is command.py's; what it does is the screen's (it gets `CommandLine.Entered`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual import events, on
from textual.message import Message
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Input

from poolimport.tui.command import complete

Names = Callable[[], Iterable[str]]


class CommandSuggester(Suggester):
    """The completion shown greyed after the cursor (tab or → takes it): names as the panes know them."""

    def __init__(self, routers: Names, tenants: Names) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.routers = routers
        self.tenants = tenants

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, self.routers(), self.tenants())


class CommandLine(Input):
    # One line over the footer, as k9s has it: at 24 rows every line counts.
    DEFAULT_CSS = """
    CommandLine {
        dock: bottom;
        margin-bottom: 1;
        height: 1;
        border: none;
        padding: 0 1;
    }
    CommandLine:focus {
        border: none;
    }
    """

    class Entered(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, routers: Names, tenants: Names) -> None:
        self.names = CommandSuggester(routers, tenants)
        super().__init__(
            placeholder=":job ID · :router NAME · :tenant NAME · :failed · :all · :help (tab completes)",
            suggester=self.names,
            id="command-line",
            select_on_focus=False,
        )
        self.display = False
        self.before: Widget | None = None

    def open(self) -> None:
        self.before = self.screen.focused
        self.value = ":"  # the prompt, as k9s shows it; the parser takes the line with or without it
        self.display = True
        # At once, not at the next idle as focus() does: keys typed right after `:` (quickly, or pasted)
        # are already queued, and must reach the line, not the screen's bindings.
        self.screen.set_focus(self)
        self.cursor_position = len(self.value)

    def close(self) -> None:
        self.display = False
        self.value = ""
        if self.before is not None and self.before.is_attached:
            self.before.focus()

    @on(Input.Submitted)
    def _run(self, event: Input.Submitted) -> None:
        event.stop()
        text = self.value
        self.close()
        self.post_message(self.Entered(text))

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            self.close()
        elif event.key == "tab":
            event.stop()
            event.prevent_default()  # tab completes here; it doesn't move the focus
            # Computed now rather than the suggestion shown: that one may not have come yet.
            completed = complete(self.value, self.names.routers(), self.names.tenants())
            if completed is not None:
                self.value = completed
                self.cursor_position = len(self.value)
