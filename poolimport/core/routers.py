"""Tenants and routers: add, list, remove, test. Shared by the CLI and the TUI."""

from __future__ import annotations

import codecs
import ipaddress
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from poolimport.core import audit
from poolimport.core.config import Settings
from poolimport.core.importer import router_target
from poolimport.core.models import Router, Tenant, utcnow
from poolimport.core.routeros import RouterClient, RouterError
from poolimport.core.secrets import SecretBox
from poolimport.core.tenancy import AccessDenied, Scope, find_tenant
from poolimport.core.text import one_line

API_PORT, API_SSL_PORT = 8728, 8729
# Limits on what the operator types: generous for real use, small enough to show in a table.
MAX_NAME = 100  # tenant, router and operator names
MAX_USERNAME = 100
MAX_PASSWORD = 256
MAX_PATH = 1000
MAX_HOST = 253  # the longest DNS name
# A DNS label (RFC 1123): letters, digits and hyphens, not starting or ending with a hyphen.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class InvalidInput(ValueError):
    """A value the operator typed can't be used; the message says which and why."""


def check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidInput(f"{what} is too long: {len(value)} characters, at most {limit}")


def check_name(what: str, value: str) -> None:
    """A name shown in lists and messages: not empty, not too long, no control characters."""
    if not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    check_length(what, value, MAX_NAME)
    if one_line(value) != value:
        raise InvalidInput(f"{what} must not contain control characters")


def check_host(host: str) -> None:
    """An IP address or a host name; anything else (a network, a URL, spaces) is refused."""
    if not host:
        raise InvalidInput("host must not be empty")
    check_length("host", host, MAX_HOST)
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    # An all-numeric last label is a mistyped IPv4 address (999.1.1.1), never a host name.
    if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise InvalidInput(f"host must be an IP address or a host name, got {host!r}")


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
        check_name("router name", self.name)
        check_host(self.host)
        if not self.username:
            raise InvalidInput("username must not be empty")
        check_length("username", self.username, MAX_USERNAME)
        if self.ca_file is not None:
            check_length("CA file path", self.ca_file, MAX_PATH)
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
    """Add a router, or update `router` (password unchanged when None)."""
    scope.require_write("change routers")
    fields.validate()
    if password:
        check_length("password", password, MAX_PASSWORD)
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
