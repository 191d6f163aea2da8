"""A one-line banner for trouble that isn't one request's fault: database or queue unreachable."""

from __future__ import annotations

from textual.widgets import Static

from poolimport.tui.components import cells


class Banner(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.problems: dict[str, str] = {}
        self.display = False

    def set_problem(self, source: str, message: str | None) -> None:
        if message is None:
            self.problems.pop(source, None)
        else:
            self.problems[source] = message
        self.display = bool(self.problems)
        text = "  ".join(
            f"{source} unavailable: {message} (retrying)" for source, message in self.problems.items()
        )
        self.update(cells.plain(text))
