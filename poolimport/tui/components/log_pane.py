"""The selected job's events, tailed live.

A line-API widget rather than RichLog, because it has to keep the events themselves, not lines wrapped at
one width: it re-wraps them when the pane is resized, puts older events above the ones shown without
moving the view, and drops the oldest ones without moving the view either. It holds a window of at most
MAX_EVENTS events; a job with 100,000 lines opens at its newest, older pages come on demand (`m`, or
scrolling to the top).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from poolimport.core.jobs.queries import EventRow, event_text
from poolimport.core.text import printable
from poolimport.tui.components import cells
from poolimport.tui.components.tui_app import tui_app
from poolimport.tui.data import EventPage

MAX_EVENTS = 5000
TAIL_EVENTS = 500  # read when a job is selected
OLDER_EVENTS = 1000  # read per `m`
HEAD_WIDTH = 15 + 8  # "11-28 17:32:51 " + "WARNING "
# Narrower than this, wrapped lines start at the left edge instead of under the message.
INDENT_MIN_WIDTH = 50


@dataclass
class _Entry:
    event_id: int
    head: Text
    body: Text
    lines: list[Strip] = field(default_factory=list)


def _entry(event: EventRow) -> _Entry:
    level = str(event["level"])
    style = cells.readable(cells.LEVEL_STYLE.get(level, ""))
    head = Text.assemble((cells.clock(event["time"]) + " ", "dim"), (f"{level.upper()[:7]:7} ", style))
    # printable(), not one_line(): a multi-line message stays multi-line, but no escape reaches the terminal.
    body = Text(printable(event_text(event)).expandtabs(), style=style)
    return _Entry(event["id"], head, body)


class LogPane(ScrollView, can_focus=True):
    BORDER_TITLE = "Log"
    DEFAULT_CSS = """
    LogPane {
        overflow-y: scroll;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    class OlderWanted(Message):
        """The operator scrolled to the top of the window and older events exist."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id: int | None = None
        self.loaded = False  # the job's tail has been read
        self.last_event_id = 0
        self.has_older = False  # events before the window exist in the database
        self.has_newer = False  # the window was moved back past events that are not shown
        self.follow = True
        self._entries: list[_Entry] = []
        self._lines: list[Strip] = []
        self._width = 0
        self._adjusting = False  # scroll changes made here, not by the operator
        self._older_asked = False

    # -- what the app's poll should read -------------------------------------------------------

    def wanted(self) -> tuple[int, int | None] | None:
        """(job, None): read the tail; (job, after_id): read newer events; None: nothing to read."""
        if self.job_id is None or self.has_newer:
            return None
        return self.job_id, self.last_event_id if self.loaded else None

    def older_wanted(self) -> tuple[int, int] | None:
        """(job, before_id) when an older page can be read."""
        if self.job_id is None or not self.has_older or not self._entries:
            return None
        return self.job_id, self._entries[0].event_id

    @property
    def event_ids(self) -> list[int]:
        return [entry.event_id for entry in self._entries]

    def plain_text(self) -> str:
        return "\n".join(entry.head.plain + entry.body.plain for entry in self._entries)

    # -- changes from the app ------------------------------------------------------------------

    def watch_job(self, job_id: int | None) -> None:
        if job_id == self.job_id:
            return
        self.job_id = job_id
        self.loaded = self.has_older = self.has_newer = False
        self.last_event_id = 0
        self.follow = True
        self._entries, self._lines = [], []
        self._relayout(keep_place=False)
        self._retitle()

    def show_tail(self, job_id: int, events: list[EventRow], has_older: bool) -> None:
        if job_id != self.job_id or self.loaded:
            return  # a poll for a job no longer selected, or one that raced a newer poll
        self.loaded, self.has_older, self.has_newer = True, has_older, False
        self._entries, self._lines = [], []
        self.last_event_id = 0
        self.add_events(job_id, events)
        self._retitle()

    def add_events(self, job_id: int, events: list[EventRow]) -> None:
        if job_id != self.job_id or not self.loaded or self.has_newer:
            return
        new = [_entry(event) for event in events if event["id"] > self.last_event_id]
        if not new:
            return
        self.last_event_id = new[-1].event_id
        for entry in new:
            self._wrap(entry)
            self._lines.extend(entry.lines)
        self._entries.extend(new)
        dropped = 0
        if len(self._entries) > MAX_EVENTS:
            cut = len(self._entries) - MAX_EVENTS
            dropped = sum(len(entry.lines) for entry in self._entries[:cut])
            del self._entries[:cut]
            del self._lines[:dropped]
            self.has_older = True
        self._update_size()
        if self.follow:
            self._scroll(self.max_scroll_y)
        elif dropped:
            self._scroll(self.scroll_y - dropped)  # the lines above went away: keep the same ones in view
        self._retitle()

    def prepend(self, job_id: int, events: list[EventRow], has_older: bool) -> None:
        """Older events above the window; the view stays on the lines it showed."""
        self._older_asked = False
        if job_id != self.job_id or not self._entries:
            return
        first = self._entries[0].event_id
        older = [_entry(event) for event in events if event["id"] < first]
        self.has_older = has_older
        if not older:
            self._retitle()
            return
        added: list[Strip] = []
        for entry in older:
            self._wrap(entry)
            added.extend(entry.lines)
        self._entries[:0] = older
        self._lines[:0] = added
        if len(self._entries) > MAX_EVENTS:
            # The window moves back: the newest go, and the live tail stops until follow is turned on.
            cut = len(self._entries) - MAX_EVENTS
            dropped = sum(len(entry.lines) for entry in self._entries[-cut:])
            del self._entries[-cut:]
            del self._lines[-dropped:]
            self.last_event_id = self._entries[-1].event_id
            self.has_newer = True
        self.follow = False
        self._update_size()
        self._scroll(self.scroll_y + len(added))
        self._retitle()

    def toggle_follow(self) -> bool:
        if self.follow:
            self.follow = False
        else:
            self.resume()
        self._retitle()
        return self.follow

    def resume(self) -> None:
        self.follow = True
        if self.has_newer:
            self.loaded = self.has_newer = False  # the next poll reads the tail again
        self._scroll(self.max_scroll_y)
        self._retitle()

    def action_scroll_end(self) -> None:
        self.resume()

    # -- layout and drawing --------------------------------------------------------------------

    def _retitle(self) -> None:
        title = f"Log job #{self.job_id}" if self.job_id else "Log"
        if self.has_older:
            title += " (older: m)"
        if not self.follow:
            title += " (paused: f or end to follow)"
        self.border_title = title

    def _wrap(self, entry: _Entry) -> None:
        width = self._width
        if width <= 0:
            entry.lines = []
            return
        console = self.app.console
        indent = HEAD_WIDTH if width >= INDENT_MIN_WIDTH else 0
        if not indent:
            text = Text.assemble(entry.head, entry.body)
            rendered = console.render_lines(text, console.options.update_width(width), pad=False)
            entry.lines = [Strip(line) for line in rendered]
            return
        head = [segment for segment in entry.head.render(console) if segment.text != "\n"]
        pad = [Segment(" " * indent)]
        rendered = console.render_lines(entry.body, console.options.update_width(width - indent), pad=False)
        entry.lines = [Strip((head if n == 0 else pad) + line) for n, line in enumerate(rendered or [[]])]

    def _relayout(self, keep_place: bool = True) -> None:
        """Wrap every event again at the current width, keeping the top event in view."""
        top_event = self._event_at(int(self.scroll_y)) if keep_place else None
        self._lines = []
        for entry in self._entries:
            self._wrap(entry)
            self._lines.extend(entry.lines)
        self._update_size()
        if self.follow or top_event is None:
            self._scroll(self.max_scroll_y if self.follow else 0)
        else:
            self._scroll(self._first_line_of(top_event))

    def _event_at(self, line: int) -> int | None:
        seen = 0
        for index, entry in enumerate(self._entries):
            seen += len(entry.lines)
            if seen > line:
                return index
        return None

    def _first_line_of(self, index: int) -> int:
        return sum(len(entry.lines) for entry in self._entries[:index])

    def _update_size(self) -> None:
        self.virtual_size = Size(self._width, len(self._lines))
        self.refresh()

    def _scroll(self, y: float) -> None:
        self._adjusting = True
        try:
            self.scroll_to(y=max(0, y), animate=False, immediate=True)
        finally:
            self._adjusting = False

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._relayout()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._adjusting or not self.is_mounted:
            return
        if self.follow and new_value < old_value and new_value < self.max_scroll_y:
            self.follow = False  # the operator scrolled back: stop following so the view stays put
            self._retitle()
        if new_value == 0 and self.has_older and not self._older_asked:
            self._older_asked = True
            self.post_message(self.OlderWanted())

    def older_done(self) -> None:
        """The app read no older page (an error, say): a later scroll to the top may ask again."""
        self._older_asked = False

    def load_older(self) -> None:
        """Read the page before the oldest line shown, in a worker, and put it above when it comes."""

        wanted = self.older_wanted()
        if wanted is None:
            self.older_done()
            return
        job_id, before = wanted
        app = tui_app(self)

        def show(page: EventPage) -> None:
            self.prepend(job_id, page.events, page.has_older)

        app.run_core(lambda: app.data.event_tail(job_id, OLDER_EVENTS, before), show, self.older_done)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if 0 <= index < len(self._lines):
            strip = self._lines[index].crop_extend(scroll_x, scroll_x + width, self.rich_style)
        else:
            strip = Strip.blank(width, self.rich_style)
        return strip.apply_style(self.rich_style)
