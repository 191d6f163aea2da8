"""Who is asking and which tenants' data they may see: every tenant query goes through a Scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from poolimport.core.models import MAX_ID, ImportJob, Operator, Router, Tenant

ROLES = ("admin", "operator", "viewer")

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


class AccessDenied(Exception):
    """The operator may not see or change this."""


class NotFound(Exception):
    """No such router, tenant or job within the operator's scope."""


@dataclass(frozen=True)
class Scope:
    operator: str
    tenant_ids: frozenset[int] | None  # None: every tenant
    role: str = "admin"
    # Who really asked, where an administrator acts as `operator`; recorded in the audit.
    actor: str | None = None
    origin: str = "local"  # or the SSH client's address

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


def resolve_scope(session: Session, operator_name: str) -> Scope:
    """An install with no operators registered is single-user: its user administers everything."""
    operator = session.scalar(select(Operator).where(Operator.name == operator_name))
    if operator is None:
        if session.scalar(select(Operator.id).limit(1)) is None:
            return Scope(operator=operator_name, tenant_ids=None, role="admin")
        raise AccessDenied(f"operator {operator_name!r} is not registered")
    tenant_ids = None if operator.tenant_id is None else frozenset({operator.tenant_id})
    return Scope(operator=operator.name, tenant_ids=tenant_ids, role=operator.role)


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
    if ref.isdigit() and int(ref) <= MAX_ID:
        by_id = session.scalar(scope.routers().where(Router.id == int(ref)))
        if by_id is not None and (tenant is None or by_id.tenant.name == tenant):
            return by_id
    raise NotFound(f"no router {ref!r}" + (f" in tenant {tenant!r}" if tenant else ""))


def add_operator(session: Session, scope: Scope, name: str, tenant: str | None, role: str) -> Operator:
    """Register an operator; with none registered, an install is single-user and its user is the admin."""
    if scope.role != "admin" or scope.tenant_ids is not None:
        raise AccessDenied("only an administrator may add operators")
    if role not in ROLES:
        raise AccessDenied(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if session.scalar(select(Operator).where(Operator.name == name)) is not None:
        raise AccessDenied(f"operator {name!r} already exists")
    tenant_id = find_tenant(session, scope, tenant).id if tenant else None
    if session.scalar(select(Operator.id).limit(1)) is None and name != scope.operator:
        # The first registration ends single-user mode: keep the person doing it an administrator.
        session.add(Operator(name=scope.operator, tenant_id=None, role="admin"))
    operator = Operator(name=name, tenant_id=tenant_id, role=role)
    session.add(operator)
    session.flush()
    return operator
