"""Tenants and routers: add, list, remove, test. Shared by the CLI and the TUI."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from poolimport.core.config import Settings
from poolimport.core.importer import router_target
from poolimport.core.models import Router, Tenant, utcnow
from poolimport.core.routeros import RouterClient, RouterError
from poolimport.core.secrets import SecretBox
from poolimport.core.tenancy import AccessDenied, Scope, find_tenant

API_PORT, API_SSL_PORT = 8728, 8729


class InvalidInput(ValueError):
    """A value the operator typed can't be used; the message says which and why."""


@dataclass
class RouterFields:
    name: str
    host: str
    username: str
    port: int | None = None
    tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    encoding: str = "utf-8"
    timeout: float = 10.0

    def validate(self) -> None:
        if not self.name.strip():
            raise InvalidInput("router name must not be empty")
        if not self.host.strip():
            raise InvalidInput("host must not be empty")
        if not self.username:
            raise InvalidInput("username must not be empty")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise InvalidInput(f"port must be 1-65535, got {self.port}")
        if not 0 < self.timeout <= 3600:
            raise InvalidInput(f"timeout must be between 0 and 3600 seconds, got {self.timeout:g}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise InvalidInput(f"unknown encoding {self.encoding!r}") from None


def add_tenant(session: Session, scope: Scope, name: str) -> Tenant:
    if scope.tenant_ids is not None or scope.role != "admin":
        raise AccessDenied("only an administrator may add tenants")
    if not name.strip():
        raise InvalidInput("tenant name must not be empty")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise InvalidInput(f"tenant {name!r} already exists")
    tenant = Tenant(name=name)
    session.add(tenant)
    session.flush()
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
    """Add a router, or update `router` (password unchanged when None)."""
    scope.require_write("change routers")
    fields.validate()
    tenant = find_tenant(session, scope, tenant_name)
    if router is None:
        if not password:
            raise InvalidInput("a password is required")
        router = Router(tenant_id=tenant.id)
        session.add(router)
    router.tenant_id = tenant.id
    router.name, router.host, router.username = fields.name, fields.host, fields.username
    router.port = fields.port or (API_SSL_PORT if fields.tls else API_PORT)
    router.tls, router.tls_verify, router.ca_file = fields.tls, fields.tls_verify, fields.ca_file
    router.encoding, router.timeout = fields.encoding, fields.timeout
    if password:
        router.password_encrypted = SecretBox(settings.key_file).encrypt(password)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise InvalidInput(f"tenant {tenant_name!r} already has a router named {fields.name!r}") from None
    return router


def remove_router(session: Session, scope: Scope, router: Router) -> None:
    scope.require_write("remove routers")
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
    router.last_status = "ok" if test.ok else "error"
    router.last_error = test.error
    router.last_checked_at = utcnow()
    if test.ok:
        router.identity, router.version = test.identity, test.version
