"""Operators and their SSH keys: registered, listed and removed by an administrator, every change in the
audit. A key names its operator when they come in through the shared service account over SSH."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from poolimport.core.access import audit
from poolimport.core.access.identity import ROLES, Identity, os_account
from poolimport.core.access.ssh_keys import PublicKey
from poolimport.core.access.tenancy import AccessDenied, NotFound, Scope, find_tenant, is_administrator
from poolimport.core.errors import InvalidInput
from poolimport.core.models import Operator, OperatorKey, Tenant
from poolimport.core.routers.fields import check_name


def register_first_admin(session: Session, identity: Identity) -> Operator | None:
    """`init`: with nobody registered yet, the account running it becomes the administrator."""
    if session.scalar(select(Operator.id).limit(1)) is not None:
        return None
    operator = Operator(name=identity.asker, tenant_id=None, role="admin")
    session.add(operator)
    session.flush()
    scope = Scope(operator.name, None, role="admin", origin=identity.origin)
    audit.record(session, scope, "operator.add", subject=operator.name, detail="admin of every tenant (init)")
    return operator


def _require_admin(scope: Scope, what: str) -> None:
    if scope.role != "admin" or scope.tenant_ids is not None:
        raise AccessDenied(f"only an administrator may {what}")


def _operator(session: Session, scope: Scope, name: str) -> Operator:
    stmt = scope.restrict(select(Operator).where(Operator.name == name), Operator.tenant_id)
    operator = session.scalar(stmt)
    if operator is None:
        raise NotFound(f"no operator named {name!r}")
    return operator


def add_operator(
    session: Session, scope: Scope, name: str, tenant: str | None, role: str, every_tenant: bool = False
) -> Operator:
    """An operator or viewer of `tenant`, or of every tenant only when asked (`every_tenant`): a forgotten
    tenant must not open them all. An administrator is of every tenant."""
    _require_admin(scope, "add operators")
    check_name("operator name", name)
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if role == "admin" and tenant:
        raise InvalidInput("an administrator is of every tenant: leave out --tenant, or give another --role")
    if role != "admin" and not tenant and not every_tenant:
        raise InvalidInput(
            f"{'an' if role == 'operator' else 'a'} {role} belongs to a tenant: pass --tenant NAME"
            " (or --every-tenant)"
        )
    if session.scalar(select(Operator).where(Operator.name == name)) is not None:
        raise InvalidInput(f"operator {name!r} already exists")
    tenant_id = find_tenant(session, scope, tenant).id if tenant else None
    operator = Operator(name=name, tenant_id=tenant_id, role=role)
    session.add(operator)
    session.flush()
    where = f"tenant {tenant}" if tenant else "every tenant"
    audit.record(
        session, scope, "operator.add", tenant_id=tenant_id, subject=name, detail=f"{role} of {where}"
    )
    return operator


def remove_operator(session: Session, scope: Scope, name: str) -> int:
    """Remove an operator and their keys (jobs keep the name that requested them); the keys removed."""
    _require_admin(scope, "remove operators")
    operator = _operator(session, scope, name)
    if is_administrator(operator):
        admins = select(func.count()).where(Operator.role == "admin", Operator.tenant_id.is_(None))
        if session.scalar(admins.select_from(Operator)) == 1:
            raise AccessDenied(f"{name} is the last administrator: add another first")
    if name == os_account():
        # Locally that is the asker, over SSH the service account every session runs as: either way the
        # removal would lock out the account that could undo it.
        raise AccessDenied(f"{name} is the account running poolimport here: remove it from another account")
    of_operator = OperatorKey.operator_id == operator.id
    keys = session.scalar(select(func.count()).select_from(OperatorKey).where(of_operator)) or 0
    session.execute(delete(OperatorKey).where(of_operator))
    session.delete(operator)
    detail = f"with {keys} SSH key{'s' if keys != 1 else ''}"
    audit.record(session, scope, "operator.remove", tenant_id=operator.tenant_id, subject=name, detail=detail)
    return keys


def add_key(session: Session, scope: Scope, name: str, key: PublicKey) -> OperatorKey:
    _require_admin(scope, "add SSH keys")
    operator = _operator(session, scope, name)
    owner = session.scalar(
        select(Operator.name).join(OperatorKey).where(OperatorKey.fingerprint == key.fingerprint)
    )
    if owner is not None:
        raise InvalidInput(f"key {key.fingerprint} is already registered (operator {owner})")
    row = OperatorKey(
        operator_id=operator.id, fingerprint=key.fingerprint, public_key=key.text, comment=key.comment or None
    )
    session.add(row)
    session.flush()
    detail = f"{key.fingerprint} for {name}"
    audit.record(
        session, scope, "operator.key.add", tenant_id=operator.tenant_id, subject=name, detail=detail
    )
    return row


def remove_key(session: Session, scope: Scope, name: str, fingerprint: str) -> None:
    _require_admin(scope, "remove SSH keys")
    operator = _operator(session, scope, name)
    row = session.scalar(
        select(OperatorKey).where(
            OperatorKey.operator_id == operator.id, OperatorKey.fingerprint == fingerprint
        )
    )
    if row is None:
        raise NotFound(f"operator {name} has no key {fingerprint}")
    session.delete(row)
    detail = f"{fingerprint} for {name}"
    audit.record(
        session, scope, "operator.key.remove", tenant_id=operator.tenant_id, subject=name, detail=detail
    )


def operator_rows(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Operators of the asker's tenants (an administrator: everyone), with how many keys each has."""
    scope.require_write("list operators")
    keys = (
        select(OperatorKey.operator_id, func.count().label("key_count"))
        .group_by(OperatorKey.operator_id)
        .subquery()
    )
    stmt = (
        select(Operator, Tenant.name, keys.c.key_count)
        .outerjoin(Tenant, Tenant.id == Operator.tenant_id)
        .outerjoin(keys, keys.c.operator_id == Operator.id)
        .order_by(Operator.name)
    )
    return [
        {"name": op.name, "role": op.role, "tenant": tenant, "keys": count or 0}
        for op, tenant, count in session.execute(scope.restrict(stmt, Operator.tenant_id))
    ]


def key_rows(session: Session, scope: Scope, name: str | None = None) -> list[dict[str, Any]]:
    scope.require_write("list SSH keys")
    stmt = select(OperatorKey, Operator.name).join(Operator).order_by(Operator.name, OperatorKey.id)
    if name is not None:
        stmt = stmt.where(OperatorKey.operator_id == _operator(session, scope, name).id)
    return [
        {
            "operator": owner,
            "type": key.public_key.split(" ", 1)[0],
            "fingerprint": key.fingerprint,
            "comment": key.comment,
            "added": key.created_at.isoformat(timespec="seconds"),
        }
        for key, owner in session.execute(scope.restrict(stmt, Operator.tenant_id))
    ]


def authorized_keys(session: Session, scope: Scope) -> list[tuple[str, PublicKey]]:
    """Every stored key with its operator's name, for the service account's authorized_keys."""
    _require_admin(scope, "list the authorized keys")
    stmt = (
        select(Operator.name, OperatorKey.public_key)
        .join(OperatorKey)
        .order_by(Operator.name, OperatorKey.id)
    )
    return [(name, PublicKey(*text.split(" ", 1))) for name, text in session.execute(stmt)]


def key_owner(session: Session, fingerprint: str) -> Operator | None:
    return session.scalar(select(Operator).join(OperatorKey).where(OperatorKey.fingerprint == fingerprint))
