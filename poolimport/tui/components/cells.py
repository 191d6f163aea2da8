"""Cell renderers. Router text becomes rich Text (never markup) with control characters replaced.

`plain` is the one way text from a router, an operator or the database reaches the screen: table cells,
border titles and subtitles, the banner, the form, the help. Notifications take a str: they go through
the app's presenter, which `one_line`s it and passes markup=False."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from rich.text import Text

from poolimport.core.jobs.queries import JobRow
from poolimport.core.statuses import JobStatus
from poolimport.core.text import one_line, printable

# The status word is the CLI's word; style only adds to it. Bold and reverse still read without colour
# (NO_COLOR, monochrome terminals): there `readable` keeps them and drops the colour.
STATUS_STYLE: dict[str, str] = {
    JobStatus.QUEUED: "cyan",
    JobStatus.RUNNING: "bold yellow",
    JobStatus.SUCCEEDED: "green",
    JobStatus.PARTIAL: "bold magenta",
    JobStatus.FAILED: "bold red",
    JobStatus.CANCELLED: "dim",
    JobStatus.STALLED: "bold reverse red",
}
LEVEL_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}
# An error in a table cell, under a pane, in a job's detail: bold, so that it stands out without colour.
ERROR_STYLE = "bold red"
BAR_WIDTH = 8
# What a style keeps without colour. A colour, and dim, would come out grey on grey: Textual's monochrome
# filter turns red or magenta text into a dark grey on the dark grey of a table.
ATTRIBUTES_WITHOUT_COLOUR = frozenset({"bold", "reverse", "italic", "underline", "strike"})


def no_colour() -> bool:
    """NO_COLOR as Textual reads it: set, to anything."""
    return "NO_COLOR" in os.environ


def readable(style: str) -> str:
    """`style`, or without colour only its bold, reverse, italic, underline: they read on any terminal."""
    if not no_colour():
        return style
    return " ".join(word for word in style.split() if word in ATTRIBUTES_WITHOUT_COLOUR)


def plain(value: object, style: str = "", *, wrap: bool = False) -> Text:
    """Untrusted text as shown: literal (a `[` stays a `[`), control characters replaced; wraps if `wrap`."""
    if wrap:
        return Text(printable(value), style=readable(style))
    return Text(one_line(value), style=readable(style), no_wrap=True)


def error(value: object, *, wrap: bool = False) -> Text:
    """An error message, as every pane shows one."""
    return plain(value, ERROR_STYLE, wrap=wrap)


def number(value: int | None) -> Text:
    return Text("-" if value is None else f"{value:,}", justify="right")


def status(value: str | None) -> Text:
    if not value:
        return Text("-")
    return plain(value, STATUS_STYLE.get(value, ""))


def bar(done: int, total: int, width: int = BAR_WIDTH) -> Text:
    fraction = min(1.0, done / total) if total else 0.0
    filled = int(round(fraction * width))
    return Text.assemble(("█" * filled, "green"), ("░" * (width - filled), "dim"), f" {fraction:4.0%}")


def clock(value: str | datetime | None, seconds: bool = True) -> str:
    """UTC, like the CLI and the file log, so times match whichever an operator reads."""
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%m-%d %H:%M:%S" if seconds else "%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


def rate_and_eta(job: JobRow) -> tuple[str, str]:
    elapsed = job["elapsed"]
    done, total = job["addresses_done"] or 0, job["addresses_total"] or 0
    if elapsed is None or elapsed <= 0 or done <= 0:
        return "-", "-"
    rate = done / elapsed
    if job["status"] != JobStatus.RUNNING or done >= total:
        return f"{rate:,.0f}/s", "-"
    return f"{rate:,.0f}/s", duration((total - done) / rate)
