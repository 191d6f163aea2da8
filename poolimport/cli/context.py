"""What every command needs: settings, the engine (schema checked), a session and the operator's scope.

SQLAlchemy and the database modules are imported when a command first asks for the engine, not when the
CLI starts: `--help`, a usage error and the commands that never open the database don't pay for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

from poolimport.core.config import Settings, load_settings
from poolimport.core.errors import PoolimportError, Refusal

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from poolimport.core.access.tenancy import Scope


class CliError(PoolimportError):
    """An expected failure: printed as one `error:` line, exit status 1."""


class UsageError(CliError):
    """A command asked for in a way it can't run (an argument missing): exit status 2, as argparse's."""


class Context:
    def __init__(self, settings: Settings | None = None) -> None:
        # Given: an SSH session's settings, built from the installation's home with the key's operator.
        self._settings = settings
        self._engine: Engine | None = None
        self._scope: Scope | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def engine(self, check_schema: bool = True) -> Engine:
        if self._engine is None:
            from poolimport.core.db import get_engine
            from poolimport.core.schema import ensure_current

            engine = get_engine(self.settings)
            if check_schema:
                ensure_current(engine)
            self._engine = engine
        return self._engine

    def scope(self) -> Scope:
        """Who is asking, checked once per command (a refusal is recorded once)."""
        if self._scope is None:
            from poolimport.core.access.gate import authenticate

            self._scope = authenticate(self.engine(), self.settings.identity)
        return self._scope

    def record_refusal(self, action: str, refusal: PoolimportError) -> None:
        """A command refused after sign-in (a sign-in refusal is recorded by `scope`): into the audit.
        Best effort: the refusal was already said, and an audit the database can't take can't be helped."""
        if not isinstance(refusal, Refusal) or refusal.audited:
            return  # not a refusal, or one recorded where it was raised (a sign-in refusal among them)
        from sqlalchemy.exc import SQLAlchemyError

        from poolimport.core.access.gate import record_refusal_once

        with suppress(SQLAlchemyError, PoolimportError):
            record_refusal_once(self.engine(), self.scope(), action, refusal)

    @contextmanager
    def session(self) -> Iterator[tuple[Session, Scope]]:
        from poolimport.core.db import session_scope

        scope = self.scope()
        with session_scope(self.engine()) as session:
            yield session, scope

    @contextmanager
    def reading(self) -> Iterator[tuple[Session, Scope]]:
        """A session that never waits for the write lock (SQLite): for lists and follow loops."""
        from poolimport.core.db import get_read_engine, session_scope

        scope = self.scope()
        with session_scope(get_read_engine(self.settings)) as session:
            yield session, scope
