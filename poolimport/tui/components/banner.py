"""A banner (a line; more where 80 columns don't hold it) for trouble that isn't one request's fault:
database or queue unreachable, jobs waiting with no consumer alive to run them, an operator not registered.

Every screen has one: the app's own trouble (its poll, the queue check) shows on all of them, a screen's
trouble (its query) on that screen only."""

from __future__ import annotations

from textual.widgets import Static

from poolimport.tui.components import cells
from poolimport.tui.components.tui_app import tui_app
from poolimport.tui.presenter import ACCESS

# Trouble that is no source being unavailable: its message is the whole sentence.
STATEMENTS = frozenset({"consumers", ACCESS})


def describe(source: str, message: str) -> str:
    return message if source in STATEMENTS else f"{source} unavailable: {message} (retrying)"


class Banner(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.problems: dict[str, str] = {}
        self.display = False

    def on_mount(self) -> None:
        # The app's trouble, from now on; a screen opened during trouble shows it at once.
        self.watch(tui_app(self), "problems", self._app_problems)

    def _app_problems(self, old: dict[str, str], new: dict[str, str]) -> None:
        for source in old.keys() - new.keys():
            self.set_problem(source, None)
        for source, message in new.items():
            self.set_problem(source, message)

    def set_problem(self, source: str, message: str | None) -> None:
        if message is None:
            self.problems.pop(source, None)
        else:
            self.problems[source] = message
        self.display = bool(self.problems)
        text = "  ".join(describe(source, message) for source, message in self.problems.items())
        self.update(cells.plain(text, wrap=True))  # at 80 columns a command to run must not be cut
