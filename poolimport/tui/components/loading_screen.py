"""A screen filled by one database query at a time, run off the event loop so the UI never waits on it.

A database that doesn't answer is this screen's banner, and the query is tried again until it answers;
anything else the query raises goes to the app's presenter, as for every other worker: never an exit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Header

from poolimport.tui.components.banner import Banner
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.keys_footer import KeysFooter
from poolimport.tui.components.tui_app import tui_app
from poolimport.tui.presenter import DATABASE_ERRORS, first_line

RETRY_AFTER = 2.0
T = TypeVar("T")


@dataclass(frozen=True)
class Unavailable:
    """The database didn't answer the query; why, in one line."""

    problem: str


def attempt(query: Callable[[], T]) -> T | Unavailable:
    try:
        return query()
    except DATABASE_ERRORS as exc:
        return Unavailable(first_line(exc))


class LoadingScreen(Screen[None]):
    # The banner says "<SOURCE> unavailable: ...": apart from the app's "database", so that the app's
    # poll succeeding doesn't clear this screen's trouble.
    SOURCE = "data"

    def __init__(self) -> None:
        super().__init__()
        self._retry: Timer | None = None

    def framed(self, *middle: Widget) -> ComposeResult:
        """A table screen's frame around `middle`: the header, this screen's banner, the `/` filter, the
        footer."""
        yield Header()
        yield Banner(id="banner")
        yield from middle
        yield FilterBox()
        yield KeysFooter()

    def fetch(self, query: Callable[[], T], show: Callable[[T], None]) -> None:
        """Run `query` off the event loop, then `show` its result; replaces a fetch still running."""
        if self._retry is not None:
            self._retry.stop()
            self._retry = None

        def fetched(result: T | Unavailable) -> None:
            self._fetched(result, query, show)

        # One group per screen: a newer fetch (another status, say) cancels the one it replaces.
        tui_app(self).run_core(lambda: attempt(query), fetched, group=f"fetch-{id(self)}", exclusive=True)

    def _fetched(self, result: T | Unavailable, query: Callable[[], T], show: Callable[[T], None]) -> None:
        if not self.is_attached:
            return  # closed meanwhile
        banner = self.query_one(Banner)
        if isinstance(result, Unavailable):
            # While the app's own reads say the database is away, that one line says it for this screen.
            said = None if "database" in tui_app(self).problems else result.problem
            banner.set_problem(self.SOURCE, said)
            self._retry = self.set_timer(RETRY_AFTER, lambda: self.fetch(query, show))
            return
        banner.set_problem(self.SOURCE, None)
        show(result)


class RefreshingScreen(LoadingScreen):
    """A screen read again every POLL seconds while open, so that what changes shows without a key."""

    POLL = 3.0

    def on_mount(self) -> None:
        self.read()
        self.set_interval(self.POLL, self.read)

    def read(self) -> None:
        """Fetch what the screen shows (`self.fetch(query, show)`)."""
        raise NotImplementedError
