"""A log's search, as lnav does it: the box `/` opens, where a match is in a line, and which match is next.

The matches come from the database (the whole log, not only the window a pane holds); this module only
decides what to show and where to go.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events, on
from textual.widgets import Input

MATCH_STYLE = "reverse"
MARK_STYLE = "reverse underline"  # the head of the line a search or a jump landed on


def spans(text: str, needle: str) -> list[tuple[int, int]]:
    """Where `needle` is in `text`, any case, as (start, end); the database matched the same way."""
    if not needle:
        return []
    # casefold() may change a string's length (ß -> ss); lower() keeps offsets in step for the rest.
    haystack, needle = text.lower(), needle.lower()
    found, start = [], haystack.find(needle)
    while start >= 0:
        found.append((start, start + len(needle)))
        start = haystack.find(needle, start + len(needle))
    return found


def highlight(text: Text, needle: str) -> Text:
    """A copy of `text` with every match of `needle` styled."""
    found = spans(text.plain, needle)
    if not found:
        return text
    text = text.copy()
    for start, end in found:
        text.stylize(MATCH_STYLE, start, end)
    return text


def next_match(matches: list[int], anchor: int, forward: bool) -> tuple[int | None, bool]:
    """The first match after `anchor` (or the last before it), and whether the search went round the
    log's end to find it."""
    if not matches:
        return None, False
    if forward:
        after = [m for m in matches if m > anchor]
        return (after[0], False) if after else (matches[0], True)
    before = [m for m in matches if m < anchor]
    return (before[-1], False) if before else (matches[-1], True)


def where(matches: list[int], target: int) -> str:
    return f"match {matches.index(target) + 1} of {len(matches)}"


class SearchBox(Input):
    """Opened by `/` in a log; enter searches, escape closes it and leaves the log as it was. One box per
    screen, for whichever log opened it."""

    def __init__(self) -> None:
        super().__init__(placeholder="search the log: enter searches, escape closes", classes="filter-box")
        self._on_search: Callable[[str], None] | None = None
        self._on_close: Callable[[], None] | None = None

    def open(self, text: str, search: Callable[[str], None], closed: Callable[[], None]) -> None:
        self._on_search, self._on_close = search, closed
        self.value = text
        self.display = True
        self.focus()

    def _hide(self) -> None:
        self.display = False
        if self._on_close is not None:
            self._on_close()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._hide()
        if self._on_search is not None:
            self._on_search(event.value)

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            self._hide()
