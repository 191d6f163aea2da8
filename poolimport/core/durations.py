"""Durations as operators type them (`30s`, `5m`, `1h`, `2d`, `1h30m`, plain seconds) and read them back."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
# Units largest first, each at most once, spaces allowed ("1h 30m", "5 m"), or plain seconds. ASCII digits
# (as ids), and few enough that no value is one int() refuses.
_DURATION = re.compile(
    r"(?:(?P<d>[0-9]{1,9}) *d)? *(?:(?P<h>[0-9]{1,9}) *h)? *(?:(?P<m>[0-9]{1,9}) *m)? *"
    r"(?:(?P<s>[0-9]{1,9}) *s)?|(?P<plain>[0-9]{1,9})"
)
MAX_SECONDS = 365 * 86400


def parse_duration(text: str) -> timedelta:
    """ValueError, saying what is expected, for anything else or anything past a year."""
    match = _DURATION.fullmatch(text.strip().lower())
    seconds = 0
    if match:
        parts = {unit: int(count) for unit, count in match.groupdict().items() if count}
        seconds = parts.pop("plain", 0) + sum(parts.get(unit, 0) * size for unit, size in _UNITS)
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"{text!r} is not a duration: 30s, 5m, 1h, 2d or 1h30m, at most 365d")
    return timedelta(seconds=seconds)


def describe_interval(seconds: float) -> str:
    """Exactly, in whole units, as `parse_duration` reads it back: 10s, 1m30s, 1h, 11d13h46m40s."""
    left = round(seconds)
    parts = []
    for unit, size in _UNITS:
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def describe_span(seconds: float) -> str:
    """A time span in its largest whole unit, for narrow cells and at a glance: 45s, 12m, 3h, 2d."""
    seconds = max(0, int(seconds))
    for unit, size in _UNITS:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "0s"
