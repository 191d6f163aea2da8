"""Scheduled sync: routers re-imported every N seconds by the consumers.

Each consumer ticks about once a second (Huey's periodic tasks tick once a minute: too coarse for a 10 s
interval). Only the holder of the `scheduler` lease enqueues, so however many consumers run, a due router
gets one job. A router with a live job (any source) is skipped until the next interval; a manual import
never moves a schedule. Scheduled imports that keep failing back off: each failure in a row doubles the
wait, up to MAX_BACKOFF, and the job's log says so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select, update
from sqlalchemy.orm import Session

from poolimport.core.access import audit
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import Settings
from poolimport.core.db import get_read_engine, session_scope
from poolimport.core.durations import describe_interval
from poolimport.core.errors import InvalidInput
from poolimport.core.events import Event, EventKind, event
from poolimport.core.jobs.lifecycle import JobRefused, Sender, create_job, dispatch, live_job
from poolimport.core.models import ImportJob, JobSource, Lease, Router, Schedule, Tenant, utcnow
from poolimport.core.statuses import JobStatus

MIN_INTERVAL = 10.0
MAX_BACKOFF = 15 * 60.0
# A later run lands up to this share of the interval late: routers set together drift apart.
JITTER = 0.1
# A router whose last success is older than this many intervals is flagged.
OVERDUE_INTERVALS = 3
LEASE = "scheduler"
# The system enqueuing scheduled jobs: every tenant, recorded as the requester of what it enqueues.
SCHEDULER = Scope(operator="scheduler", tenant_ids=None, role="admin", via="schedule")
# When the queue can't take a due job: look again this soon rather than wait a whole interval.
RETRY_SOON = 5.0


def _first_run(now: datetime, interval: float) -> datetime:
    """Spread over the first interval: a thousand routers scheduled at once don't start together."""
    return now + timedelta(seconds=random.uniform(0, interval))


def _next_run(now: datetime, interval: float) -> datetime:
    return now + timedelta(seconds=interval * (1 + random.uniform(0, JITTER)))


def backoff_seconds(interval: float, failures: int) -> float:
    """The wait after `failures` scheduled imports failed in a row: doubling, capped (never below the
    interval itself)."""
    if failures <= 0:
        return interval
    return min(interval * 2.0**failures, max(MAX_BACKOFF, interval))


def check_interval(seconds: float) -> float:
    if seconds < MIN_INTERVAL:
        raise InvalidInput(f"the shortest interval is {describe_interval(MIN_INTERVAL)}")
    return seconds


def set_schedule(session: Session, scope: Scope, routers: list[Router], interval: float) -> None:
    scope.require_write("schedule imports")
    check_interval(interval)
    now = utcnow()
    for router in routers:
        schedule = session.get(Schedule, router.id)
        if schedule is not None and schedule.interval == interval:
            continue  # as it stands: its back-off, next run and overdue flag stay (nor audited again)
        schedule = schedule or Schedule(router_id=router.id)
        schedule.interval, schedule.failures = interval, 0
        schedule.next_run_at = _first_run(now, interval)
        schedule.set_by, schedule.set_at = scope.operator, now
        session.add(schedule)
        detail = f"every {describe_interval(interval)}"
        audit.record(
            session,
            scope,
            "schedule.set",
            tenant_id=router.tenant_id,
            router_id=router.id,
            subject=router.name,
            detail=detail,
        )


def schedule_off(session: Session, scope: Scope, routers: list[Router]) -> int:
    scope.require_write("schedule imports")
    removed = 0
    for router in routers:
        schedule = session.get(Schedule, router.id)
        if schedule is None:
            continue
        session.delete(schedule)
        removed += 1
        audit.record(
            session,
            scope,
            "schedule.off",
            tenant_id=router.tenant_id,
            router_id=router.id,
            subject=router.name,
        )
    return removed


@dataclass(frozen=True)
class ScheduleRow:
    router_id: int
    router: str
    tenant_id: int
    tenant: str
    interval: float
    next_run_at: datetime
    failures: int
    last_success_at: datetime | None
    set_at: datetime

    def age(self, now: datetime) -> float | None:
        """Seconds since the router's data was last imported successfully."""
        return (now - self.last_success_at).total_seconds() if self.last_success_at else None

    def overdue(self, now: datetime) -> bool:
        """No success within three intervals, counted from the schedule's start when that is later: a
        schedule just set has had no chance yet, whatever the age of the data it found."""
        since = max(self.set_at, self.last_success_at or self.set_at)
        return (now - since).total_seconds() > OVERDUE_INTERVALS * self.interval

    def as_dict(self, now: datetime) -> dict[str, Any]:
        age = self.age(now)
        return {
            "router": self.router,
            "router_id": self.router_id,
            "tenant": self.tenant,
            "interval": self.interval,
            "every": describe_interval(self.interval),
            "next_run_at": self.next_run_at.isoformat(timespec="seconds"),
            "next_in": round((self.next_run_at - now).total_seconds(), 1),
            "last_success_at": self.last_success_at.isoformat(timespec="seconds")
            if self.last_success_at
            else None,
            "age": round(age, 1) if age is not None else None,
            "overdue": self.overdue(now),
            "failures": self.failures,
            "backing_off": self.failures > 0,
        }


def _last_success() -> Select[int, datetime | None]:
    """Each router's last successful import, of any source: the one definition of the data's age. A
    partial import stored what it read; a dry run stored nothing."""
    succeeded = ImportJob.status.in_((JobStatus.SUCCEEDED, JobStatus.PARTIAL)) & ~ImportJob.dry_run
    return (
        select(ImportJob.router_id, func.max(ImportJob.finished_at).label("at"))
        .where(succeeded)
        .group_by(ImportJob.router_id)
    )


def last_successes(session: Session, scope: Scope, router_ids: list[int]) -> dict[int, datetime]:
    """When each of `router_ids` (in the scope) last imported successfully; a router that never did is
    left out."""
    if not router_ids:
        return {}
    stmt = scope.restrict(_last_success(), ImportJob.tenant_id).where(ImportJob.router_id.in_(router_ids))
    return {router_id: at for router_id, at in session.execute(stmt) if at is not None}


def schedule_rows(session: Session, scope: Scope, router_ids: list[int] | None = None) -> list[ScheduleRow]:
    """The schedules of the routers in the scope (of `router_ids` if given), with each router's last
    successful import of any source."""
    last_success = _last_success().subquery()
    stmt = (
        scope.restrict(
            select(Schedule, Router.name, Router.tenant_id, Tenant.name, last_success.c.at), Router.tenant_id
        )
        .join(Router, Router.id == Schedule.router_id)
        .join(Tenant, Tenant.id == Router.tenant_id)
        .outerjoin(last_success, last_success.c.router_id == Schedule.router_id)
        .order_by(Router.name)
    )
    if router_ids is not None:
        stmt = stmt.where(Schedule.router_id.in_(router_ids))
    return [
        ScheduleRow(s.router_id, name, tenant_id, tenant, s.interval, s.next_run_at, s.failures, at, s.set_at)
        for s, name, tenant_id, tenant, at in session.execute(stmt)
    ]


# -- the enqueuer (consumers) ----------------------------------------------------------------------------


def hold_lease(engine: Engine, holder: str, ttl: float, now: datetime | None = None) -> bool:
    """True while `holder` holds the scheduler lease: taken when free or expired, renewed by its holder
    once half its time is gone. A read first, so consumers that don't hold it don't take the write lock."""
    now = now or utcnow()
    with engine.connect() as conn:
        lease = conn.execute(select(Lease.holder, Lease.expires_at).where(Lease.name == LEASE)).one()
    mine = lease.holder == holder
    if mine and lease.expires_at - now > timedelta(seconds=ttl / 2):
        return True
    if not mine and lease.expires_at > now:
        return False
    with engine.begin() as conn:
        taken = conn.execute(
            update(Lease)
            .where(Lease.name == LEASE, (Lease.holder == holder) | (Lease.expires_at <= now))
            .values(holder=holder, expires_at=now + timedelta(seconds=ttl))
        )
    return taken.rowcount == 1


def enqueue_due(engine: Engine, settings: Settings, send: Sender, now: datetime | None = None) -> list[int]:
    """Create and send a job for each due router without a live job; returns the new jobs' ids."""
    now = now or utcnow()
    with session_scope(get_read_engine(settings)) as session:
        due = list(session.scalars(select(Schedule.router_id).where(Schedule.next_run_at <= now)))
    if not due:
        return []
    created: list[tuple[int, int]] = []
    with session_scope(engine) as session:
        for router_id in due:
            schedule = session.get(Schedule, router_id)
            if schedule is None or schedule.next_run_at > now:
                continue  # switched off or moved meanwhile
            schedule.next_run_at = _next_run(now, schedule.interval)
            if live_job(session, router_id) is not None:
                continue  # still busy: this run is skipped, the next comes an interval later
            try:
                job = create_job(
                    session,
                    SCHEDULER,
                    schedule.router,
                    time_limit=settings.job_time_limit,
                    heartbeat_interval=settings.heartbeat_interval,
                    source=JobSource.SCHEDULE,
                )
            except JobRefused:
                continue  # its password is needed again: `router list` says so; the schedule waits
            created.append((job.id, router_id))
    sent = []
    for job_id, router_id in created:
        try:
            dispatch(engine, job_id, send)
            sent.append(job_id)
        except JobRefused:  # the queue is away: the job is gone again, and the router is due again soon
            with session_scope(engine) as session:
                _retry_soon(session, router_id, now)
    return sent


def _retry_soon(session: Session, router_id: int, now: datetime) -> None:
    session.execute(
        update(Schedule)
        .where(Schedule.router_id == router_id)
        .values(next_run_at=now + timedelta(seconds=RETRY_SOON))
    )


def record_outcome(conn: Connection, router_id: int, status: str) -> Event | None:
    """After a scheduled job: a failure backs the schedule off and returns the event that says so for the
    job's log; a success resets it. A cancelled run changes nothing."""
    if status == JobStatus.CANCELLED:
        return None
    schedule = conn.execute(
        select(Schedule.interval, Schedule.failures, Schedule.next_run_at).where(
            Schedule.router_id == router_id
        )
    ).first()
    if schedule is None:
        return None
    if status in (JobStatus.SUCCEEDED, JobStatus.PARTIAL):
        conn.execute(update(Schedule).where(Schedule.router_id == router_id).values(failures=0))
        return None
    failures = schedule.failures + 1
    wait = backoff_seconds(schedule.interval, failures)
    next_run = max(schedule.next_run_at, utcnow() + timedelta(seconds=wait))
    conn.execute(
        update(Schedule)
        .where(Schedule.router_id == router_id)
        .values(failures=failures, next_run_at=next_run)
    )
    return event(
        EventKind.SCHEDULE_BACKING_OFF,
        {"failures": failures, "wait": wait},
        failures=failures,
        wait=describe_interval(round(wait)),
    )
