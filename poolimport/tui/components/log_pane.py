"""The selected job's events, tailed live. Bounded: the oldest lines drop off past MAX_LINES."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from poolimport.core.job_queries import event_text
from poolimport.tui.components import cells

MAX_LINES = 5000


class LogPane(RichLog):
    BORDER_TITLE = "Log"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False, **kwargs)
        self.job_id: int | None = None
        self.last_event_id = 0
        self.follow = True

    def watch_job(self, job_id: int | None) -> None:
        if job_id == self.job_id:
            return
        self.job_id, self.last_event_id = job_id, 0
        self.clear()
        self._retitle()

    def toggle_follow(self) -> bool:
        self.follow = not self.follow
        self.auto_scroll = self.follow
        if self.follow:
            self.scroll_end(animate=False)
        self._retitle()
        return self.follow

    def _retitle(self) -> None:
        job = f" job #{self.job_id}" if self.job_id else ""
        self.border_title = f"Log{job}" + ("" if self.follow else " (paused: f to follow)")

    def add_events(self, job_id: int, events: list[dict[str, Any]]) -> None:
        if job_id != self.job_id:
            return
        for event in events:
            if event["id"] <= self.last_event_id:
                continue
            self.last_event_id = event["id"]
            level = event["level"]
            line = Text.assemble(
                (cells.clock(event["time"]) + " ", "dim"),
                (f"{level.upper():7} ", cells.LEVEL_STYLE.get(level, "")),
                cells.plain(event_text(event), cells.LEVEL_STYLE.get(level, "")),
            )
            self.write(line, scroll_end=self.follow)
