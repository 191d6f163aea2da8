"""The append-only record of every change and refusal: who (and as whom), from where, what, the outcome.

A change is recorded in the transaction that makes it, so the two stand or fall together. A refusal is
recorded in a transaction of its own, after the request's has been rolled back (on SQLite a second writer
would wait for the first): the request leaves nothing, its refusal stays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.orm import Session

from poolimport.core.access.tenancy import Scope
from poolimport.core.models import AuditEvent, ImportJob, Router, utcnow

OK, REFUSED, FAILED = "ok", "refused", "failed"


class AuditRow(TypedDict):
    id: int
    at: str
    actor: str
    acting_as: str | None
    origin: str
    action: str
    outcome: str
    tenant_id: int | None
    router_id: int | None
    job_id: int | None
    subject: str | None
    detail: str | None


def _values(scope: Scope, action: str, outcome: str, **about: Any) -> dict[str, Any]:
    acting_as = scope.operator if scope.actor and scope.actor != scope.operator else None
    return {
        "at": utcnow(),
        "actor": scope.actor or scope.operator,
        "acting_as": acting_as,
        "origin": scope.origin,
        "action": action,
        "outcome": outcome,
        **about,
    }


def about_router(router: Router) -> dict[str, Any]:
    """The columns that tie a row to a router: its tenant's operators read it, `audit --router` finds it."""
    return {"tenant_id": router.tenant_id, "router_id": router.id, "subject": router.name}


def about_job(job: ImportJob) -> dict[str, Any]:
    """A job's row: its tenant (the job's, which stays if the router moves), router and id."""
    return {
        "tenant_id": job.tenant_id,
        "router_id": job.router_id,
        "job_id": job.id,
        "subject": job.router.name,
    }


def record(
    conn: Connection | Session,
    scope: Scope,
    action: str,
    outcome: str = OK,
    *,
    tenant_id: int | None = None,
    router_id: int | None = None,
    job_id: int | None = None,
    subject: str | None = None,
    detail: str | None = None,
) -> None:
    """Record within the caller's transaction (a change: it is recorded if, and only if, it commits)."""
    about = {"tenant_id": tenant_id, "router_id": router_id, "job_id": job_id, "subject": subject}
    conn.execute(insert(AuditEvent).values(**_values(scope, action, outcome, detail=detail, **about)))


def record_refusal(engine: Engine, scope: Scope, action: str, reason: str, **about: Any) -> None:
    """Record a refusal in its own transaction; call it once the request's transaction has ended."""
    with engine.begin() as conn:
        record(conn, scope, action, REFUSED, detail=reason, **about)


def audit_rows(
    session: Session,
    scope: Scope,
    *,
    since: datetime | None = None,
    operator: str | None = None,
    router_id: int | None = None,
    limit: int | None = 500,
) -> list[AuditRow]:
    """Newest first, within the asker's tenants (an administrator sees every row, tenant-less ones too)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if scope.tenant_ids is not None:
        stmt = stmt.where(AuditEvent.tenant_id.in_(scope.tenant_ids))
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if operator is not None:
        stmt = stmt.where((AuditEvent.actor == operator) | (AuditEvent.acting_as == operator))
    if router_id is not None:
        stmt = stmt.where(AuditEvent.router_id == router_id)
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(timespec="seconds"),
            "actor": row.actor,
            "acting_as": row.acting_as,
            "origin": row.origin,
            "action": row.action,
            "outcome": row.outcome,
            "tenant_id": row.tenant_id,
            "router_id": row.router_id,
            "job_id": row.job_id,
            "subject": row.subject,
            "detail": row.detail,
        }
        for row in session.scalars(stmt)
    ]
