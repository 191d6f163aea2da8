"""How the TUI tells an operator things: the one place that decides how a failure is shown.

- a refusal or bad input (any PoolimportError, or a refused item in an outcome): a warning notice;
- database trouble: the banner on every screen, and an error notice;
- an operator who is not registered: the banner alone, saying what an administrator runs;
- anything else is a bug: logged with its traceback, and said as an "unexpected error"; the session goes on.

Text from a router, an operator or the database is shown literally, on one line (markup off). The same
notice again while it still shows adds nothing: a poll failing every 0.4 s is one notice, not a pile.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from textual.app import App
from textual.notifications import SeverityLevel

from poolimport.core.access.tenancy import NotRegistered
from poolimport.core.db import DatabaseError
from poolimport.core.errors import PoolimportError
from poolimport.core.text import one_line

FAILURE_TIMEOUT = 8.0
ACCESS = "access"  # the banner's source for an operator who may not be let in
# What a query may raise when the database is away, locked, or missing a table: the banner, never an exit.
DATABASE_ERRORS = (SQLAlchemyError, DatabaseError)

log = logging.getLogger(__name__)


def first_line(exc: BaseException) -> str:
    """The driver's own first line of an error (not SQLAlchemy's wrapping), fit for one line."""
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip()
    return one_line(text.splitlines()[0] if text else type(exc).__name__)


def unregistered(exc: NotRegistered) -> str:
    """What an operator missing from the operators table reads: why, and what an administrator runs."""
    if exc.name is None:
        return str(exc)  # no operator at all: it says what to run
    command = f"poolimport operator add {shlex.quote(exc.name)} --tenant TENANT"
    return f"{exc}: an administrator registers them with `{command}`"


@dataclass(frozen=True)
class Notice:
    text: str
    severity: SeverityLevel
    banner: tuple[str, str] | None = None  # (source, message): said on every screen's banner
    unexpected: bool = False  # a bug: logged with its traceback
    notify: bool = True  # False: the banner alone says it (it lasts; every poll would repeat a notice)


def notice_for(exc: BaseException) -> Notice:
    # Database trouble first: core's DatabaseError is also an expected failure, and wants the banner too.
    if isinstance(exc, DATABASE_ERRORS):
        problem = first_line(exc)
        return Notice(f"database error: {problem}", "error", banner=("database", problem))
    if isinstance(exc, NotRegistered):
        text = unregistered(exc)
        return Notice(text, "error", banner=(ACCESS, text), notify=False)
    if isinstance(exc, PoolimportError):
        return Notice(one_line(exc), "warning")
    return Notice(one_line(f"unexpected error: {exc.__class__.__name__}: {exc}"), "error", unexpected=True)


class Presenter:
    def __init__(self, app: App[Any], set_problem: Callable[[str, str | None], None]) -> None:
        self.app = app
        self.set_problem = set_problem
        self._showing: dict[tuple[str, str], float] = {}  # (severity, text) -> when it stops showing

    def say(
        self, message: object, severity: SeverityLevel = "information", timeout: float | None = None
    ) -> None:
        """A notice that isn't a failure (a result, a hint); `severity` as the result deserves."""
        self._notify(one_line(message), severity, timeout)

    def refused(self, message: object) -> None:
        """A request refused, or input that can't be used: the reason, as a warning."""
        self._notify(one_line(message), "warning", FAILURE_TIMEOUT)

    def failure(self, exc: BaseException) -> None:
        """Whatever a core call or a worker raised."""
        notice = notice_for(exc)
        if notice.banner is not None:
            self.set_problem(*notice.banner)
        if (
            notice.notify
            and self._notify(notice.text, notice.severity, FAILURE_TIMEOUT)
            and notice.unexpected
        ):
            log.error("TUI action failed", exc_info=exc)

    def _notify(self, text: str, severity: SeverityLevel, timeout: float | None) -> bool:
        """False when the same notice is still showing."""
        now = time.monotonic()
        if self._showing.get((severity, text), 0.0) > now:
            return False
        self._showing = {key: until for key, until in self._showing.items() if until > now}
        seconds = self.app.NOTIFICATION_TIMEOUT if timeout is None else timeout
        self._showing[(severity, text)] = now + seconds
        self.app.notify(text, severity=severity, timeout=seconds, markup=False)
        return True
