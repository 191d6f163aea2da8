"""Expected failures, and what an operator may read of any exception.

Every failure poolimport expects (bad input, a refusal, a missing key, a database that isn't ready) is a
`PoolimportError`: its message is the one line an operator reads, and the CLI and the TUI each present
them in one place. A `Refusal` is a request that was refused rather than one that failed; each is
recorded in the audit once.

`describe` is for everything else: one line, the driver's own words, never SQL or parameters.
SQLAlchemy's str() of a failed statement carries the statement and its bound parameters (router text,
ids, sometimes more); job errors, events and CLI lines are read by operators and stored for good.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

MAX_DETAIL = 300


class PoolimportError(Exception):
    """An expected failure; str() is the one line an operator reads."""


class Refusal(PoolimportError):
    """A request refused (not a fault). `audited` is set once it is in the audit, so it is recorded once;
    `about` says what it concerns (tenant, router, job), as the code that refused it knew, for that row."""

    audited = False
    about: Mapping[str, Any] = MappingProxyType({})

    def concerning(self, about: Mapping[str, Any]) -> Refusal:
        """Note what the refused request concerned; returns the refusal, to be raised on."""
        self.about = {**about, **self.about}  # what was noted nearer to the refusal stands
        return self


@contextmanager
def refusals_about(about: Mapping[str, Any]) -> Iterator[None]:
    """A refusal raised inside concerns `about` (unless it says more precisely what it concerns)."""
    try:
        yield
    except Refusal as exc:
        exc.concerning(about)
        raise


class InvalidInput(Refusal, ValueError):
    """A value the operator typed can't be used; the message says which and why."""


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:MAX_DETAIL]


def describe(exc: BaseException) -> str:
    """`ClassName: first line of the message`; for a failed statement, the database's message alone."""
    # Imported here: every module that defines an expected failure imports this one, the CLI's start-up
    # among them, and SQLAlchemy is most of a command's start-up time.
    from sqlalchemy.exc import StatementError

    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    detail = _first_line(str(exc))
    return f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__
