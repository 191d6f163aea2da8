"""Letting someone in, and letting them write: a scope, or one refusal that says why and is recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from poolimport.core.access import audit
from poolimport.core.access.identity import Identity
from poolimport.core.access.tenancy import AccessDenied, Scope, refused_scope, resolve_scope
from poolimport.core.db import reading, session_scope
from poolimport.core.errors import Refusal


def record_refusal_once(engine: Engine, scope: Scope, action: str, refusal: Refusal, **about: Any) -> None:
    """Record `refusal` unless it was recorded where it was raised (with more detail than a caller has)."""
    if refusal.audited:
        return
    audit.record_refusal(engine, scope, action, str(refusal), **{**about, **refusal.about})
    refusal.audited = True


def authenticate(engine: Engine, identity: Identity) -> Scope:
    """The asker's scope; an unregistered asker, or a non-administrator acting as someone, is refused."""
    try:
        with session_scope(reading(engine)) as session:
            return resolve_scope(session, identity)
    except AccessDenied as exc:
        record_refusal_once(engine, refused_scope(identity), "sign-in", exc)
        raise


def require_write(engine: Engine, scope: Scope, what: str, action: str, **about: Any) -> None:
    """Viewers may look, not change: `what` they may not do is refused and recorded as `action`."""
    try:
        scope.require_write(what)
    except AccessDenied as exc:
        record_refusal_once(engine, scope, action, exc, **about)
        raise
