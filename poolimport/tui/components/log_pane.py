"""The selected job's events, tailed live.

A line-API widget rather than RichLog, because it has to keep the events themselves, not lines wrapped at
one width: it re-wraps them when the pane is resized, puts older events above the ones shown without
moving the view, and drops the oldest ones without moving the view either. It holds a window of at most
MAX_EVENTS events; a job with 100,000 lines opens at its newest, older pages come on demand (`m`, or
scrolling to the top).

`/` searches the whole log in the database and `n`/`N` load the stretch around the next match; `]`/`[`
do the same for warnings and errors (log_search.py decides where a search goes and what it highlights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from poolimport.core.jobs.queries import EventRow, event_text
from poolimport.core.models import MAX_ID
from poolimport.core.text import one_line, printable
from poolimport.tui.components import cells
from poolimport.tui.components.log_search import (
    MARK_STYLE,
    SearchBox,
    highlight,
    next_match,
    where,
)
from poolimport.tui.components.tui_app import tui_app
from poolimport.tui.data import EventPage, EventRegion

MAX_EVENTS = 5000
TAIL_EVENTS = 500  # read when a job is selected
OLDER_EVENTS = 1000  # read per `m`
REGION_EVENTS = 500  # read around a match or a warning outside the window
HEAD_WIDTH = 15 + 8  # "11-28 17:32:51 " + "WARNING "
# Narrower than this, wrapped lines start at the left edge instead of under the message.
INDENT_MIN_WIDTH = 50


@dataclass
class LogEntry:
    event_id: int
    level: str
    head: Text
    body: Text
    lines: list[Strip] = field(default_factory=list)


def log_entry(event: EventRow, prefix: str = "") -> LogEntry:
    """The event as the pane shows it; `prefix` (untrusted) goes in front of the message, in bold."""
    level = str(event["level"])
    style = cells.readable(cells.LEVEL_STYLE.get(level, ""))
    head = Text.assemble((cells.clock(event["time"]) + " ", "dim"), (f"{level.upper()[:7]:7} ", style))
    # printable(), not one_line(): a multi-line message stays multi-line, but no escape reaches the terminal.
    body = Text(printable(event_text(event)).expandtabs(), style=style)
    if prefix:
        body = Text.assemble((one_line(prefix), "bold"), body)
    return LogEntry(event["id"], level, head, body)


class LogPane(ScrollView, can_focus=True):
    BORDER_TITLE = "Log"
    # Bound here, not on the screens: they act only with the log focused (`/` filters a focused table).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "search",
            "Search",
            tooltip="in the log: search all of it, any case (n, N: next, previous match)",
            key_display="/",
            id="log.search",
        ),
        Binding("n", "next_match", "Next", tooltip="in the log: next match", id="log.next"),
        Binding(
            "N",
            "previous_match",
            "Prev",
            tooltip="in the log: previous match",
            key_display="N",
            id="log.previous",
        ),
        Binding(
            "right_square_bracket",
            "next_notable",
            "Next warn",
            tooltip="in the log: next warning or error",
            key_display="]",
            id="log.next_notable",
        ),
        Binding(
            "left_square_bracket",
            "previous_notable",
            "Prev warn",
            tooltip="in the log: previous warning or error",
            key_display="[",
            id="log.previous_notable",
        ),
    ]
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
        self._entries: list[LogEntry] = []
        self._lines: list[Strip] = []
        self._width = 0
        self._adjusting = False  # scroll changes made here, not by the operator
        self._older_asked = False
        self.search_text = ""
        self.matches: list[int] = []  # as last read, oldest first
        self.mark: int | None = None  # the event a search or a jump landed on

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

    def entry(self, event: EventRow) -> LogEntry:
        return log_entry(event)

    def plain_text(self) -> str:
        return "\n".join(entry.head.plain + entry.body.plain for entry in self._entries)

    def line_of(self, event_id: int) -> int | None:
        """The event's first line in the pane, if the window holds it."""
        index = self._index_of(event_id)
        return None if index is None else self._first_line_of(index)

    def highlighted(self, event_id: int) -> list[str]:
        """The text shown highlighted as a match in the event's lines."""
        index = self._index_of(event_id)
        if index is None:
            return []
        runs, run = [], ""
        for strip in self._entries[index].lines:
            for segment in strip:
                if segment.style is not None and segment.style.reverse and not segment.style.underline:
                    run += segment.text
                elif run:
                    runs.append(run)
                    run = ""
        return runs + [run] if run else runs

    # -- changes from the app ------------------------------------------------------------------

    def watch_job(self, job_id: int | None) -> None:
        if job_id == self.job_id:
            return
        self.job_id = job_id
        self.loaded = self.has_older = self.has_newer = False
        self.last_event_id = 0
        self.follow = True
        self._entries, self._lines = [], []
        self.matches, self.mark = [], None
        self._say(f"/{self.search_text}" if self.search_text else "")
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

    def fresh(self, events: list[EventRow]) -> list[EventRow]:
        """Those not shown yet: a job's log comes in the order of its ids."""
        return [event for event in events if event["id"] > self.last_event_id]

    def add_events(self, job_id: int, events: list[EventRow]) -> None:
        if job_id != self.job_id or not self.loaded or self.has_newer:
            return
        new = [self.entry(event) for event in self.fresh(events)]
        if not new:
            return
        self.last_event_id = max(self.last_event_id, *(entry.event_id for entry in new))
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
        older = [self.entry(event) for event in events if event["id"] < first]
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

    def show_region(self, job_id: int, region: EventRegion) -> None:
        """A stretch of the log in place of the window (around a match); the live tail waits for `end`."""
        if job_id != self.job_id or not region.events:
            return
        self.loaded, self.follow = True, False
        self.has_older, self.has_newer = region.has_older, region.has_newer
        self._entries = [self.entry(event) for event in region.events]
        self.last_event_id = self._entries[-1].event_id
        self._relayout(keep_place=False)
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

    # -- search and jumps ----------------------------------------------------------------------------

    async def action_search(self) -> None:
        if self.job_id is None:
            return
        boxes = list(self.screen.query(SearchBox))
        box = boxes[0] if boxes else SearchBox()
        if not boxes:
            await self.screen.mount(box)
        box.open(self.search_text, self.search, self._search_closed)

    def _search_closed(self) -> None:
        self.focus()

    def search(self, text: str) -> None:
        """Highlight `text` and go to its newest match when following, else to the next below the top."""
        self.search_text, self.matches = text, []
        self._relayout()
        if not text:
            self._unmark()
            self._say("")
            return
        self._unmark()
        self._go_to_match(forward=not self.follow)

    def action_next_match(self) -> None:
        self._go_to_match(forward=True)

    def action_previous_match(self) -> None:
        self._go_to_match(forward=False)

    def action_next_notable(self) -> None:
        self._go_to_notable(forward=True)

    def action_previous_notable(self) -> None:
        self._go_to_notable(forward=False)

    def _go_to_match(self, forward: bool) -> None:
        job_id, text, anchor = self.job_id, self.search_text, self._anchor(forward)
        if job_id is None:
            return
        if not text:
            self._say("no search: / to search")
            return
        app = tui_app(self)

        def found(matches: list[int]) -> None:
            if job_id != self.job_id or text != self.search_text:
                return  # the operator moved on meanwhile
            self.matches = matches
            target, wrapped = next_match(matches, anchor, forward)
            if target is None:
                self._say(f"/{text}: no match")
                return
            went_round = (", from the top" if forward else ", from the bottom") if wrapped else ""
            said = f"/{text}: {where(matches, target)}{went_round}"
            self.go_to(target, lambda _: said)

        # Read again at each press: a live job's log grows, and the count says so.
        app.run_core(lambda: app.data.log_matches(job_id, text), found)

    def _go_to_notable(self, forward: bool) -> None:
        job_id, anchor, marked = self.job_id, self._anchor(forward), self.mark is not None
        if job_id is None:
            return
        app = tui_app(self)

        def found(event_id: int | None) -> None:
            if job_id != self.job_id:
                return
            if event_id is None:
                here = "this line" if marked else "the lines shown"
                self._say(f"no warning or error {'after' if forward else 'before'} {here}")
                return
            self.go_to(event_id, lambda entry: f"{entry.level} at {entry.head.plain.strip()[:14]}")

        app.run_core(lambda: app.data.notable_event(job_id, anchor, forward), found)

    def _anchor(self, forward: bool) -> int:
        """Where n, N, ] and [ start from: the line last landed on while it is in view, else the lines in
        view (as lnav: scrolled away from it, the operator goes on from where they look)."""
        if not self._entries:
            return 0 if forward else MAX_ID
        top = self._event_at(int(self.scroll_y)) or 0
        bottom_at = self._event_at(int(self.scroll_y) + self.scrollable_content_region.height - 1)
        bottom = len(self._entries) - 1 if bottom_at is None else bottom_at
        marked = None if self.mark is None else self._index_of(self.mark)
        if marked is not None and top <= marked <= bottom:
            return self._entries[marked].event_id
        if self.follow and not forward:
            return MAX_ID
        return self._entries[top].event_id - 1 if forward else self._entries[bottom].event_id + 1

    def go_to(self, event_id: int, said: Callable[[LogEntry], str]) -> None:
        """Show the event, marked, a third of the way down; read the stretch around it if not loaded."""
        index = self._index_of(event_id)
        if index is not None:
            self._mark(index)
            self.follow = False
            self._scroll(self._first_line_of(index) - self.scrollable_content_region.height // 3)
            self._retitle()
            self._say(said(self._entries[index]))
            return
        job_id = self.job_id
        if job_id is None:
            return
        app = tui_app(self)

        def show(region: EventRegion) -> None:
            if job_id != self.job_id:
                return
            self.show_region(job_id, region)
            if self._index_of(event_id) is not None:
                self.go_to(event_id, said)

        app.run_core(lambda: app.data.event_region(job_id, event_id, REGION_EVENTS), show)

    def _mark(self, index: int) -> None:
        self._unmark()
        self.mark = self._entries[index].event_id
        self._rewrap(index)

    def _unmark(self) -> None:
        old = None if self.mark is None else self._index_of(self.mark)
        self.mark = None
        if old is not None:
            self._rewrap(old)

    def _say(self, text: str) -> None:
        self.border_subtitle = cells.plain(text)

    def _index_of(self, event_id: int) -> int | None:
        """The event's place in the window (its ids are in order)."""
        entries = self._entries
        if not entries or not entries[0].event_id <= event_id <= entries[-1].event_id:
            return None
        low, high = 0, len(entries)
        while low < high:
            middle = (low + high) // 2
            if entries[middle].event_id < event_id:
                low = middle + 1
            else:
                high = middle
        return low if entries[low].event_id == event_id else None

    # -- layout and drawing --------------------------------------------------------------------

    def _retitle(self) -> None:
        title = f"Log job #{self.job_id}" if self.job_id else "Log"
        if self.has_older:
            title += " (older: m)"
        if not self.follow:
            title += " (paused: f or end to follow)"
        self.border_title = title

    def _wrap(self, entry: LogEntry) -> None:
        width = self._width
        if width <= 0:
            entry.lines = []
            return
        console = self.app.console
        indent = HEAD_WIDTH if width >= INDENT_MIN_WIDTH else 0
        head, body = entry.head, highlight(entry.body, self.search_text)
        if entry.event_id == self.mark:
            head = head.copy()
            head.stylize(MARK_STYLE)
        if not indent:
            text = Text.assemble(head, body)
            rendered = console.render_lines(text, console.options.update_width(width), pad=False)
            entry.lines = [Strip(line) for line in rendered]
            return
        head_line = [segment for segment in head.render(console) if segment.text != "\n"]
        pad = [Segment(" " * indent)]
        rendered = console.render_lines(body, console.options.update_width(width - indent), pad=False)
        entry.lines = [
            Strip((head_line if n == 0 else pad) + line) for n, line in enumerate(rendered or [[]])
        ]

    def _rewrap(self, index: int) -> None:
        """One event again (marked or not): its styles change, never its lines' count."""
        entry, start = self._entries[index], self._first_line_of(index)
        count = len(entry.lines)
        self._wrap(entry)
        self._lines[start : start + count] = entry.lines
        self._update_size()

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
