"""Tenants and routers: add, list, remove, test. Shared by the CLI and the TUI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from poolimport.core.access import audit
from poolimport.core.access.gate import authenticate, record_refusal_once
from poolimport.core.access.identity import Identity
from poolimport.core.access.tenancy import AccessDenied, Scope, find_tenant
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.errors import InvalidInput, Refusal
from poolimport.core.imports.run import router_target
from poolimport.core.models import Router, Tenant, utcnow
from poolimport.core.routers.api import RouterClient, RouterError
from poolimport.core.routers.fields import (
    MAX_NAME,
    MAX_PASSWORD,
    RouterFields,
    apply_fields,
    check_length,
    check_name,
    check_password_stays,
    fields_of,
)
from poolimport.core.secrets.box import SecretBox
from poolimport.core.secrets.keys import PASSWORD_NEEDED
from poolimport.core.statuses import CheckStatus
from poolimport.core.text import one_line


@dataclass
class Attempt:
    action: str
    scope: Scope | None = None
    about: dict[str, Any] = field(default_factory=dict)

    def concerns(self, router: Router) -> None:
        self.about = audit.about_router(router)


@contextmanager
def refusal_recorded(engine: Engine, action: str) -> Iterator[Attempt]:
    """Around a request's transactions: a refusal raised inside is recorded (with the scope and router the
    caller noted on the Attempt) after they have been rolled back, then raised on."""
    attempt = Attempt(action)
    try:
        yield attempt
    except Refusal as exc:
        if attempt.scope is not None:
            record_refusal_once(engine, attempt.scope, action, exc, **attempt.about)
        raise


def record_refusal_about_router(
    engine: Engine, identity: Identity, action: str, refusal: Refusal, router_id: int | None, subject: str
) -> None:
    """Record a refusal a front end made before calling core (a form checks what it can as the operator
    types), as core records its own: against the router, when it is one the asker may see."""
    scope = authenticate(engine, identity)
    with session_scope(engine) as session:
        router = session.scalar(scope.routers().where(Router.id == router_id)) if router_id else None
        about = (
            audit.about_router(router) if router is not None else {"subject": one_line(subject)[:MAX_NAME]}
        )
    record_refusal_once(engine, scope, action, refusal, **about)


def check_may_add_tenant(scope: Scope) -> None:
    """Asked before a front end asks for the name: only an administrator of every tenant adds one."""
    if scope.tenant_ids is not None or scope.role != "admin":
        raise AccessDenied("only an administrator may add tenants")


def add_tenant(session: Session, scope: Scope, name: str) -> Tenant:
    check_may_add_tenant(scope)
    check_name("tenant name", name)
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise InvalidInput(f"tenant {name!r} already exists")
    tenant = Tenant(name=name)
    session.add(tenant)
    session.flush()
    audit.record(session, scope, "tenant.add", tenant_id=tenant.id, subject=name)
    return tenant


def save_router(
    session: Session,
    scope: Scope,
    settings: Settings,
    tenant_name: str,
    fields: RouterFields,
    password: str | None,
    router: Router | None = None,
) -> Router:
    """Add a router, or update `router` (password unchanged when None; then its endpoint may not change)."""
    scope.require_write("change routers")
    fields.validate()
    if password:
        check_length("password", password, MAX_PASSWORD)
    tenant = find_tenant(session, scope, tenant_name)
    action = "router.edit"
    if router is None:
        if not password:
            raise InvalidInput("a password is required")
        router, action = Router(tenant_id=tenant.id), "router.add"
        session.add(router)
    else:
        check_password_stays(fields_of(router), fields, password)
    router.tenant_id = tenant.id
    apply_fields(router, fields)
    if password:
        router.password_encrypted = SecretBox(settings.key_file).encrypt(password)
        if router.password_needed:
            router.password_needed = False
            if router.last_error == PASSWORD_NEEDED:
                router.last_status = router.last_error = None
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise InvalidInput(f"tenant {tenant_name!r} already has a router named {fields.name!r}") from None
    audit.record(session, scope, action, tenant_id=tenant.id, router_id=router.id, subject=router.name)
    return router


def check_may_remove(scope: Scope) -> None:
    """Asked before an operator is asked to confirm: a viewer is told no, not asked if they are sure."""
    scope.require_write("remove routers")


def remove_router(session: Session, scope: Scope, router: Router) -> None:
    check_may_remove(scope)
    audit.record(
        session, scope, "router.remove", tenant_id=router.tenant_id, router_id=router.id, subject=router.name
    )
    session.delete(router)


@dataclass
class ConnectionTest:
    ok: bool
    identity: str | None = None
    version: str | None = None
    rtt_ms: float | None = None
    error: str | None = None


def probe(router: Router, settings: Settings, password: str | None = None) -> ConnectionTest:
    """Connect, log in and read identity and version; never raises for router trouble."""
    target = router_target(router, SecretBox(settings.key_file), password)
    try:
        with RouterClient(target) as client:
            identity, version, rtt = client.identity()
    except RouterError as exc:
        return ConnectionTest(ok=False, error=str(exc))
    return ConnectionTest(ok=True, identity=identity, version=version, rtt_ms=round(rtt * 1000, 1))


def record_test(router: Router, test: ConnectionTest) -> None:
    router.last_status = CheckStatus.OK if test.ok else CheckStatus.ERROR
    router.last_error = test.error
    router.last_checked_at = utcnow()
    if test.ok:
        router.identity, router.version = test.identity, test.version


def save_test(session: Session, scope: Scope, router_id: int, test: ConnectionTest) -> None:
    """Record a connection test on the router (if it is still there) and in the audit."""
    router = session.get(Router, router_id)
    if router is None:
        return
    record_test(router, test)
    outcome = audit.OK if test.ok else audit.FAILED
    audit.record(
        session,
        scope,
        "router.test",
        outcome,
        tenant_id=router.tenant_id,
        router_id=router.id,
        subject=router.name,
        detail=test.error,
    )
