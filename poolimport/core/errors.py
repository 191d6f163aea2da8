"""What an operator may read of an exception: one line, the driver's own words, never SQL or parameters.

SQLAlchemy's str() of a failed statement carries the statement and its bound parameters (router text,
ids, sometimes more); job errors, events and CLI lines are read by operators and stored for good.
"""

from __future__ import annotations

from sqlalchemy.exc import StatementError

MAX_DETAIL = 300


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:MAX_DETAIL]


def describe(exc: BaseException) -> str:
    """`ClassName: first line of the message`; for a failed statement, the database's message alone."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    detail = _first_line(str(exc))
    return f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__
