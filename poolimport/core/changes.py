"""What changed since a long-running view last read everything: a few marks it compares, so that an idle
console reads three indexed values a poll instead of every job and router in sight.

Everything the jobs and routers panes show changes in one of these ways: a job is queued (the newest job
id moves: new imports, retries, scheduled runs), a live job starts, stalls or ends (the live set holds
each live job's status as lists show it; ending takes it out), a live job moves on (its progress: the
screen reads the live jobs' rows each poll anyway), or someone changes something (every change is
audited: routers added, edited, tested or removed, tenants, operators, schedules, dismissals). The newest
ids are read without the operator's scope: they are a hint to read again, which the scope then
restricts, and are never shown.

On PostgreSQL an id is taken at insert and seen at commit, so a row committed after a higher id was seen
moves no mark: a screen reads everything again now and then (the main screen: every 30 s) to bound that.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from poolimport.core.access.tenancy import Scope
from poolimport.core.jobs.lifecycle import effective_status
from poolimport.core.models import AuditEvent, ImportJob, utcnow
from poolimport.core.statuses import LIVE_JOB_STATUSES


class ChangeMarks(NamedTuple):
    newest_job: int
    newest_audit: int
    live_jobs: tuple[tuple[int, str], ...]  # the queued and running jobs in the scope, by id, with their
    # status as lists show it (stalled or not): equal marks mean that nothing but their progress changed


def change_marks(session: Session, scope: Scope, heartbeat_interval: float) -> ChangeMarks:
    newest_job = session.scalar(select(func.max(ImportJob.id))) or 0
    newest_audit = session.scalar(select(func.max(AuditEvent.id))) or 0
    live = scope.jobs().where(ImportJob.status.in_(LIVE_JOB_STATUSES)).order_by(ImportJob.id)
    now = utcnow()
    statuses = tuple(
        (job.id, effective_status(job, heartbeat_interval, now)) for job in session.scalars(live)
    )
    return ChangeMarks(newest_job, newest_audit, statuses)
