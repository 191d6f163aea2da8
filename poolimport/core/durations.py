"""Durations as operators type them: `30s`, `5m`, `1h`, `2d` (and plain seconds)."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SECONDS = 366 * 86400


def parse_duration(text: str) -> timedelta:
    """ValueError, saying what is expected, for anything else or anything past a year."""
    match = _DURATION.fullmatch(text.strip().lower())
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]] if match else 0
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"{text!r} is not a duration: 30s, 5m, 1h or 2d, at most a year")
    return timedelta(seconds=seconds)
