"""What changed since a long-running view last read everything: a few marks it compares, so that an idle
console reads three indexed values a poll instead of every job and router in sight.

Everything the jobs and routers panes show changes in one of these ways: a job is queued (the newest job
id moves: new imports, retries, scheduled runs), a live job moves or ends (its progress is written on its
row; ending takes it out of the live set), or someone changes something (every change is audited: routers
added, edited, tested or removed, tenants, operators, schedules, dismissals). The newest ids are read
without the operator's scope: they are a hint to read again, which the scope then restricts, and are never
shown.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from poolimport.core.access.tenancy import Scope
from poolimport.core.models import AuditEvent, ImportJob
from poolimport.core.statuses import LIVE_JOB_STATUSES


class ChangeMarks(NamedTuple):
    newest_job: int
    newest_audit: int
    live_jobs: tuple[int, ...]  # the queued and running jobs in the scope, by id: equal marks mean that
    # nothing but these jobs' progress can have changed


def change_marks(session: Session, scope: Scope) -> ChangeMarks:
    newest_job = session.scalar(select(func.max(ImportJob.id))) or 0
    newest_audit = session.scalar(select(func.max(AuditEvent.id))) or 0
    live = scope.restrict(
        select(ImportJob.id).where(ImportJob.status.in_(LIVE_JOB_STATUSES)), ImportJob.tenant_id
    )
    return ChangeMarks(newest_job, newest_audit, tuple(session.scalars(live.order_by(ImportJob.id))))
