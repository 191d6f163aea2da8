"""A screen filled by one database query at a time, run in a thread worker so the UI never waits on it.

A database error is this screen's banner, and the query is tried again until it answers; any other error
is a notification, as for the app's other core calls: never an exit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual import work
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import get_current_worker

from poolimport.tui.components.banner import DATABASE_ERRORS, Banner, first_line

RETRY_AFTER = 2.0
T = TypeVar("T")


class LoadingScreen(Screen[None]):
    # The banner says "<SOURCE> unavailable: ...": apart from the app's "database", so that the app's
    # poll succeeding doesn't clear this screen's trouble.
    SOURCE = "data"

    def __init__(self) -> None:
        super().__init__()
        self._retry: Timer | None = None

    def fetch(self, query: Callable[[], T], show: Callable[[T], None]) -> None:
        """Run `query` off the event loop, then `show` its result; replaces a fetch still running."""
        if self._retry is not None:
            self._retry.stop()
            self._retry = None
        self._run(query, show)

    @work(thread=True, exclusive=True, group="fetch")
    def _run(self, query: Callable[[], Any], show: Callable[[Any], None]) -> None:
        try:
            result = query()
        except DATABASE_ERRORS as exc:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, first_line(exc), query, show)
            return
        except Exception as exc:  # a refusal (the operator's access changed) or a bug: said, not retried
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self.app.report_failure, exc)  # type: ignore[attr-defined]
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._fetched, result, show)

    def _failed(self, problem: str, query: Callable[[], Any], show: Callable[[Any], None]) -> None:
        if not self.is_attached:
            return  # closed meanwhile
        self.query_one(Banner).set_problem(self.SOURCE, problem)
        self._retry = self.set_timer(RETRY_AFTER, lambda: self.fetch(query, show))

    def _fetched(self, result: Any, show: Callable[[Any], None]) -> None:
        if not self.is_attached:
            return
        self.query_one(Banner).set_problem(self.SOURCE, None)
        show(result)
