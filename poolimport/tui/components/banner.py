"""A one-line banner for trouble that isn't one request's fault: database or queue unreachable.

Every screen has one: the app's own trouble (its poll) shows on all of them, a screen's trouble (its
query) on that screen only."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from textual.widgets import Static

from poolimport.core.db import DatabaseError
from poolimport.core.text import one_line
from poolimport.tui.components import cells

# What a query may raise when the database is away, locked, or missing a table: the banner, never an exit.
DATABASE_ERRORS = (SQLAlchemyError, DatabaseError)


def first_line(exc: BaseException) -> str:
    """The driver's own first line of an error (not SQLAlchemy's wrapping), fit for one line."""
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip()
    return one_line(text.splitlines()[0] if text else type(exc).__name__)


class Banner(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.problems: dict[str, str] = {}
        self.display = False

    def on_mount(self) -> None:
        # A screen opened during trouble shows it at once, not at the next poll.
        for source, message in getattr(self.app, "problems", {}).items():
            self.set_problem(source, message)

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
