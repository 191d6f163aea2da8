"""Printing: JSON for scripts (stdout, nothing else), aligned tables for people.

Everything the command prints goes through here, and text that may come from outside (a router, the
database, the operator's own input) is cleaned on the way: its control characters would otherwise reach
the operator's terminal as escape sequences.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from poolimport.core.text import one_line

# json.dump escapes C0 controls itself; with ensure_ascii=False it leaves DEL and C1 (CSI is \x9b) raw.
_RAW_IN_JSON = re.compile("[\x7f-\x9f]")


def emit_json(data: Any) -> None:
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
    # Piece by piece, as json.dump does: a reader that stops early (`| head`) is noticed at the next piece.
    for piece in encoder.iterencode(data):
        # Those characters can only stand inside JSON strings, where \u00XX means the same character.
        sys.stdout.write(_RAW_IN_JSON.sub(_escaped, piece))
    sys.stdout.write("\n")


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def say(message: object, flush: bool = False) -> None:
    """One line for the operator on stdout."""
    print(one_line(message), flush=flush)


def print_error(message: object) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr)


def print_warning(message: object) -> None:
    print(f"warning: {one_line(message)}", file=sys.stderr)


# Numbers that name something (an id, a port) are shown as typed; counts are grouped by thousands.
IDENTIFIERS = frozenset({"id", "port", "job_id", "router_id", "tenant_id", "retry_of", "attempt", "pid"})


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value) if column in IDENTIFIERS else f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_cell(item, key)}" for key, item in value.items())
    return one_line(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], empty: str = "(none)") -> None:
    if not rows:
        say(empty)
        return
    cells = [[_cell(row.get(col), col) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.upper().ljust(w) for col, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_fields(data: Mapping[str, Any]) -> None:
    width = max(len(k) for k in data)
    for key, value in data.items():
        print(f"{key.ljust(width)}  {_cell(value, key)}")
