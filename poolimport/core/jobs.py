"""Job records: enqueue, claim, finish, cancel, retry, flush. The database is the source of truth for jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from poolimport.core.models import LIVE_JOB_STATUSES, ImportJob, JobEvent, JobSource, Router, utcnow
from poolimport.core.tenancy import NotFound, Scope

STALL_FACTOR = 3
RETRYABLE = ("failed", "partial", "stalled", "cancelled")
# Sends job_id to the queue and returns the queue's task id. Injected: core never imports the queue.
Sender = Callable[[int], str]


class JobRefused(Exception):
    """The request can't be honoured (router busy, job not retryable, …); the message says why."""


def stall_cutoff(now: datetime, heartbeat_interval: float) -> datetime:
    return now - timedelta(seconds=STALL_FACTOR * heartbeat_interval)


def effective_status(job: ImportJob, heartbeat_interval: float, now: datetime | None = None) -> str:
    """`running` with a heartbeat older than three intervals reads as `stalled`, whoever reads it."""
    if job.status != "running":
        return job.status
    beat = job.heartbeat_at or job.started_at or job.queued_at
    return "stalled" if beat < stall_cutoff(now or utcnow(), heartbeat_interval) else "running"


def add_event(
    conn: Connection | Session, job_id: int, level: str, message: str, data: dict[str, Any] | None = None
) -> None:
    conn.execute(
        insert(JobEvent).values(
            job_id=job_id,
            level=level,
            message=message,
            data_json=json.dumps(data) if data else None,
            created_at=utcnow(),
        )
    )


def live_job(session: Session, router_id: int) -> ImportJob | None:
    return session.scalar(
        select(ImportJob).where(ImportJob.router_id == router_id, ImportJob.status.in_(LIVE_JOB_STATUSES))
    )


def _busy_message(router: Router, job: ImportJob, heartbeat_interval: float) -> str:
    status = effective_status(job, heartbeat_interval)
    hint = " (retry it or run `poolimport flush --stuck`)" if status == "stalled" else ""
    return f"router {router.name} already has job #{job.id} ({status}){hint}"


def create_job(
    session: Session,
    scope: Scope,
    router: Router,
    *,
    time_limit: float,
    heartbeat_interval: float,
    dry_run: bool = False,
    retry_of: ImportJob | None = None,
    source: JobSource = JobSource.QUEUE,
) -> ImportJob:
    """Insert a queued job; the partial unique index makes a second live job per router impossible."""
    scope.require_write("start imports")
    held = live_job(session, router.id)
    if held is not None:
        raise JobRefused(_busy_message(router, held, heartbeat_interval))
    job = ImportJob(
        router_id=router.id,
        tenant_id=router.tenant_id,
        requested_by=scope.operator,
        status="queued",
        attempt=retry_of.attempt + 1 if retry_of else 1,
        retry_of_id=retry_of.id if retry_of else None,
        dry_run=dry_run,
        source=source,
        time_limit=time_limit,
        queued_at=utcnow(),
    )
    session.add(job)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        held = live_job(session, router.id)
        raise JobRefused(
            _busy_message(router, held, heartbeat_interval) if held else "router is busy"
        ) from None
    note = f" (attempt {job.attempt}, retry of #{retry_of.id})" if retry_of else ""
    add_event(session, job.id, "info", f"Job queued by {scope.operator}{note}", {"router_id": router.id})
    return job


def dispatch(engine: Engine, job_id: int, send: Sender) -> None:
    """Hand a committed job to the queue. When the queue is unreachable the job is deleted again (with its
    events): nothing was imported, nothing is left to retry, and its router is free."""
    try:
        task_id = send(job_id)
    except Exception as exc:
        message = f"queue unreachable: {exc.__class__.__name__}: {exc}"
        with engine.begin() as conn:
            job = select(ImportJob.router_id).where(ImportJob.id == job_id).scalar_subquery()
            router = conn.scalar(select(Router.name).where(Router.id == job))
            # Only while still queued: a job an operator already cancelled stays on record.
            conn.execute(delete(ImportJob).where(ImportJob.id == job_id, ImportJob.status == "queued"))
        raise JobRefused(f"router {router} not imported, no job created: {message}") from None
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(task_id=task_id))


def claim(conn: Connection, job_id: int, worker: str) -> bool:
    """queued -> running, atomically; False when it was cancelled or another consumer got there first."""
    now = utcnow()
    result = conn.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now, worker=worker)
    )
    return result.rowcount == 1


def finish(
    conn: Connection,
    job_id: int,
    status: str,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    expect: str = "running",
) -> bool:
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    if result is not None:
        values["result_json"] = json.dumps(result)
    done = conn.execute(
        update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == expect).values(**values)
    )
    return done.rowcount == 1


def get_job(session: Session, scope: Scope, job_id: int) -> ImportJob:
    job = session.scalar(scope.jobs().where(ImportJob.id == job_id))
    if job is None:
        raise NotFound(f"no job #{job_id}")
    return job


def cancel(
    session: Session, scope: Scope, job: ImportJob, revoke: Callable[[str], None] | None = None
) -> str:
    """A queued job is cancelled at once; a running one is asked to stop at its next batch."""
    scope.require_write("cancel jobs")
    if job.status == "queued":
        finish(
            session.connection(), job.id, "cancelled", error="cancelled before it started", expect="queued"
        )
        add_event(session, job.id, "warning", f"Job cancelled by {scope.operator} before it started")
        if revoke and job.task_id:
            revoke(job.task_id)
        return "cancelled"
    if job.status == "running":
        session.execute(update(ImportJob).where(ImportJob.id == job.id).values(cancel_requested=True))
        add_event(session, job.id, "warning", f"Cancel requested by {scope.operator}")
        return "cancelling"
    raise JobRefused(f"job #{job.id} is {job.status}: nothing to cancel")


def retire_stalled(session: Session, job: ImportJob, reason: str) -> None:
    message = f"stalled: no heartbeat since {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC; {reason}"
    finish(session.connection(), job.id, "failed", error=message)
    add_event(session, job.id, "error", "IP pools import job failed", {"error": message})


def retry(
    session: Session, scope: Scope, job: ImportJob, *, time_limit: float, heartbeat_interval: float
) -> ImportJob:
    """A new attempt linked to `job`; a stalled job is first marked failed so its router is free."""
    status = effective_status(job, heartbeat_interval)
    if status not in RETRYABLE:
        raise JobRefused(
            f"job #{job.id} is {status}: only failed, partial, stalled or cancelled jobs can be retried"
        )
    scope.require_write("retry jobs")
    router = session.get(Router, job.router_id)
    assert router is not None
    if status == "stalled":
        retire_stalled(session, job, "retried")
        session.expire(job)
    return create_job(
        session, scope, router, time_limit=time_limit, heartbeat_interval=heartbeat_interval, retry_of=job
    )


def stalled_jobs(session: Session, scope: Scope, heartbeat_interval: float) -> list[ImportJob]:
    cutoff = stall_cutoff(utcnow(), heartbeat_interval)
    stmt = scope.jobs().where(ImportJob.status == "running", ImportJob.heartbeat_at < cutoff)
    return list(session.scalars(stmt))


def flush_stuck(session: Session, scope: Scope, heartbeat_interval: float) -> list[int]:
    scope.require_write("flush jobs")
    jobs = stalled_jobs(session, scope, heartbeat_interval)
    for job in jobs:
        retire_stalled(session, job, f"flushed by {scope.operator}")
    return [job.id for job in jobs]
