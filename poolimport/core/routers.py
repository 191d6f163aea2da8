"""Tenants and routers: add, list, remove, test. Shared by the CLI and the TUI."""

from __future__ import annotations

import codecs
import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from poolimport.core import audit
from poolimport.core.access import record_refusal_once
from poolimport.core.config import Settings
from poolimport.core.errors import InvalidInput, Refusal
from poolimport.core.importer import router_target
from poolimport.core.models import Router, Tenant, utcnow
from poolimport.core.password_keys import PASSWORD_NEEDED
from poolimport.core.routeros import RouterClient, RouterError
from poolimport.core.secrets import SecretBox
from poolimport.core.statuses import CheckStatus
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

    @property
    def effective_port(self) -> int:
        return self.port or (API_SSL_PORT if self.tls else API_PORT)


# Where a stored password goes: changing any of these sends it somewhere it was not entered for.
ENDPOINT_FIELDS = {
    "host": "host",
    "effective_port": "port",
    "username": "username",
    "tls": "TLS",
    "tls_verify": "certificate check",
    "ca_file": "CA file",
}


def endpoint_changes(before: RouterFields, after: RouterFields) -> list[str]:
    """What differs of where the password goes (host, port, username, TLS settings), by name."""
    return [name for attr, name in ENDPOINT_FIELDS.items() if getattr(before, attr) != getattr(after, attr)]


def check_password_stays(stored: RouterFields, fields: RouterFields, password: str | None) -> None:
    """A stored password goes only to the endpoint it was entered for: moving the router needs it again."""
    changed = endpoint_changes(stored, fields)
    if changed and not password:
        raise InvalidInput(
            f"changing the {', '.join(changed)} of router {stored.name!r} needs its password again:"
            " a stored password goes only to the endpoint it was entered for"
        )


@dataclass
class Attempt:
    action: str
    scope: Scope | None = None
    about: dict[str, Any] = field(default_factory=dict)

    def concerns(self, router: Router) -> None:
        self.about = {"tenant_id": router.tenant_id, "router_id": router.id, "subject": router.name}


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


def remove_router(session: Session, scope: Scope, router: Router) -> None:
    scope.require_write("remove routers")
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


def apply_fields(router: Router, fields: RouterFields) -> Router:
    """The inverse of `fields_of`: the router (stored or not) takes the fields' values."""
    router.name, router.host, router.username = fields.name, fields.host, fields.username
    router.port = fields.effective_port
    router.tls, router.tls_verify, router.ca_file = fields.tls, fields.tls_verify, fields.ca_file
    router.encoding, router.timeout = fields.encoding, fields.timeout
    return router


def fields_of(router: Router) -> RouterFields:
    return RouterFields(
        name=router.name,
        host=router.host,
        username=router.username,
        port=router.port,
        tls=router.tls,
        tls_verify=router.tls_verify,
        ca_file=router.ca_file,
        encoding=router.encoding,
        timeout=router.timeout,
    )
