"""Who is asking and which tenants' data they may see: every tenant query goes through a Scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from poolimport.core.access.identity import Identity
from poolimport.core.errors import Refusal
from poolimport.core.models import ImportJob, Operator, OperatorKey, Router, Tenant, parse_id

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


class AccessDenied(Refusal):
    """The operator may not see or change this."""


class NotRegistered(AccessDenied):
    """Not in the operators table, or no longer holding the SSH key they came in with: `name`, whom an
    administrator registers, or None where the message says what to do (no operators at all, a key gone)."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class NotFound(Refusal):
    """No such router, tenant or job within the operator's scope."""


@dataclass(frozen=True)
class Scope:
    operator: str
    tenant_ids: frozenset[int] | None  # None: every tenant
    role: str = "admin"
    # Who really asked, where an administrator acts as `operator`; recorded in the audit.
    actor: str | None = None
    origin: str = "local"  # or the SSH client's address
    via: str = ""  # how the asker came (Identity.way), or the system that asks: recorded with each job

    @property
    def can_write(self) -> bool:
        return self.role != "viewer"

    def require_write(self, action: str) -> None:
        if not self.can_write:
            raise AccessDenied(f"{self.operator} is a viewer and may not {action}")

    def allows_tenant(self, tenant_id: int) -> bool:
        return self.tenant_ids is None or tenant_id in self.tenant_ids

    def restrict(self, stmt: S, tenant_column: Any) -> S:
        if self.tenant_ids is None:
            return stmt
        return stmt.where(tenant_column.in_(self.tenant_ids))

    def routers(self) -> Select[Router]:
        return self.restrict(select(Router), Router.tenant_id)

    def jobs(self) -> Select[ImportJob]:
        return self.restrict(select(ImportJob), ImportJob.tenant_id)

    def tenants(self) -> Select[Tenant]:
        return self.restrict(select(Tenant), Tenant.id)


def resolve_scope(session: Session, identity: Identity) -> Scope:
    """The scope of whoever asks: a registered operator, or an administrator acting as one. Resolved again
    on every request and poll, so that removing an operator, or the key a session came in with, ends it."""
    asker = _registered(session, identity.asker)
    if identity.key is not None:
        _require_key(session, asker, identity.key)
    if identity.acting_as is None:
        return _scope_of(asker, identity, actor=None)
    if not is_administrator(asker):
        raise AccessDenied(
            f"{asker.name} may not act as {identity.acting_as}: only an administrator may act as another"
            " operator (POOLIMPORT_OPERATOR)"
        )
    return _scope_of(_registered(session, identity.acting_as), identity, actor=asker.name)


def refused_scope(identity: Identity) -> Scope:
    """Who asked, for the record of a refusal of someone not let in: no tenant, no writes."""
    actor = identity.asker if identity.acting_as else None
    return Scope(identity.operator, frozenset(), role="viewer", actor=actor, origin=identity.origin)


def is_administrator(operator: Operator) -> bool:
    """An administrator of every tenant: the only kind who may manage operators or act as one."""
    return operator.role == "admin" and operator.tenant_id is None


def _registered(session: Session, name: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.name == name))
    if operator is not None:
        return operator
    if session.scalar(select(Operator.id).limit(1)) is None:
        # `init` registers the account that runs it; a database made some other way lets nobody in.
        raise NotRegistered(
            "no operators are registered: run `poolimport init` as the administrator's account"
        )
    raise NotRegistered(f"operator {name!r} is not registered", name)


def _require_key(session: Session, operator: Operator, fingerprint: str) -> None:
    """The SSH key a session came in with must still be this operator's (fingerprints are unique: indexed)."""
    held = session.scalar(
        select(OperatorKey.operator_id).where(
            OperatorKey.fingerprint == fingerprint, OperatorKey.operator_id == operator.id
        )
    )
    if held is None:
        raise NotRegistered("this SSH key was removed: reconnect with a key that is registered")


def _scope_of(operator: Operator, identity: Identity, actor: str | None) -> Scope:
    tenant_ids = None if operator.tenant_id is None else frozenset({operator.tenant_id})
    return Scope(
        operator.name, tenant_ids, role=operator.role, actor=actor, origin=identity.origin, via=identity.way
    )


def find_tenant(session: Session, scope: Scope, name: str) -> Tenant:
    tenant = session.scalar(scope.tenants().where(Tenant.name == name))
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}")
    return tenant


def find_router(session: Session, scope: Scope, ref: str, tenant: str | None = None) -> Router:
    """A router by name (preferred, since names may look like numbers) or by id."""
    stmt = scope.routers().where(Router.name == ref)
    if tenant is not None:
        stmt = stmt.where(Router.tenant_id == find_tenant(session, scope, tenant).id)
    matches = list(session.scalars(stmt))
    if len(matches) > 1:
        names = ", ".join(sorted(r.tenant.name for r in matches))
        raise NotFound(f"router {ref!r} exists in tenants {names}: pass --tenant")
    if matches:
        return matches[0]
    router_id = parse_id(ref)
    if router_id is not None:
        by_id = session.scalar(scope.routers().where(Router.id == router_id))
        if by_id is not None and (tenant is None or by_id.tenant.name == tenant):
            return by_id
    raise NotFound(f"no router {ref!r}" + (f" in tenant {tenant!r}" if tenant else ""))
