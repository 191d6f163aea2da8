"""What every screen and widget relies on, whatever the app wires around it: the settings, the data its
workers read, the one presenter, the app's trouble for the banners, and `run_core`.

Core calls run off the event loop through `run_core`; whatever one raises reaches
`on_worker_state_changed`, and from there the presenter, without a call site catching it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from textual.app import App
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from poolimport.core.config import Settings
from poolimport.tui.data import Data
from poolimport.tui.presenter import Presenter

T = TypeVar("T")


class TuiApp(App[None]):
    # The app's own trouble ("database", "queue" -> why): every screen's banner watches it.
    problems: reactive[dict[str, str]] = reactive(dict)

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.data = Data(settings)
        self.presenter = Presenter(self, self.set_problem)

    def set_problem(self, source: str, message: str | None) -> None:
        problems = {name: text for name, text in self.problems.items() if name != source}
        if message is not None:
            problems[source] = message
        self.problems = problems

    def run_core(
        self,
        action: Callable[[], T],
        done: Callable[[T], object],
        failed: Callable[[], object] | None = None,
        *,
        group: str = "actions",
        exclusive: bool = False,
    ) -> Worker[None]:
        """Run `action` in a thread, then `done(result)` on the event loop. What `action` raises goes to
        the presenter (on_worker_state_changed), after `failed()`, which undoes what waited for a result."""

        async def work() -> None:
            try:
                result = await asyncio.to_thread(action)
            except Exception:
                if failed is not None:
                    failed()
                raise
            done(result)

        # The function, not a coroutine made now: a worker cancelled before it starts (at exit) leaves none.
        return self.run_worker(work, group=group, exclusive=exclusive, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # exit_on_error=False: a refusal, the database's trouble or a bug must not end an operator's session.
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.presenter.failure(event.worker.error)
