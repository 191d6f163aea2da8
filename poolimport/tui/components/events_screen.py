"""`L`: every job's events at once, in the operator's tenants, as they come (newest at the bottom).

Each line says its job and router. A marked line follows the newest while the pane follows; ↑/↓ move it
(moving up pauses, as scrolling back does in a job's log; `end` follows again), and enter opens its job.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Header

from poolimport.core.jobs.queries import EventRow, FeedRow
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.keys_footer import KeysFooter
from poolimport.tui.components.loading_screen import LoadingScreen
from poolimport.tui.components.log_pane import LogEntry, LogPane, log_entry
from poolimport.tui.components.tui_app import tui_app

FEED_POLL = 0.5
FEED_TAIL = 500  # read when the screen opens
FEED_PAGE = 1000  # read per poll at most; a burst larger than that comes over the next polls
# Read again behind the newest shown: on PostgreSQL ids are taken at insert and seen at commit, so one
# job's event may commit after another job's newer one was shown.
LATE_IDS = 200
EVERY_JOB = 0  # the pane's "job": LogPane keeps one job's window, this one keeps every job's
# A job's log keys (search, jumps) have no meaning across every job.
JOB_LOG_ACTIONS = {"search", "next_match", "previous_match", "next_notable", "previous_notable"}


class FeedPane(LogPane):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jobs: dict[int, int] = {}  # event id -> job id

    def on_mount(self) -> None:
        self.watch_job(EVERY_JOB)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in JOB_LOG_ACTIONS

    def entry(self, event: EventRow) -> LogEntry:
        row = cast(FeedRow, event)  # the feed's events carry their job and router
        self._jobs[row["id"]] = row["job_id"]
        return log_entry(event, f"#{row['job_id']} {row['router']}: ")

    def fresh(self, events: list[EventRow]) -> list[EventRow]:
        """Those not shown yet, whatever their ids: every job's events don't commit in the order of their
        ids (EventsScreen reads a little behind the newest it shows)."""
        return [event for event in events if event["id"] not in self._jobs]

    def job_of(self, event_id: int | None) -> int | None:
        return None if event_id is None else self._jobs.get(event_id)

    def add_events(self, job_id: int, events: list[EventRow]) -> None:
        super().add_events(job_id, events)
        if len(self._jobs) > 2 * len(self._entries):  # forget the jobs of lines dropped off the top
            kept = set(self.event_ids)
            self._jobs = {event: job for event, job in self._jobs.items() if event in kept}
        if self.follow and self._entries:
            self._mark(len(self._entries) - 1)

    def show_tail(self, job_id: int, events: list[EventRow], has_older: bool) -> None:
        super().show_tail(job_id, events, has_older=False)  # no paging back: the audit of a job is its log
        if self._entries:
            self._mark(len(self._entries) - 1)

    def resume(self) -> None:
        super().resume()
        if self._entries:
            self._mark(len(self._entries) - 1)

    def _retitle(self) -> None:
        title = "Events of every job"
        if not self.follow:
            title += " (paused: end to follow)"
        self.border_title = title

    def _move(self, by: int) -> None:
        if not self._entries:
            return
        index = self._index_of(self.mark) if self.mark is not None else None
        index = max(0, min(len(self._entries) - 1, (len(self._entries) - 1 if index is None else index) + by))
        self.follow = False
        self._mark(index)
        line, height = self._first_line_of(index), self.scrollable_content_region.height
        if line < self.scroll_y:
            self._scroll(line)
        elif line + len(self._entries[index].lines) > self.scroll_y + height:
            self._scroll(line + len(self._entries[index].lines) - height)
        self._retitle()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._adjusting or not self.is_mounted or not self._entries:
            return
        # Scrolled by a page or the mouse: the marked line comes along, so enter opens a line in view.
        height = self.scrollable_content_region.height
        marked = self._index_of(self.mark) if self.mark is not None else None
        first = self._event_at(int(new_value))
        last = self._event_at(int(new_value) + height - 1)
        last = len(self._entries) - 1 if last is None else last
        if first is not None and (marked is None or not first <= marked <= last):
            self._mark(first if new_value < old_value else last)

    def action_scroll_up(self) -> None:
        self._move(-1)

    def action_scroll_down(self) -> None:
        self._move(1)


class EventsScreen(LoadingScreen):
    SOURCE = "events"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", tooltip="back", id="events.back"),
        Binding("enter", "open_job", "Job", tooltip="the marked line's job in full", id="events.job"),
        Binding(
            "f", "toggle_follow", "Follow", tooltip="follow the newest line, or pause", id="events.follow"
        ),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("↑↓", "mark the line before or after (moving up pauses)"),
        ("pgup end", "scroll back; the newest line, following again"),
        ("escape", "back"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._reading = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield FeedPane(id="log")
        yield KeysFooter()

    @property
    def pane(self) -> FeedPane:
        return self.query_one(FeedPane)

    def on_mount(self) -> None:
        self.pane.focus()
        self._read()
        self.set_interval(FEED_POLL, self._read)

    def _read(self) -> None:
        if self._reading:
            return  # one read at a time: a slow database piles nothing up
        self._reading = True
        data, pane = tui_app(self).data, self.pane
        after = max(pane.last_event_id - LATE_IDS, 0) if pane.loaded else None
        self.fetch(lambda: data.event_feed(after, FEED_TAIL if after is None else FEED_PAGE), self._show)

    def _show(self, rows: list[FeedRow]) -> None:
        self._reading = False
        pane = self.pane
        events: list[EventRow] = list(rows)
        if pane.loaded:
            pane.add_events(EVERY_JOB, events)
        else:
            pane.show_tail(EVERY_JOB, events, has_older=False)

    def action_open_job(self) -> None:
        job_id = self.pane.job_of(self.pane.mark)
        if job_id is None:
            tui_app(self).presenter.refused("no line marked")
            return
        self.app.push_screen(JobDetailScreen(job_id))

    def action_toggle_follow(self) -> None:
        self.pane.toggle_follow()
