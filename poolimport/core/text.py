"""Router text made safe for a terminal: control characters would reach the operator's terminal as-is."""

from __future__ import annotations

import re

# C0 except tab and newline, DEL, C1.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: object) -> str:
    if value is None:
        return ""
    return _CONTROL.sub("\ufffd", str(value))


def one_line(value: object) -> str:
    return printable(value).replace("\n", " ").replace("\t", " ")
